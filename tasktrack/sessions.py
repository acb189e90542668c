"""Sessions in PostgreSQL, read through the Redis cache (Django's cached_db), with the cached copy
kept a few minutes at most.

A signed-in request reads its session from Redis instead of PostgreSQL: one query fewer on every
page and write. PostgreSQL stays the source of truth (ARCHITECTURE.md, "Redis"): a flushed or
stopped Redis only sends the reads back to the database, and every save and delete goes to both.

Why the cap: a session deleted while Redis was unreachable (a log-out during an outage: the
database row goes, the cache delete fails and is ignored) would otherwise be read back from a
Redis that comes back with its data, for as long as the session had left (two weeks). Capped at
SESSION_CACHE_SECONDS, such a copy outlives its row by that long at most.
"""

from django.conf import settings
from django.contrib.sessions.backends import cached_db


def cache_seconds() -> int:
    return int(getattr(settings, "SESSION_CACHE_SECONDS", 300))


class _CappedCache:
    """The session cache, every entry's lifetime capped at cache_seconds()."""

    def __init__(self, cache):
        self._cache = cache

    def set(self, key, value, timeout=None, **kwargs):
        return self._cache.set(key, value, _capped(timeout), **kwargs)

    async def aset(self, key, value, timeout=None, **kwargs):
        return await self._cache.aset(key, value, _capped(timeout), **kwargs)

    def __getattr__(self, name):
        return getattr(self._cache, name)

    def __contains__(self, key):
        return key in self._cache


def _capped(timeout) -> int:
    cap = cache_seconds()
    return cap if timeout is None else max(0, min(int(timeout), cap))


class SessionStore(cached_db.SessionStore):
    cache_key_prefix = cached_db.KEY_PREFIX

    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._cache = _CappedCache(self._cache)
