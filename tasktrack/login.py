"""Log-in protection: django-axes, counting failed log-ins in Redis (the cache), for the site's and
the admin's log-in pages alike, keyed so that one flooding client cannot lock everyone out:

- AXES_FAILURE_LIMIT (5) failures per username, from any address, and per (username, address):
  axes' own keys (settings.AXES_LOCKOUT_PARAMETERS). A correct password resets both.
- LOGIN_FAILURES_PER_ADDRESS (50) failures per client address, whatever the usernames: a guesser
  trying many usernames from one address is stopped, while the people behind that address (one
  office, one NAT) keep logging in until then. Axes has one failure limit for all the keys it
  counts (its maintainers point to a custom handler for more: jazzband/django-axes#661), so
  LoginLimitHandler below adds this count, under a key of its own: an address key of axes' kind
  (sha256 of the bare value) would be shared with the username of the same text, and 5 failures
  for the username "203.0.113.7" would then count against that address.

The address is REMOTE_ADDR as tasktrack.middleware.ForwardedClientMiddleware leaves it (the
trusted-proxy rule), never a header the client writes. A locked-out attempt answers 429 with
Retry-After and a page saying when to try again; its password is not checked.

Redis holds the counts, as it holds our other rate limits: a flood of failures costs counter
increments in Redis, not row writes in PostgreSQL, and the counts expire by themselves. The limit
is a brake on password guessing, not a gate: with Redis down, log-in carries on unlimited rather
than locking everyone out.
"""

import logging
import math
from datetime import timedelta

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache, get_cache_timeout, get_client_cache_keys, get_failure_limit
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

log = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the client's address as ForwardedClientMiddleware computed it.

    Named explicitly so that installing django-ipware (axes' optional helper) cannot switch the
    key to an X-Forwarded-For entry the client wrote.
    """
    return request.META.get("REMOTE_ADDR", "")


def username_of(request: HttpRequest, credentials: dict | None) -> str:
    """AXES_USERNAME_CALLABLE: the attempted username as counted; case and surrounding spaces do
    not make a new username to guess with."""
    value = credentials.get("username") if credentials else request.POST.get("username")
    return str(value or "").strip().casefold()


def address_key(address: str) -> str:
    return f"ratelimit:login:addr:{address}"


class LoginLimitHandler(AxesCacheHandler):
    """Axes' cache handler, plus the count per address with its own, higher limit, and failing
    open when Redis is down."""

    def __init__(self):
        pass  # no cache of its own: the property below follows the settings (tests change them)

    @property
    def cache(self):
        return get_cache()

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return self._address_failures(request) >= settings.LOGIN_FAILURES_PER_ADDRESS

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        refused_unchecked = request is not None and getattr(request, "axes_locked_out", False)
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except Exception as error:  # noqa: BLE001 - the limit fails open
            # With Redis down, django-redis answers None to add() and incr() (IGNORE_EXCEPTIONS),
            # which axes then compares, and lets touch()'s connection error through.
            log.warning("login limit unavailable, failure not counted: %r", error)
            return
        if request is None or refused_unchecked:
            return  # refused before its password was checked: not a guess, nothing to count
        failures = self._count(address_key(request.axes_ip_address))
        if failures >= settings.LOGIN_FAILURES_PER_ADDRESS and not request.axes_locked_out:
            log.warning("login limit: address locked out after %d failures", failures)
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=None, ip_address=request.axes_ip_address)

    def seconds_locked(self, request, credentials: dict | None) -> int:
        """Until the attempt may be made again: the longest time-to-live of the counts that reached
        their limit; the whole cool-off when the cache cannot tell (no Redis)."""
        cool_off = get_cache_timeout(request)
        limits = {key: get_failure_limit(request, credentials) for key in get_client_cache_keys(request, credentials)}
        limits[address_key(request.axes_ip_address)] = settings.LOGIN_FAILURES_PER_ADDRESS
        if not hasattr(self.cache, "ttl"):
            return cool_off
        try:
            counts = self.cache.get_many(list(limits))
            ttls = [self.cache.ttl(key) for key, limit in limits.items() if (counts.get(key) or 0) >= limit]
        except Exception as error:  # noqa: BLE001
            log.warning("login limit unavailable, cool-off not read: %r", error)
            return cool_off
        return max([ttl for ttl in ttls if isinstance(ttl, int) and ttl > 0], default=cool_off)

    def _address_failures(self, request) -> int:
        return self.cache.get(address_key(request.axes_ip_address), default=0) or 0

    def _count(self, key: str) -> int:
        """One more failure under key; the window starts with the first (incr() never extends it)."""
        try:
            if self.cache.add(key, 1, get_cache_timeout()):
                return 1
            return self.cache.incr(key) or 0  # None: Redis is down
        except ValueError:
            return 0  # the key expired between add() and incr(): the window is over anyway
        except Exception as error:  # noqa: BLE001
            log.warning("login limit unavailable, failure not counted: %r", error)
            return 0


def locked_out(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 Too Many Requests, saying when to try again."""
    from axes.handlers.proxy import AxesProxyHandler

    # Under ASGI, axes' middleware (8.3.1) passes the credentials where the response goes: the
    # handler left them on the request.
    credentials = getattr(request, "axes_credentials", None) or credentials

    seconds = AxesProxyHandler.get_implementation().seconds_locked(request, credentials)
    context = {
        "minutes": max(1, math.ceil(seconds / 60)),
        "retry_at": timezone.now() + timedelta(seconds=seconds),
        "login_url": request.path,
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


class LoginForm(AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": "That username and password do not match."}


login = auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True)
