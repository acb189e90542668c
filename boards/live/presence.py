"""Presence, the WebSocket rate limit, socket slots and edit locks: small Redis structures that fail open.

Redis is an accelerator here, never the source of truth: every call has a short timeout, and an
error is logged and answered with the harmless default (nobody present, traffic allowed, a socket
admitted, the lock not enforced; the version check in services.update_task still guards edits). With REDIS_URL unset
(`make run`, one process) an in-process store stands in for Redis.
"""

import logging
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

PRESENCE_KEY = "presence:{project_id}"
RATELIMIT_KEY = "ratelimit:ws:{user_id}"
LOCK_KEY = "doc_lock:{task_id}"
USER_LOCKS_KEY = "doc_locks:{user_id}"
SOCKETS_KEY = "sockets:{user_id}"

# A client pings every HEARTBEAT seconds; an entry not refreshed for PRESENCE_TTL is gone.
HEARTBEAT = 20
PRESENCE_TTL = 50
# Messages one user may send per window over all their sockets. A board sends a heartbeat
# every 20 s and a lock renewal every 10 s: far below this.
RATE_LIMIT = 20
RATE_WINDOW = 1
# An edit lock lapses LOCK_TTL seconds after its last renewal, and LOCK_MAX_AGE seconds after it
# was taken whatever the renewals: an editor left open in a forgotten tab frees the card by itself.
LOCK_TTL = 30
LOCK_MAX_AGE = 600
# Locks one user holds at once; taking one more gives back their oldest (see lock_acquire).
LOCKS_PER_USER = 3
# Only these roles take edit locks (boards.models.Membership.Role values).
EDIT_ROLES = frozenset({"owner", "editor"})


class Unavailable(Exception):
    """Redis could not be reached; the caller falls back to its default."""


_client: redis.Redis | None = None
_client_url = None
_client_lock = threading.Lock()
_failing = False
# After a failure, Redis is left alone for BREAK seconds (per URL): a hung Redis then costs one
# timeout now and then, not one per call, and is tried again soon enough to resume by itself.
BREAK = 1.0
_down_until: dict[str, float] = {}


def client() -> redis.Redis:
    """The shared redis-py client for settings.REDIS_URL, with short timeouts and no retries."""
    global _client, _client_url
    url = settings.REDIS_URL
    if _client is None or _client_url != url:
        with _client_lock:
            if _client is None or _client_url != url:
                _client = redis.Redis.from_url(
                    url,
                    socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT,
                    socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
                    # One immediate retry on a dropped connection (Redis restarted under a pooled
                    # connection), none on a timeout: a hung Redis costs one timeout, not two.
                    retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                    decode_responses=True,
                )
                _client_url = url
    return _client


def _call(action: str, fn, default):
    """Run fn against Redis; log the first failure of a streak and return default."""
    global _failing
    url = settings.REDIS_URL
    if time.monotonic() < _down_until.get(url, 0):
        return default
    try:
        result = fn()
    except (redis.RedisError, OSError):
        if not _failing:
            log.warning("redis %s failed; presence, locks and rate limit fail open", action, exc_info=True)
        _failing = True
        _down_until[url] = time.monotonic() + BREAK
        return default
    if _failing:
        log.info("redis is back: presence, locks and rate limit resume")
    _failing = False
    return result


class _Memory:
    """An in-process stand-in for the few Redis commands used here (REDIS_URL unset)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.zsets: dict[str, dict[str, float]] = {}
        self.values: dict[str, tuple[object, float]] = {}  # key -> (value, expires at)

    def _get(self, key):
        value, expires = self.values.get(key, (None, 0))
        if expires and expires < time.monotonic():
            self.values.pop(key, None)
            return None
        return value


_memory = _Memory()


def _use_memory() -> bool:
    return not settings.REDIS_URL


def group_size(key: str) -> int | None:
    """How many channels a channel-layer group holds (a ZCARD); None when Redis did not say."""
    return _call("group size", lambda: client().zcard(key), None)


# Presence -----------------------------------------------------------------------------------


def presence_touch(project_id: int, member: str) -> None:
    """Record a heartbeat of one socket (`member` is "user_id:socket_id")."""
    key = PRESENCE_KEY.format(project_id=project_id)
    now = time.time()
    if _use_memory():
        with _memory.lock:
            _memory.zsets.setdefault(key, {})[member] = now
        return

    def touch():
        pipe = client().pipeline()
        pipe.zadd(key, {member: now})
        pipe.expire(key, PRESENCE_TTL * 2)
        pipe.execute()

    _call("presence touch", touch, None)


def presence_leave(project_id: int, member: str) -> None:
    key = PRESENCE_KEY.format(project_id=project_id)
    if _use_memory():
        with _memory.lock:
            _memory.zsets.get(key, {}).pop(member, None)
        return
    _call("presence leave", lambda: client().zrem(key, member), None)


def presence_prune(project_id: int) -> int:
    """Drop entries older than PRESENCE_TTL; the number dropped."""
    key = PRESENCE_KEY.format(project_id=project_id)
    cutoff = time.time() - PRESENCE_TTL
    if _use_memory():
        with _memory.lock:
            entries = _memory.zsets.get(key, {})
            stale = [member for member, seen in entries.items() if seen < cutoff]
            for member in stale:
                del entries[member]
            return len(stale)
    return _call("presence prune", lambda: client().zremrangebyscore(key, 0, cutoff), 0)


def presence_user_ids(project_id: int) -> list[int]:
    """Ids of the users with a fresh heartbeat on this board, in order of arrival."""
    key = PRESENCE_KEY.format(project_id=project_id)
    cutoff = time.time() - PRESENCE_TTL
    if _use_memory():
        with _memory.lock:
            entries = sorted(_memory.zsets.get(key, {}).items(), key=lambda item: item[1])
            members = [member for member, seen in entries if seen >= cutoff]
    else:
        members = _call("presence read", lambda: client().zrangebyscore(key, cutoff, "+inf"), [])
    seen: dict[int, None] = {}
    for member in members:
        user_id, _, _ = member.partition(":")
        if user_id.isascii() and user_id.isdigit():
            seen.setdefault(int(user_id), None)
    return list(seen)


# Rate limit ---------------------------------------------------------------------------------


def rate_limited(user_id: int) -> bool:
    """Count one message of this user; True when they went over RATE_LIMIT in this window."""
    key = RATELIMIT_KEY.format(user_id=user_id)
    if _use_memory():
        with _memory.lock:
            count = (_memory._get(key) or 0) + 1
            expires = _memory.values.get(key, (0, 0))[1] if count > 1 else time.monotonic() + RATE_WINDOW
            _memory.values[key] = (count, expires)
        return count > RATE_LIMIT

    def incr():
        pipe = client().pipeline()
        pipe.incr(key)
        pipe.expire(key, RATE_WINDOW, nx=True)
        return pipe.execute()[0]

    return _call("rate limit", incr, 0) > RATE_LIMIT


# Socket slots -------------------------------------------------------------------------------
# sockets:{user_id} is a sorted set of the user's open board sockets over every server process,
# each scored with the time it lapses unless its process refreshes it (boards.sockets does, every
# few seconds, for all its sockets at once): a process that dies leaves entries that expire.
# Scores come from Redis's clock, so processes on several machines agree.

_SOCKET_CLAIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
return 1
"""

_SOCKETS_REFRESH = """
local t = redis.call('TIME')
local lapses = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, lapses, ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1])))
end
return #KEYS
"""


def socket_claim(user_id: int, socket_id: str, *, limit: int, ttl: float) -> bool:
    """Count one more open socket of this user; False (and nothing counted) when they already
    have `limit` open. With Redis down the socket is let through."""
    key = SOCKETS_KEY.format(user_id=user_id)
    if _use_memory():
        now = time.monotonic()
        with _memory.lock:
            entries = _memory.zsets.setdefault(key, {})
            for member in [member for member, lapses in entries.items() if lapses <= now]:
                del entries[member]
            if socket_id not in entries and len(entries) >= limit:
                return False
            entries[socket_id] = now + ttl
        return True
    return bool(_call("socket claim", lambda: client().eval(_SOCKET_CLAIM, 1, key, socket_id, ttl, limit), 1))


def sockets_refresh(sockets: list[tuple[int, str]], *, ttl: float) -> None:
    """Keep these (user_id, socket_id) entries alive for another `ttl` seconds, in one call."""
    if not sockets:
        return
    keys = [SOCKETS_KEY.format(user_id=user_id) for user_id, _ in sockets]
    if _use_memory():
        lapses = time.monotonic() + ttl
        with _memory.lock:
            for key, (_, socket_id) in zip(keys, sockets, strict=True):
                _memory.zsets.setdefault(key, {})[socket_id] = lapses
        return
    ids = [socket_id for _, socket_id in sockets]
    _call("socket refresh", lambda: client().eval(_SOCKETS_REFRESH, len(keys), *keys, ttl, *ids), None)


def socket_release(user_id: int, socket_id: str) -> None:
    key = SOCKETS_KEY.format(user_id=user_id)
    if _use_memory():
        with _memory.lock:
            _memory.zsets.get(key, {}).pop(socket_id, None)
        return
    _call("socket release", lambda: client().zrem(key, socket_id), None)


# Edit locks ---------------------------------------------------------------------------------
# doc_lock:{task_id} holds "user_id|taken_at|name" (taken_at in seconds, by Redis's clock);
# doc_locks:{user_id} indexes a user's locks by when each was taken, in microseconds.
# Taking is an explicit act of the user: asking for the card's editor (Edit, boards.web.views.card)
# or the first keystroke in it ("take" over the board socket); reading a card takes nothing. Renewing (the
# open editor's page, over its socket) only keeps a lock its user still holds, never takes one,
# so a lock past LOCK_MAX_AGE or given back to make room is not taken again behind the user's back.


@dataclass(frozen=True)
class LockState:
    """Who holds a task's edit lock. `holder_id` None: nobody (or Redis is down)."""

    held: bool  # the asking user holds it now
    holder_id: int | None = None
    holder_name: str = ""


# KEYS: doc_lock:{task_id}, doc_locks:{user_id}. ARGV: user id, name, ttl, max age, locks per user
# (0: renew only, never take), task id, the doc_lock: prefix. The user's other locks are read by
# name from ARGV[7]: one Redis server (no cluster), like the rest of this module.
_LOCK_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1])
-- Microseconds, as a string: Lua would print so large a number in 14 digits and lose the order.
local stamp = string.format('%d', now * 1000000 + tonumber(t[2]))
local user, ttl, max_age, limit = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function holder(value)
  if not value then return nil, 0 end
  -- A value without its time (written before locks had a maximum age) counts as past it.
  return string.match(value, '^(%d+)|'), tonumber(string.match(value, '^%d+|(%d+)|')) or 0
end
local current = redis.call('GET', KEYS[1])
local id, since = holder(current)
if current and id ~= user then
  return current
end
if current then
  local left = since + max_age - now
  if left > 0 then
    redis.call('SET', KEYS[1], current, 'EX', math.min(ttl, left))
    return current
  end
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[6])
end
if limit == 0 then
  return false
end
for _, task in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if holder(redis.call('GET', ARGV[7] .. task)) ~= user then
    redis.call('ZREM', KEYS[2], task)
  end
end
while redis.call('ZCARD', KEYS[2]) >= limit do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  redis.call('DEL', ARGV[7] .. oldest)
  redis.call('ZREM', KEYS[2], oldest)
end
local value = user .. '|' .. now .. '|' .. ARGV[2]
redis.call('SET', KEYS[1], value, 'EX', math.min(ttl, max_age))
redis.call('ZADD', KEYS[2], stamp, ARGV[6])
redis.call('EXPIRE', KEYS[2], max_age + ttl)
return value
"""

_LOCK_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current and string.match(current, '^(%d+)|') == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_LOCK_PREFIX = LOCK_KEY.format(task_id="")


def _parse_lock(value: str | None, user_id: int) -> LockState:
    if not value:
        return LockState(held=False)
    holder, _, rest = value.partition("|")
    since, _, name = rest.partition("|")
    holder_id = int(holder) if holder.isascii() and holder.isdigit() else None
    return LockState(held=holder_id == user_id, holder_id=holder_id, holder_name=name if since.isdigit() else rest)


def _lock_memory(task_id: int, user_id: int, name: str, *, ttl: float, max_age: float, limit: int) -> str | None:
    """_LOCK_TAKE for the in-process store; tests run both against the same cases."""
    now = int(time.time())
    key, index_key = LOCK_KEY.format(task_id=task_id), USER_LOCKS_KEY.format(user_id=user_id)
    with _memory.lock:
        index = _memory.zsets.setdefault(index_key, {})
        current = _memory._get(key)
        if current is not None:
            holder, since, _ = current.split("|", 2)
            if holder != str(user_id):
                return current
            left = int(since) + max_age - now
            if left > 0:
                _memory.values[key] = (current, time.monotonic() + min(ttl, left))
                return current
            _memory.values.pop(key, None)
            index.pop(str(task_id), None)
        if limit == 0:
            return None
        for task in list(index):
            if (_memory._get(LOCK_KEY.format(task_id=task)) or "").split("|", 1)[0] != str(user_id):
                del index[task]
        while len(index) >= limit:
            oldest = min(index, key=lambda task: (index[task], task))
            _memory.values.pop(LOCK_KEY.format(task_id=oldest), None)
            del index[oldest]
        value = f"{user_id}|{now}|{name}"
        _memory.values[key] = (value, time.monotonic() + min(ttl, max_age))
        index[str(task_id)] = time.monotonic_ns()
        return value


def _lock(task_id: int, user_id: int, name: str, *, limit: int, ttl: float, max_age: float) -> LockState:
    key = LOCK_KEY.format(task_id=task_id)
    if _use_memory():
        current = _lock_memory(task_id, user_id, name, ttl=ttl, max_age=max_age, limit=limit)
        return _parse_lock(current, user_id)
    index_key = USER_LOCKS_KEY.format(user_id=user_id)
    args = (str(user_id), name, int(ttl), int(max_age), limit, str(task_id), _LOCK_PREFIX)
    fallback = f"{user_id}|0|{name}"  # Redis down: the lock is not enforced, the caller goes ahead
    current = _call("lock", lambda: client().eval(_LOCK_TAKE, 2, key, index_key, *args), fallback)
    return _parse_lock(current, user_id)


def lock_acquire(
    task_id: int,
    user_id: int,
    name: str,
    *,
    role: str | None,
    ttl: int = LOCK_TTL,
    max_age: int = LOCK_MAX_AGE,
    limit: int = LOCKS_PER_USER,
) -> LockState:
    """Take doc_lock:{task_id} for this user, or keep it when they hold it already (its age still
    counts from when it was first taken). `role` is the user's role in the task's workspace: only
    EDIT_ROLES take locks, anyone else is told who holds it.

    A user holds at most `limit` locks: taking one more gives back their oldest. Locks guard
    nothing the version check does not (services.update_task); they tell others someone is
    typing. The newest lock is the one the user is working in, the oldest most likely an editor
    left open in another tab, and refusing instead would lock the user out of every card by their
    own forgotten tabs until those reach LOCK_MAX_AGE.

    With Redis down the lock is not enforced: the caller is told it holds it.
    """
    if role not in EDIT_ROLES:
        return lock_state(task_id, user_id)
    return _lock(task_id, user_id, name, limit=limit, ttl=ttl, max_age=max_age)


def lock_renew(task_id: int, user_id: int, *, ttl: int = LOCK_TTL, max_age: int = LOCK_MAX_AGE) -> LockState:
    """Keep the lock for another `ttl` seconds when this user holds it and it is younger than
    `max_age`; never takes one. A lock at its maximum age is given back."""
    return _lock(task_id, user_id, "", limit=0, ttl=ttl, max_age=max_age)


def lock_release(task_id: int, user_id: int) -> bool:
    """Give the lock back, only when this user holds it; whether they did (and it is gone now)."""
    key = LOCK_KEY.format(task_id=task_id)
    index_key = USER_LOCKS_KEY.format(user_id=user_id)
    if _use_memory():
        with _memory.lock:
            if _parse_lock(_memory._get(key), user_id).held:
                _memory.values.pop(key, None)
                _memory.zsets.get(index_key, {}).pop(str(task_id), None)
                return True
        return False
    released = _call("unlock", lambda: client().eval(_LOCK_RELEASE, 2, key, index_key, str(user_id), str(task_id)), 0)
    return bool(released)


def lock_holders(task_ids: list[int]) -> dict[int, LockState]:
    """Who holds the edit locks of these tasks, with one MGET; tasks nobody holds are left out
    (all of them when Redis is down). For a page that opens while someone edits."""
    keys = [LOCK_KEY.format(task_id=task_id) for task_id in task_ids]
    if not keys:
        return {}
    if _use_memory():
        with _memory.lock:
            values = [_memory._get(key) for key in keys]
    else:
        values = _call("lock read", lambda: client().mget(keys), [None] * len(keys))
    states = {task_id: _parse_lock(value, 0) for task_id, value in zip(task_ids, values, strict=True) if value}
    return {task_id: state for task_id, state in states.items() if state.holder_id is not None}


def lock_state(task_id: int, user_id: int) -> LockState:
    """Who holds the task's lock, as seen by this user; nobody when Redis is down."""
    key = LOCK_KEY.format(task_id=task_id)
    if _use_memory():
        with _memory.lock:
            return _parse_lock(_memory._get(key), user_id)
    return _parse_lock(_call("lock read", lambda: client().get(key), None), user_id)
