"""The board's WebSocket: pushes live fragments, keeps presence, renews edit locks.

Writes go over HTTP. asgi.py's middleware refuses a handshake from another origin
(boards.sockets.OriginValidator) and reads the session. Then a socket is accepted only for a
member of the project's workspace (anyone else is closed with 4403 before joining any group) who
has fewer than settings.WS_SOCKETS_PER_USER sockets open (one more is closed with 4429, which the
page does not retry).

Each event arrives rendered (boards.live renders it once on commit, one version per role); a
socket only picks its role's version and forwards it. Its membership is checked on every event
against a per-process cache (boards.sockets.role_of) that a membership change clears at once: a
member removed from the workspace is closed with 4403 as soon as the change is committed.

Messages from the page: {"type": "ping"} (heartbeat), {"type": "lock"|"unlock", "task": id} to
renew or give back an edit lock the user holds, {"type": "take", "task": id} to take one (the
card view takes it when Edit is asked for; the page sends "take" on the first keystroke after
giving it back on blur). Every lock taken, renewed or given back is told to the whole board
(a live-lock message), which marks the card as being edited.
"""

import asyncio
import json
import logging
import uuid
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.template.loader import render_to_string

from accounts import people
from boards import queries
from boards.forms import parse_id
from boards.live import events as live
from boards.live import fragments, presence, sockets

log = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429  # too many messages, or too many sockets open: the page does not retry
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
        return queries.get_project_for(user, project_id)
    except Http404:
        return None


def presence_html(project_id: int) -> str:
    """The list of people with a fresh heartbeat on this board, as an oob fragment. Only members
    of the board's workspace: a member removed a moment ago keeps a heartbeat until it expires."""
    presence.presence_prune(project_id)
    ids = presence.presence_user_ids(project_id)
    users = queries.present_members(project_id, ids)
    viewers = [
        {"pk": users[pk].pk, "avatar": people.avatar(users[pk]), "name": people.display_name(users[pk])}
        for pk in ids
        if pk in users
    ]
    return render_to_string("boards/live/presence.html", {"project_id": project_id, "viewers": viewers})


class BoardConsumer(AsyncWebsocketConsumer):
    joined = False
    slot: str | None = None
    role: str | None = None
    held_locks: set[int]  # edit locks this page took or renewed: given back when its socket closes

    @property
    def can_edit(self) -> bool:
        return self.role in presence.EDIT_ROLES

    async def connect(self):
        self.project_id = self.scope["url_route"]["kwargs"]["project_id"]
        self.held_locks = set()
        self.group = live.group_name(self.project_id)
        self.user = self.scope.get("user")
        if not getattr(self.user, "is_authenticated", False):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        # Before any query: a client opening sockets by the hundred costs one Redis call each.
        self.slot = await sockets.claim_slot(self.user.pk)
        if self.slot is None:
            log.warning(
                "board %s: user %s already has %s sockets open; closing one more",
                self.project_id,
                self.user.pk,
                settings.WS_SOCKETS_PER_USER,
            )
            await self.refuse(CLOSE_RATE_LIMITED)
            return
        project = await _db(_project_for)(self.user, self.project_id)
        if project is None:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.application_id = project.application_id
        self.role = project.role
        sockets.remember_role(self.user.pk, self.application_id, project.role)
        sockets.remember_workspace(self.project_id, self.application_id)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.client_id = live.clean_client_id((query.get("client") or [None])[0])
        self.presence_member = f"{self.user.pk}:{uuid.uuid4().hex[:12]}"
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.channel_layer.group_add(live.member_group(self.user.pk), self.channel_name)
        except Exception:  # noqa: BLE001 - no channel layer: the page retries, the board still works
            log.warning("board %s: cannot join the live group; asking the page to retry", self.project_id)
            await self.refuse(CLOSE_TRY_AGAIN)
            return
        self.joined = True
        await self.accept()
        # After joining: an event committed from now on reaches this socket, one committed before
        # is covered by this number (the page re-fetches the board when it is ahead of it).
        seq = await _db(live.current_seq)(self.project_id)
        await self.send(text_data=fragments.meta(seq=seq, kind="hello"))
        await _redis(presence.presence_touch)(self.project_id, self.presence_member)
        await self.broadcast_presence()

    async def refuse(self, code):
        """Accept only to send a close code the page can tell apart; nothing joined, nothing sent."""
        await self.release_slot()
        await self.accept()
        await self.close(code=code)

    async def release_slot(self):
        if self.slot is not None:
            slot, self.slot = self.slot, None
            await sockets.release_slot(slot)

    async def disconnect(self, code):
        await self.release_slot()
        if not self.joined:
            return
        self.joined = False
        for group in (self.group, live.member_group(self.user.pk)):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # noqa: BLE001 - the group entry expires by itself
                log.info("board %s: leaving the live group %s failed", self.project_id, group)
        await _redis(presence.presence_leave)(self.project_id, self.presence_member)
        await self.broadcast_presence()
        # The page's own "unlock" on pagehide may not get out before its socket closes: whatever
        # this page still held goes now, not when the lock expires.
        for task_id in sorted(self.held_locks):
            await self.give_back(task_id)

    async def receive(self, text_data=None, bytes_data=None):
        if not self.joined:
            return
        if await _redis(presence.rate_limited)(self.user.pk):
            log.warning(
                "board %s: user %s is over the rate limit (%s messages in %s s); closing their socket",
                self.project_id,
                self.user.pk,
                presence.RATE_LIMIT,
                presence.RATE_WINDOW,
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
        elif kind in ("lock", "unlock", "take"):
            await self.edit_lock(kind, message.get("task"))

    async def heartbeat(self):
        await _redis(presence.presence_touch)(self.project_id, self.presence_member)
        try:
            # Idempotent; puts the socket back in its groups if Redis lost them (a restart).
            await self.channel_layer.group_add(self.group, self.channel_name)
            await self.channel_layer.group_add(live.member_group(self.user.pk), self.channel_name)
        except Exception:  # noqa: BLE001
            log.info("board %s: re-joining the live group failed", self.project_id)
        if await _redis(presence.presence_prune)(self.project_id):
            await self.broadcast_presence()

    async def edit_lock(self, kind: str, task_id):
        """Take, renew or give back the edit lock of a card whose editor this page has open.

        Renewing and giving back touch only a lock this user holds (realtime checks the holder);
        taking needs a role that may edit (presence.lock_acquire refuses others) and a live card
        of this board.
        """
        task_id = parse_id(task_id)
        if task_id is None:
            return
        if kind == "unlock":
            await self.give_back(task_id)
            return
        if not self.can_edit:
            return
        if kind == "lock":
            state = await _redis(presence.lock_renew)(task_id, self.user.pk)
        elif await _db(queries.card_on_board)(self.project_id, task_id):
            name = await _db(display_name)(self.user)  # may read the profile: not on the event loop
            state = await _redis(presence.lock_acquire)(task_id, self.user.pk, name, role=self.role)
        else:
            return
        if state.held:
            self.held_locks.add(task_id)
            # The board marks the card (a renewal too: a page opened since learns of it, and
            # pages that heard nothing for a while drop the mark by themselves).
            await self.tell_lock(task_id, state.holder_name or await _db(display_name)(self.user))
        elif state.holder_id is not None:
            # Someone else holds it: only this page needs to know, its editor says so.
            await self.send(text_data=live.lock_html(task_id, user_id=state.holder_id, name=state.holder_name))

    async def give_back(self, task_id: int):
        self.held_locks.discard(task_id)
        if await _redis(presence.lock_release)(task_id, self.user.pk):
            await self.tell_lock(task_id, "")

    async def tell_lock(self, task_id: int, name: str):
        html = live.lock_html(task_id, user_id=self.user.pk, name=name)
        await self.group_send_safe({"type": "board.lock", "html": html})

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
        """Whether the user is still a member of the board's workspace (their role refreshed
        from the process's cache: no query); closes the socket with 4403 when not, or when the
        project is gone. A project moved to another workspace is checked there."""
        application_id = await sockets.workspace_of(self.project_id)
        if application_id is not None and application_id != self.application_id:
            self.application_id = application_id
        role = None if application_id is None else await sockets.role_of(self.user.pk, self.application_id)
        if role is not None:
            self.role = role
            return True
        log.info("board %s: user %s is no longer a member; closing their socket", self.project_id, self.user.pk)
        await self.leave(CLOSE_FORBIDDEN)
        return False

    # Group events ---------------------------------------------------------------------------

    async def dispatch(self, message):
        """Group events go straight to their handler; the socket's own messages (connect, receive,
        disconnect) go through channels' dispatch, which first closes stale database connections
        in the thread-sensitive thread.

        That close is a hop to one shared thread and back for every message of every socket: on a
        board with 250 sockets in a process it cost more than sending the event to them all, one
        after another. The handlers below query only through _db/database_sync_to_async, which
        close stale connections around each call in the thread that runs it.
        """
        if message["type"].startswith("websocket."):
            await super().dispatch(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def board_event(self, event):
        """A committed change: its fragments, or to the page that made it only its number."""
        if not self.joined or not await self.still_member():
            return
        if event.get("origin") and event["origin"] == self.client_id:
            await self.send(
                text_data=fragments.meta(seq=event.get("seq"), first_seq=event.get("first_seq"), kind="own")
            )
        elif not self.can_edit and event.get("viewer_html"):
            await self.send(text_data=event["viewer_html"])
        else:
            await self.send(text_data=event["html"])

    async def board_lock(self, event):
        """Someone took or gave back a card's edit lock: the page marks the card."""
        if self.joined and await self.still_member():
            await self.send(text_data=event["html"])

    async def board_presence(self, event):
        if self.joined and await self.still_member():
            await self.send(text_data=event["html"])

    async def board_moved(self, event):
        """The project moved to another workspace: membership there is what counts now."""
        if not self.joined:
            return
        sockets.remember_workspace(self.project_id, event["application_id"])
        await self.still_member()

    async def board_closed(self, event):
        """The project was deleted: nothing more will come."""
        sockets.remember_workspace(self.project_id, None)
        if self.joined:
            await self.leave(CLOSE_FORBIDDEN)

    async def member_changed(self, event):
        """The user's membership of some workspace changed (boards.sockets): check this board's
        again, so a removed member is closed now, not at the next event."""
        if not self.joined or event.get("application_id") != self.application_id:
            return
        sockets.forget_role(self.user.pk, self.application_id, change=event.get("change"))
        await self.still_member()

    async def member_notice(self, event):
        """Something for this user alone, whatever the board (their notification bell): their own
        count, so no membership check of this board is needed."""
        if self.joined:
            await self.send(text_data=event["html"])


def display_name(user) -> str:
    return people.display_name(user)
