"""Cross-cutting HTTP concerns: the client's address behind our proxy, the Content-Security-Policy
header, NUL bytes, the 503 page."""

import contextlib
import ipaddress
import logging
import sys

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template import loader
from django.views import defaults

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


class ForwardedClientMiddleware:
    """Behind our proxy (settings.TRUSTED_PROXIES, set from BEHIND_PROXY), take the client's address
    from X-Forwarded-For, as daphne --proxy-headers does for itself. gunicorn leaves REMOTE_ADDR at
    the proxy's address, and the log-in limit per address would then lock everyone out at once.

    Only the last entry counts: our proxy appended it; anything before it is the client's own claim.
    A request that does not come from a trusted proxy keeps its address.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        trusted = getattr(settings, "TRUSTED_PROXIES", ())
        if trusted and request.META.get("REMOTE_ADDR") in trusted:
            forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
            with contextlib.suppress(ValueError):  # no usable address: keep the proxy's
                request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(forwarded))
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send settings.CONTENT_SECURITY_POLICY on every response that does not set its own.

    No inline script and no eval: markup that slips into a page (a title, a description, a
    live fragment) cannot run, even where escaping was forgotten.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and "Content-Security-Policy" not in response.headers:
            # WebSockets to this host: 'self' covers ws:/wss: only in newer browsers.
            try:
                host = request.get_host()
            except DisallowedHost:  # the 400 for a foreign Host header: no socket to allow
                ws_origins = ""
            else:
                ws_origins = f"ws://{host} wss://{host}"
            response.headers["Content-Security-Policy"] = policy.format(ws_origins=ws_origins).replace(" ;", ";")
        return response


class RejectNullCharactersMiddleware:
    """400 for a NUL character in any query or form value: PostgreSQL text cannot hold one, so
    it would otherwise end as a DataError (a 500) wherever the value reaches a query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sources = [request.GET, request.POST] if request.method == "POST" else [request.GET]
        for params in sources:
            for key, values in params.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return HttpResponseBadRequest("Request values cannot contain NUL characters.")
        return self.get_response(request)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 page; renders without the database (no user, no session, no context processors)."""
    html = loader.get_template("503.html").render({})
    response = HttpResponse(html, status=503)
    response.headers["Retry-After"] = "10"
    return response


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into a 503 page instead of a 500.

    The transaction that was open is gone with the connection (PostgreSQL rolls it back), and
    the pool discards the broken connection, so the next request starts clean.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            log.error("database unavailable during %s %s: %s", request.method, request.path, exception)
            return database_unavailable(request)
        return None


def server_error(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """handler500: a database failure raised outside the view (a middleware loading the session
    or the user) is a 503 too; anything else is Django's plain 500."""
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable(request)
    return defaults.server_error(request, *args, **kwargs)
