"""One HTTP attempt of a delivery, and the address check that comes before it.

The target's host is resolved once; every address it resolves to must be global (not loopback,
link-local, private, multicast, reserved, unspecified, nor one of those wrapped in IPv6) unless
WEBHOOKS_ALLOW_PRIVATE_NETWORKS is on. The connection then goes to the checked address itself,
with the URL's host in the Host header (and in TLS's server name and certificate check), so a
DNS answer that changes between the check and the connection (rebinding) is never used.
"""

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
RESPONSE_READ_MAX = 4096
EXCERPT_MAX = 2048
USER_AGENT = "Tasktrack-Webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The target may not be reached from here: nothing was sent."""


@dataclass
class Outcome:
    delivered: bool = False
    refused: bool = False
    response_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    duration_ms: int = 0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Tasktrack-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _embedded(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_not_public(ip: IPAddress) -> str | None:
    """Why the address is not one a webhook may reach, or None when it is global."""
    inner = _embedded(ip)
    if inner is not None:
        reason = why_not_public(inner)
        return f"{reason} (inside {ip})" if reason else None
    for check, label in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(ip, check):
            return f"{ip} is a {label} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (a literal address is itself: no lookup is sent)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OSError(f"cannot resolve {host}: {error}") from error
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise OSError(f"{host} has no address")
    return addresses


def check_target(host: str, port: int, *, allow_private: bool) -> IPAddress:
    """The address to connect to; Refused when any address of the host is not public."""
    addresses = resolve(host, port)
    if not allow_private:
        for ip in addresses:
            reason = why_not_public(ip)
            if reason:
                raise Refused(
                    f"Refused: {host} resolves to {reason}; webhooks reach only public addresses "
                    "(WEBHOOKS_ALLOW_PRIVATE_NETWORKS is off)."
                )
    return addresses[0]


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    """A socket connected to the address itself (no second lookup, unlike create_connection)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((address, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address checked beforehand, whatever the host name resolves to now."""

    def __init__(self, host, port, *, address: IPAddress, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = str(address)

    def connect(self):
        self.sock = _connect(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address: IPAddress, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = str(address)

    def connect(self):
        sock = _connect(self._address, self.port, self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool | None = None) -> Outcome:
    """POST the body to the URL once: no redirects followed, bounded in time and in what is read."""
    if allow_private is None:
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS
    started = time.monotonic()
    outcome = Outcome()
    parts = urlsplit(url)
    try:
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme not in ("http", "https") or not host:
            raise Refused("Refused: only http and https URLs with a host are delivered.")
        address = check_target(host, port, allow_private=allow_private)
        outcome = _send(parts, host, port, address, body, headers)
    except Refused as error:
        outcome.refused = True
        outcome.error = str(error)
    except (OSError, http.client.HTTPException, ValueError) as error:
        outcome.error = (f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)[:500]
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _send(parts, host: str, port: int, address: IPAddress, body: bytes, headers: dict[str, str]) -> Outcome:
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(
            host, port, address=address, timeout=CONNECT_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTPConnection(host, port, address=address, timeout=CONNECT_TIMEOUT)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # The whole exchange ends by TOTAL_TIMEOUT even against a server that drips bytes slowly.
    expired = threading.Event()
    deadline = threading.Timer(TOTAL_TIMEOUT, _abort, args=(connection, expired))
    deadline.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(RESPONSE_READ_MAX)[:EXCERPT_MAX]
        if expired.is_set():  # what was read may be cut short anywhere: not an answer
            raise TimeoutError(f"no complete answer within {TOTAL_TIMEOUT:g} s")
        return Outcome(
            delivered=200 <= response.status < 300,
            response_code=response.status,
            response_excerpt=excerpt.decode("utf-8", "replace").replace("\x00", ""),
            error="" if 200 <= response.status < 300 else f"HTTP {response.status}",
        )
    except (OSError, http.client.HTTPException) as error:
        if expired.is_set():
            raise TimeoutError(f"no complete answer within {TOTAL_TIMEOUT:g} s") from error
        raise
    finally:
        deadline.cancel()
        connection.close()


def _abort(connection, expired: threading.Event) -> None:
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
