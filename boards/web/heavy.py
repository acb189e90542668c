"""Heavy requests (CSV exports, insights over long ranges): how many may run at once.

Two bounds, both answered with 429 and Retry-After when full:

- per process (settings.HEAVY_REQUESTS_PER_PROCESS): a counter in this process, so a burst of
  exports cannot take every thread and pool connection of one server from the other pages;
- per user (settings.HEAVY_REQUESTS_PER_USER): counted in Redis, across processes. gunicorn runs
  several worker processes and `tasktrack.serve` a daphne per core, so a count per process would
  let one user run the limit times the number of processes; Redis is shared by all of them.
  Like the other rate limits it fails open: with Redis down only the per-process bound holds.
  With REDIS_URL unset (`make run`, one process) the per-user count is kept in the process.

Each slot is a lease, not a bare counter: it is renewed while the request makes progress (every
chunk of an export) and lapses LEASE seconds after the last renewal. A slot is released as soon
as its request ends, but a process killed mid-export, or a stream dropped without being closed,
cannot hold a user's or a process's slot for longer than that.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.http import HttpResponse

from boards.live import presence as realtime

log = logging.getLogger(__name__)

USER_KEY = "heavy:user:{user_id}"
LEASE = 60  # seconds a slot lives without a renewal
RENEW_EVERY = LEASE / 4
RETRY_AFTER = 5  # seconds: heavy requests are short when they run alone

# Drop the lapsed leases, then take one if fewer than the limit remain: atomic in Redis, so two
# processes cannot both take the last slot.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class Busy(Exception):
    """No slot: the user or this process already runs its limit of heavy requests."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Leases:
    """This process's slots: token -> (user id, lease end), under a lock (daphne runs views in threads)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.slots: dict[str, tuple[int, float]] = {}

    def _prune(self, now: float) -> None:
        for token in [token for token, (_, until) in self.slots.items() if until <= now]:
            del self.slots[token]

    def take(self, token: str, user_id: int, *, per_user: int | None) -> None:
        now = time.monotonic()
        with self.lock:
            self._prune(now)
            if len(self.slots) >= settings.HEAVY_REQUESTS_PER_PROCESS:
                raise Busy("The server is busy with other exports and reports.")
            if per_user is not None and sum(1 for user, _ in self.slots.values() if user == user_id) >= per_user:
                raise Busy(_user_message())
            self.slots[token] = (user_id, now + LEASE)

    def renew(self, token: str) -> None:
        with self.lock:
            if token in self.slots:
                self.slots[token] = (self.slots[token][0], time.monotonic() + LEASE)

    def drop(self, token: str) -> None:
        with self.lock:
            self.slots.pop(token, None)

    def __len__(self) -> int:
        with self.lock:
            self._prune(time.monotonic())
            return len(self.slots)


_leases = _Leases()


def _user_message() -> str:
    limit = settings.HEAVY_REQUESTS_PER_USER
    return f"You already have {limit} export{'s' if limit != 1 else ''} or long reports running."


def _use_redis() -> bool:
    return bool(settings.REDIS_URL)


class Slot:
    """One heavy request's place; renew() while it progresses, release() when it ends (idempotent)."""

    def __init__(self, user_id: int):
        self.user_id = user_id
        self.token = uuid.uuid4().hex
        self.key = USER_KEY.format(user_id=user_id)
        self.released = False
        self.in_redis = False
        self.renewed_at = time.monotonic()

    def acquire(self) -> "Slot":
        _leases.take(self.token, self.user_id, per_user=None if _use_redis() else settings.HEAVY_REQUESTS_PER_USER)
        if not _use_redis():
            return self
        now = time.time()
        taken = realtime._call(
            "heavy slot",
            lambda: realtime.client().eval(
                _ACQUIRE, 1, self.key, now, now + LEASE, self.token, settings.HEAVY_REQUESTS_PER_USER, LEASE * 2
            ),
            None,
        )
        if taken == 0:
            _leases.drop(self.token)
            raise Busy(_user_message())
        self.in_redis = taken == 1  # None: Redis down, the per-user limit lets the request through
        return self

    def renew(self) -> None:
        """Extend the lease; cheap to call often (it talks to Redis at most every RENEW_EVERY s)."""
        if self.released or time.monotonic() - self.renewed_at < RENEW_EVERY:
            return
        self.renewed_at = time.monotonic()
        _leases.renew(self.token)
        if self.in_redis:
            realtime._call("heavy renew", self._renew_in_redis, None)

    def _renew_in_redis(self) -> None:
        pipe = realtime.client().pipeline()
        pipe.zadd(self.key, {self.token: time.time() + LEASE}, xx=True)
        pipe.expire(self.key, LEASE * 2)  # the key outlives the longest lease in it
        pipe.execute()

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        _leases.drop(self.token)
        if self.in_redis:
            realtime._call("heavy release", lambda: realtime.client().zrem(self.key, self.token), None)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(user, *, needed: bool = True) -> Slot:
    """A slot for one heavy request of `user`, or Busy; release it when the request ends.
    needed=False: a slot that counts nothing (the request is light)."""
    slot = Slot(user.pk)
    if not needed:
        slot.released = True
        return slot
    return slot.acquire()


def running_here() -> int:
    """Heavy requests running in this process now."""
    return len(_leases)


def too_many(busy: Busy) -> HttpResponse:
    """The 429 for a heavy request refused by its limit."""
    response = HttpResponse(
        f"Too many requests: {busy.message} Try again in a few seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response
