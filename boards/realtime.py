"""Presence, the WebSocket rate limit and edit locks: small Redis structures that fail open.

Redis is an accelerator here, never the source of truth: every call has a short timeout, and an
error is logged and answered with the harmless default (nobody present, traffic allowed, the lock
not enforced; the version check in services.update_task still guards edits). With REDIS_URL unset
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

# A client pings every HEARTBEAT seconds; an entry not refreshed for PRESENCE_TTL is gone.
HEARTBEAT = 20
PRESENCE_TTL = 50
# Messages one user may send per window over all their sockets. A board sends a heartbeat
# every 20 s and a lock renewal every 10 s: far below this.
RATE_LIMIT = 20
RATE_WINDOW = 1
LOCK_TTL = 30


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
        if user_id.isdigit():
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


# Edit locks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockState:
    """Who holds a task's edit lock. `holder_id` None: nobody (or Redis is down)."""

    held: bool  # the asking user holds it now
    holder_id: int | None = None
    holder_name: str = ""


_LOCK_RENEW = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return ARGV[1]
end
local sep = string.find(current, '|', 1, true)
if sep and string.sub(current, 1, sep - 1) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return ARGV[1]
end
return current
"""

_LOCK_RELEASE = """
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and string.sub(current, 1, sep - 1) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
  end
end
return 0
"""


def _parse_lock(value: str | None, user_id: int) -> LockState:
    if not value:
        return LockState(held=False)
    holder, _, name = value.partition("|")
    holder_id = int(holder) if holder.isdigit() else None
    return LockState(held=holder_id == user_id, holder_id=holder_id, holder_name=name)


def lock_acquire(task_id: int, user_id: int, name: str, *, ttl: int = LOCK_TTL) -> LockState:
    """Take or renew doc_lock:{task_id} for this user (SET NX EX, atomically renewed by its holder).

    With Redis down the lock is not enforced: the caller is told it holds it.
    """
    key = LOCK_KEY.format(task_id=task_id)
    value = f"{user_id}|{name}"
    if _use_memory():
        with _memory.lock:
            current = _memory._get(key)
            if current is None or _parse_lock(current, user_id).held:
                _memory.values[key] = (value, time.monotonic() + ttl)
                current = value
        return _parse_lock(current, user_id)
    current = _call("lock", lambda: client().eval(_LOCK_RENEW, 1, key, value, ttl, str(user_id)), value)
    return _parse_lock(current, user_id)


def lock_release(task_id: int, user_id: int) -> None:
    """Give the lock back, only when this user holds it."""
    key = LOCK_KEY.format(task_id=task_id)
    if _use_memory():
        with _memory.lock:
            if _parse_lock(_memory._get(key), user_id).held:
                _memory.values.pop(key, None)
        return
    _call("unlock", lambda: client().eval(_LOCK_RELEASE, 1, key, str(user_id)), 0)


def lock_state(task_id: int, user_id: int) -> LockState:
    """Who holds the task's lock, as seen by this user; nobody when Redis is down."""
    key = LOCK_KEY.format(task_id=task_id)
    if _use_memory():
        with _memory.lock:
            return _parse_lock(_memory._get(key), user_id)
    return _parse_lock(_call("lock read", lambda: client().get(key), None), user_id)
