"""Per-token rate limits (per user for the browser's session), one fixed window a minute, read
and write counted apart; over the limit: 429 with Retry-After.

Counted in the cache (Redis) with one INCR: a dead Redis lets traffic through (the cache ignores
its errors), as the site's other rate limits do."""

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import permissions, throttling

from api.models import ApiToken

WINDOW = 60


class TokenRateThrottle(throttling.BaseThrottle):
    def allow_request(self, request, view) -> bool:
        token = request.auth
        who = f"t{token.pk}" if isinstance(token, ApiToken) else f"u{request.user.pk}"
        scope = "read" if request.method in permissions.SAFE_METHODS else "write"
        limit = settings.API_RATE_READ if scope == "read" else settings.API_RATE_WRITE
        now = time.time()
        window = int(now // WINDOW)
        self.retry_after = WINDOW - (now % WINDOW)
        key = f"ratelimit:api:{scope}:{who}:{window}"
        try:
            count = cache.incr(key)
        except ValueError:  # the window's first request
            count = 1 if cache.add(key, 1, timeout=WINDOW + 5) else cache.incr(key)
        return count is None or count <= limit

    def wait(self) -> float:
        return self.retry_after
