"""What the board sockets share within a process: the origin check, each user's socket slots, and
the cached membership role every event is checked against.

- Origin: a handshake must come from this site (scheme, host and port), as Django's CSRF check
  requires of a POST; anything else is refused with 403 before the session is even read.
- Slots: a user holds at most settings.WS_SOCKETS_PER_USER open board sockets over every server
  process (boards.live.presence counts them in Redis, entries that lapse unless refreshed); this
  process refreshes all of its own at once every WS_SOCKET_TTL / 3 seconds, so a process that
  dies frees its users' slots within WS_SOCKET_TTL, and a client that never talks keeps its own.
  With Redis down sockets are let through (ARCHITECTURE.md: limits fail open).
- Roles: a socket checks its user's membership on every event; the answer comes from a cache per
  (user, workspace) in this process, read from PostgreSQL at most once per ROLE_TTL, and
  dropped at once when a Membership is saved or deleted: the change reaches every socket of that
  user, in every process, through their member group (live.publish_member_change), and each
  socket checks again, closing with 4403 when the user is no longer a member. So an event costs
  no query however many sockets watch the board.
- Workspaces: which workspace a board belongs to, cached per project the same way. A project
  moved to another workspace tells its sockets at once (board.moved); should that message be
  lost, the next read after ROLE_TTL finds the new workspace (or none: the project was deleted),
  and each socket checks its user's membership there.
"""

import asyncio
import logging
import time
import uuid
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http.request import is_same_domain, split_domain_port, validate_host

from boards import queries
from boards.live import events as live
from boards.live import presence
from boards.models import Membership

log = logging.getLogger(__name__)

# How long a cached role is trusted without a change message (one can be lost: channels-redis
# delivers at most once); the next event after that reads it again, once per process.
ROLE_TTL = 60.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


# Origin -------------------------------------------------------------------------------------


def _origin(value: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, the port filled in; None for anything else
    ("null", a path, credentials, a bad port)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path or parts.query or parts.fragment:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme]


def _is_secure(scope, headers: dict[str, str]) -> bool:
    """HttpRequest.is_secure() for a handshake: the proxy's header when SECURE_PROXY_SSL_HEADER
    names one and it is there, else the connection's own scheme."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-"))
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") in ("wss", "https")


def same_origin(scope) -> bool:
    """Whether a WebSocket handshake comes from a page of this site, as Django's CSRF check
    decides for a POST: its Origin is this server's (scheme, Host and port) or one of
    CSRF_TRUSTED_ORIGINS. A missing, repeated or "null" Origin is refused."""
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        name = name.decode("latin-1").lower()
        if name in headers and name in ("origin", "host"):
            return False
        headers[name] = value.decode("latin-1")
    origin, host = headers.get("origin"), headers.get("host")
    if not origin or not host:
        return False
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        return False
    theirs = _origin(origin)
    if theirs is None:
        return False
    if theirs == _origin(f"{'https' if _is_secure(scope, headers) else 'http'}://{host}"):
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        parts = urlsplit(trusted)
        if "*" in parts.netloc:
            netloc = urlsplit(origin).netloc
            if parts.scheme == theirs[0] and is_same_domain(netloc, parts.netloc.lstrip("*")):
                return True
        elif theirs == _origin(trusted):
            return True
    return False


class OriginValidator:
    """ASGI middleware: refuse (403) a WebSocket handshake that does not come from this site."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


# Slots --------------------------------------------------------------------------------------

_slots: dict[str, int] = {}  # this process's open sockets that hold a slot: socket id -> user id
_refresher: asyncio.Task | None = None


def _redis(fn):
    return sync_to_async(fn, thread_sensitive=False)


async def claim_slot(user_id: int) -> str | None:
    """A slot for one more open socket of this user: its id, or None when they are at the limit."""
    slot = uuid.uuid4().hex
    admitted = await _redis(presence.socket_claim)(
        user_id, slot, limit=settings.WS_SOCKETS_PER_USER, ttl=settings.WS_SOCKET_TTL
    )
    if not admitted:
        return None
    _slots[slot] = user_id
    _keep_refreshing()
    return slot


async def release_slot(slot: str) -> None:
    """Give a socket's slot back (when it closes)."""
    user_id = _slots.pop(slot, None)
    if user_id is not None:
        await _redis(presence.socket_release)(user_id, slot)


def _keep_refreshing() -> None:
    global _refresher
    loop = asyncio.get_running_loop()
    if _refresher is None or _refresher.done() or _refresher.get_loop() is not loop:
        _refresher = loop.create_task(_refresh(), name="socket-slots")


async def _refresh() -> None:
    """Every WS_SOCKET_TTL / 3 seconds, while this process holds slots: renew them all at once."""
    while _slots:
        await asyncio.sleep(settings.WS_SOCKET_TTL / 3)
        held = [(user_id, slot) for slot, user_id in list(_slots.items())]
        try:
            await _redis(presence.sockets_refresh)(held, ttl=settings.WS_SOCKET_TTL)
        except Exception:  # noqa: BLE001 - Redis errors are handled inside; anything else must not end the loop
            log.exception("refreshing %s socket slots failed", len(held))


# Roles --------------------------------------------------------------------------------------

_roles: dict[tuple[int, int], tuple[str | None, float]] = {}  # (user, workspace) -> (role, until)
_reads: dict[tuple[int, int], asyncio.Task] = {}  # the read in flight, shared by every asker
_changes: dict[tuple[int, int], str] = {}  # the last change message applied, per key


def _read_role(user_id: int, application_id: int) -> str | None:
    """The user's role in the workspace from PostgreSQL, None when they are not a member."""
    return queries.role_of(user_id, application_id)


def remember_role(user_id: int, application_id: int, role: str | None) -> None:
    """Cache a role just read (a socket's connect reads it with the project)."""
    now = time.monotonic()
    if len(_roles) > 10_000:
        for key in [key for key, (_, until) in _roles.items() if until <= now]:
            del _roles[key]
    _roles[(user_id, application_id)] = (role, now + ROLE_TTL)


def forget_role(user_id: int, application_id: int, *, change: str | None = None) -> None:
    """Drop the cached role; with `change`, only the first time that change is reported (every
    socket of the user receives it, one read serves them all)."""
    key = (user_id, application_id)
    if change is not None:
        if _changes.get(key) == change:
            return
        _changes[key] = change
    _roles.pop(key, None)
    _reads.pop(key, None)  # a read begun before the change may have seen the old row


async def role_of(user_id: int, application_id: int) -> str | None:
    """The user's role in the workspace (None: not a member), cached; at most one read in flight
    per (user, workspace), however many sockets ask."""
    key = (user_id, application_id)
    cached = _roles.get(key)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    loop = asyncio.get_running_loop()
    read = _reads.get(key)
    if read is None or read.get_loop() is not loop:
        read = loop.create_task(_read_and_remember(key))
        _reads[key] = read
    return await asyncio.shield(read)


async def _read_and_remember(key: tuple[int, int]) -> str | None:
    role = await database_sync_to_async(_read_role, thread_sensitive=False)(*key)
    if _reads.get(key) is asyncio.current_task():  # not forgotten meanwhile
        del _reads[key]
        remember_role(*key, role)
    return role


# Workspaces ---------------------------------------------------------------------------------

_workspaces: dict[int, tuple[int | None, float]] = {}  # project -> (workspace, until)
_workspace_reads: dict[int, asyncio.Task] = {}


def remember_workspace(project_id: int, application_id: int | None) -> None:
    """Cache a project's workspace just read (a socket's connect reads it with the project)."""
    now = time.monotonic()
    if len(_workspaces) > 10_000:
        for key in [key for key, (_, until) in _workspaces.items() if until <= now]:
            del _workspaces[key]
    _workspaces[project_id] = (application_id, now + ROLE_TTL)


def forget_workspace(project_id: int) -> None:
    _workspaces.pop(project_id, None)
    _workspace_reads.pop(project_id, None)


async def workspace_of(project_id: int) -> int | None:
    """The project's workspace (None: the project is gone), cached; one read in flight per project."""
    cached = _workspaces.get(project_id)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    loop = asyncio.get_running_loop()
    read = _workspace_reads.get(project_id)
    if read is None or read.get_loop() is not loop:
        read = loop.create_task(_read_workspace(project_id))
        _workspace_reads[project_id] = read
    return await asyncio.shield(read)


async def _read_workspace(project_id: int) -> int | None:
    application_id = await database_sync_to_async(queries.workspace_of_project, thread_sensitive=False)(project_id)
    if _workspace_reads.get(project_id) is asyncio.current_task():
        del _workspace_reads[project_id]
        remember_workspace(project_id, application_id)
    return application_id


def _membership_changed(sender, instance: Membership, **kwargs) -> None:
    """A role changed or a member left: once committed, every socket of theirs checks again."""
    user_id, application_id = instance.user_id, instance.application_id

    def tell():
        forget_role(user_id, application_id)
        live.publish_member_change(user_id, application_id)

    transaction.on_commit(tell, robust=True)


def connect_signals() -> None:
    """Called from BoardsConfig.ready(): HTTP-only processes change memberships too."""
    post_save.connect(_membership_changed, sender=Membership, dispatch_uid="boards.sockets.membership_saved")
    post_delete.connect(_membership_changed, sender=Membership, dispatch_uid="boards.sockets.membership_deleted")
