"""Cross-cutting HTTP concerns: the client's address behind our proxy, the Content-Security-Policy
header, NUL bytes, the 503 page."""

import functools
import ipaddress
import logging
import sys
import zoneinfo

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template import loader
from django.utils import timezone
from django.views import defaults

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies) -> bool:
    return any(address in network for network in proxies)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """settings.TRUSTED_PROXIES as networks: an address is a network of one."""
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def client_address(peer: str, forwarded_for: str, proxies) -> str:
    """The client's address: the rightmost X-Forwarded-For entry that is not one of our proxies,
    for a request whose peer is one of them; the peer's own address for any other request.

    Each proxy appends the address it was connected from, so reading from the right, every entry
    up to the first one that is not a proxy of ours was written by a proxy we trust; that first one
    is the client as our outermost proxy saw it. Everything to its left is the client's own claim.
    An entry that is not an address (a proxy that passes the header on without appending) stops
    the walk at the last proxy we trust. A chain of nothing but our proxies names its first one.
    """
    address = _address(peer)
    if address is None or not _trusted(address, proxies):
        return peer
    for entry in reversed(forwarded_for.split(",") if forwarded_for else []):
        hop = _address(entry)
        if hop is None:
            break
        address = hop
        if not _trusted(hop, proxies):
            break
    return str(address)


class ForwardedClientMiddleware:
    """Behind our proxies (settings.TRUSTED_PROXIES, set with BEHIND_PROXY), REMOTE_ADDR becomes the
    client's address (client_address()), whatever the server: gunicorn and daphne both report the
    proxy as the peer (daphne runs without --proxy-headers, which trusts the first entry, the one
    the client writes). Without this, the log-in limit per address would lock everyone out at once;
    with the first entry, a guesser would pick a new address for every attempt.

    WebSocket scopes are left alone: nothing keys on a socket's address.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        proxies = trusted_proxies()
        if proxies:
            request.META["REMOTE_ADDR"] = client_address(
                request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""), proxies
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (policy in settings.CONTENT_SECURITY_POLICY), plus this host's
    WebSocket origins in connect-src: 'self' covers ws:/wss: only in newer browsers.

    No inline script and no eval: markup that slips into a page (a title, a description, a
    live fragment) cannot run, even where escaping was forgotten.
    """

    def get_policy_parts(self, request: HttpRequest, response: HttpResponse, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        try:
            host = request.get_host()
        except DisallowedHost:  # the 400 for a foreign Host header: no socket to allow
            return parts
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", ()), f"ws://{host}", f"wss://{host}"]
        parts.update = update
        return parts


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


@functools.lru_cache(maxsize=64)
def _zone(name: str):
    """The time zone of that IANA name, None for a name this system does not know."""
    if name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


class UserTimeZoneMiddleware:
    """Activates the signed-in user's time zone (Profile.time_zone; empty or unknown: TIME_ZONE) for
    the request, so due times are read and shown in it. The profile comes with the user (one query,
    accounts.backends); a request without a session cookie reads nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = getattr(request, "user", None)
            profile = getattr(user, "profile", None) if getattr(user, "is_authenticated", False) else None
            name = getattr(profile, "time_zone", "") if profile is not None else ""
            zone = _zone(name) if name else None
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
