"""Log-in with a limit on failed attempts, per username and per client address.

Failures are counted in the Django cache (Redis). The limit is a brake on password guessing, not
a gate: when the cache is down, log-in carries on unlimited rather than locking everyone out.
"""

import functools
import hashlib
import logging

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20
THROTTLED = "throttled"
THROTTLED_MESSAGE = (
    "Too many failed log-in attempts. Wait 15 minutes and try again, or ask an administrator to reset your password."
)


def _keys(request: HttpRequest | None, username: str) -> list[tuple[str, int]]:
    """(cache key, limit) pairs that this attempt counts against."""
    keys = []
    if username:
        digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
        keys.append((f"ratelimit:login:user:{digest}", MAX_FAILURES_PER_USERNAME))
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    if address:
        keys.append((f"ratelimit:login:addr:{address}", MAX_FAILURES_PER_ADDRESS))
    return keys


def is_locked_out(request: HttpRequest | None, username: str) -> bool:
    """True when the username or the address used up its failures; False when the cache is down."""
    keys = _keys(request, username)
    try:
        counts = cache.get_many([key for key, _ in keys])
    except Exception as error:  # noqa: BLE001 - the limit fails open
        log.warning("login rate limit unavailable, letting the attempt through: %r", error)
        return False
    return any((counts.get(key) or 0) >= limit for key, limit in keys)


def record_failure(request: HttpRequest | None, username: str) -> None:
    """Count one failed attempt against the username and the address, for WINDOW_SECONDS."""
    for key, _ in _keys(request, username):
        try:
            # add() starts the window; incr() never extends it.
            cache.add(key, 0, WINDOW_SECONDS)
            cache.incr(key)
        except ValueError:
            pass  # the key expired between add() and incr(): the window is over anyway
        except Exception as error:  # noqa: BLE001
            log.warning("login rate limit unavailable, failure not counted: %r", error)
            return


def clear_failures(username: str) -> None:
    """A correct password resets the username's count (not the address's: one valid account
    must not let an address keep guessing others)."""
    for key, _ in _keys(None, username):
        try:
            cache.delete(key)
        except Exception as error:  # noqa: BLE001
            log.warning("login rate limit unavailable, count not cleared: %r", error)


class ThrottledAuthenticationFormMixin:
    """Refuse locked-out attempts before checking the password; count the failures."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if is_locked_out(self.request, username):
            raise ValidationError(THROTTLED_MESSAGE, code=THROTTLED)
        try:
            cleaned = super().clean()
        except ValidationError as error:
            if getattr(error, "code", None) == "invalid_login":
                record_failure(self.request, username)
            raise
        clear_failures(username)
        return cleaned


class LoginForm(ThrottledAuthenticationFormMixin, AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": "That username and password do not match."}


class AdminLoginForm(ThrottledAuthenticationFormMixin, AdminAuthenticationForm):
    pass


def is_throttled(response: HttpResponse) -> bool:
    form = (getattr(response, "context_data", None) or {}).get("form")
    return bool(form is not None and form.is_bound and form.has_error("__all__", THROTTLED))


def with_throttle_status(view):
    """A locked-out attempt answers 429 Too Many Requests rather than 200 with an error."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if is_throttled(response):
            response.status_code = 429
            response.headers["Retry-After"] = str(WINDOW_SECONDS)
        return response

    return wrapped


login = with_throttle_status(
    auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True)
)
