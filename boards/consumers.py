"""The board's WebSocket: pushes live fragments, keeps presence, renews edit locks.

Writes go over HTTP. A socket is accepted only for a member of the project's workspace (origin
and session are checked by asgi.py's middleware before this); anyone else is closed with 4403
before joining any group. Membership is checked again on every event, so a member removed from
the workspace is dropped at the next one.
"""

import asyncio
import json
import logging
import uuid
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model
from django.http import Http404
from django.template.loader import render_to_string

from boards import live, realtime
from boards.access import get_project_for
from boards.models import Membership

log = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
CLOSE_TRY_AGAIN = 1013  # the htmx ws extension reconnects on this code
PRESENCE_DEBOUNCE = 0.25  # seconds

_presence_pending: set[int] = set()  # boards with a presence broadcast due from this process


def _db(fn):
    """A short query off the event loop, in the shared thread pool.

    Not channels' default single thread: every socket of a board runs a membership check on each
    event, and queued behind one thread those checks would delay the fan-out by their sum.
    """
    return database_sync_to_async(fn, thread_sensitive=False)


def _redis(fn):
    """Run a blocking realtime call off the event loop, outside the shared database thread."""
    return sync_to_async(fn, thread_sensitive=False)


def _project_for(user, project_id):
    try:
        return get_project_for(user, project_id)
    except Http404:
        return None


def _role(user_id: int, application_id: int) -> str | None:
    """The user's role in the workspace, None when they are no longer a member."""
    return (
        Membership.objects.filter(user_id=user_id, application_id=application_id).values_list("role", flat=True).first()
    )


def initials(user) -> str:
    name = user.get_full_name() or user.get_username()
    parts = name.split()
    letters = "".join(part[0] for part in parts[:2]) if len(parts) > 1 else name[:2]
    return letters.upper()


def presence_html(project_id: int) -> str:
    """The list of people with a fresh heartbeat on this board, as an oob fragment. Only members
    of the board's workspace: a member removed a moment ago keeps a heartbeat until it expires."""
    realtime.presence_prune(project_id)
    ids = realtime.presence_user_ids(project_id)
    users = get_user_model().objects.filter(memberships__application__projects=project_id).in_bulk(ids)
    viewers = [
        {"pk": users[pk].pk, "initials": initials(users[pk]), "name": users[pk].get_full_name() or users[pk]}
        for pk in ids
        if pk in users
    ]
    return render_to_string("boards/live/presence.html", {"project_id": project_id, "viewers": viewers})


class BoardConsumer(AsyncWebsocketConsumer):
    joined = False

    async def connect(self):
        self.project_id = self.scope["url_route"]["kwargs"]["project_id"]
        self.group = live.group_name(self.project_id)
        self.user = self.scope.get("user")
        project = await _db(_project_for)(self.user, self.project_id)
        if project is None:
            # Accept only to send a close code the page can tell apart; nothing joined, nothing sent.
            await self.accept()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.application_id = project.application_id
        self.can_edit = project.role in (Membership.Role.OWNER, Membership.Role.EDITOR)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.client_id = live.clean_client_id((query.get("client") or [None])[0])
        self.presence_member = f"{self.user.pk}:{uuid.uuid4().hex[:12]}"
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception:  # noqa: BLE001 - no channel layer: the page retries, the board still works
            log.warning("board %s: cannot join the live group; asking the page to retry", self.project_id)
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        self.joined = True
        await self.accept()
        # After joining: an event committed from now on reaches this socket, one committed before
        # is covered by this number (the page re-fetches the board when it is ahead of it).
        seq = await _db(live.current_seq)(self.project_id)
        await self.send(text_data=live.meta(seq=seq, kind="hello"))
        await _redis(realtime.presence_touch)(self.project_id, self.presence_member)
        await self.broadcast_presence()

    async def disconnect(self, code):
        if not self.joined:
            return
        self.joined = False
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        except Exception:  # noqa: BLE001 - the group entry expires by itself
            log.info("board %s: leaving the live group failed", self.project_id)
        await _redis(realtime.presence_leave)(self.project_id, self.presence_member)
        await self.broadcast_presence()

    async def receive(self, text_data=None, bytes_data=None):
        if not self.joined:
            return
        if await _redis(realtime.rate_limited)(self.user.pk):
            log.warning(
                "board %s: user %s is over the rate limit (%s messages in %s s); closing their socket",
                self.project_id,
                self.user.pk,
                realtime.RATE_LIMIT,
                realtime.RATE_WINDOW,
            )
            await self.leave(CLOSE_RATE_LIMITED)
            return
        try:
            message = json.loads(text_data or "{}")
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "ping":
            await self.heartbeat()
        elif kind in ("lock", "unlock") and self.can_edit:
            await self.renew_lock(message.get("task"), release=kind == "unlock")

    async def heartbeat(self):
        await _redis(realtime.presence_touch)(self.project_id, self.presence_member)
        try:
            # Idempotent; puts the socket back in its group if Redis lost it (a restart).
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception:  # noqa: BLE001
            log.info("board %s: re-joining the live group failed", self.project_id)
        if await _redis(realtime.presence_prune)(self.project_id):
            await self.broadcast_presence()

    async def renew_lock(self, task_id, *, release: bool):
        """Keep (or give back) the edit lock of a card whose editor this page has open."""
        try:
            task_id = int(task_id)
        except (TypeError, ValueError):
            return
        if not await _db(_task_on_board)(task_id, self.project_id):
            return
        if release:
            await _redis(realtime.lock_release)(task_id, self.user.pk)
        else:
            await _redis(realtime.lock_acquire)(task_id, self.user.pk, display_name(self.user))

    async def broadcast_presence(self):
        """Tell the board who is here, once per PRESENCE_DEBOUNCE per process: when many people
        open a board at once, one list goes out, not one per arrival (n² messages)."""
        if self.project_id in _presence_pending:
            return
        _presence_pending.add(self.project_id)
        try:
            await asyncio.sleep(PRESENCE_DEBOUNCE)
        finally:
            _presence_pending.discard(self.project_id)
        html = await _db(presence_html)(self.project_id)
        await self.group_send_safe({"type": "board.presence", "html": html})

    async def group_send_safe(self, message):
        try:
            await self.channel_layer.group_send(self.group, message)
        except Exception:  # noqa: BLE001
            log.info("board %s: live broadcast failed", self.project_id)

    async def leave(self, code):
        await self.disconnect(code)
        await self.close(code=code)

    async def still_member(self) -> bool:
        role = await _db(_role)(self.user.pk, self.application_id)
        if role is not None:
            self.can_edit = role in (Membership.Role.OWNER, Membership.Role.EDITOR)
            return True
        log.info("board %s: user %s is no longer a member; closing their socket", self.project_id, self.user.pk)
        await self.leave(CLOSE_FORBIDDEN)
        return False

    # Group events ---------------------------------------------------------------------------

    async def board_event(self, event):
        """A committed change: its fragments, or to the page that made it only its number."""
        if not self.joined or not await self.still_member():
            return
        if event.get("origin") and event["origin"] == self.client_id:
            await self.send(text_data=live.meta(seq=event.get("seq"), first_seq=event.get("first_seq"), kind="own"))
        elif not self.can_edit and event.get("viewer_html"):
            await self.send(text_data=event["viewer_html"])
        else:
            await self.send(text_data=event["html"])

    async def board_presence(self, event):
        if self.joined and await self.still_member():
            await self.send(text_data=event["html"])


def _task_on_board(task_id: int, project_id: int) -> bool:
    from boards.models import Task

    return Task.objects.filter(pk=task_id, project_id=project_id).exists()


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()
