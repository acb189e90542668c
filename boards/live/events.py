"""Live boards: what a committed change sends to the other people looking at the board.

Services call publish_on_commit() with data only (the cards and columns a change touched, its
history events) inside their transaction, after the write. On commit the event is rendered once
(boards.live.fragments.render_change: the card in its new place or removed, the counts of the
columns it touched, the project's progress and status, from the board page's own partials) and
handed to publish(). The page that made the change (its client id comes with the request) gets
only the numbers. This module imports fragments, fragments reads through boards.queries: the
services that call it are never imported back.

publish() is fire and forget: the message goes to the channel layer from a background thread,
each send bounded by SEND_TIMEOUT; a failure is logged and never reaches the request.
"""

import asyncio
import logging
import queue
import re
import threading
import uuid
from collections.abc import Iterable, Sequence
from contextvars import ContextVar

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import InMemoryChannelLayer, channel_layers, get_channel_layer
from django.db import transaction
from django.utils.html import format_html

from boards import history
from boards.live import fragments, presence

log = logging.getLogger(__name__)

SEND_TIMEOUT = 1.0  # seconds; a send that takes longer is dropped (clients resync on the gap)
QUEUE_SIZE = 1000
# Beyond this many cards one event would be large: tell clients to re-fetch the board instead.
MAX_CARDS = 20

CLIENT_HEADER = "X-Live-Client"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# The client id of the page that made the current request (from CLIENT_HEADER), set by
# boards.live.middleware.LiveClientMiddleware; events carry it so that page is not sent its own change.
origin_client: ContextVar[str | None] = ContextVar("origin_client", default=None)


def group_name(project_id: int) -> str:
    return f"board.{project_id}"


def member_group(user_id: int) -> str:
    """Every open board socket of one user, whatever the board: membership changes go here."""
    return f"member.{user_id}"


def watched(project_id: int) -> bool:
    """Whether any socket is in the board's group. Most writes go to boards nobody has open, and
    rendering their fragments would cost a write several queries for no one."""
    layer = get_channel_layer()
    group = group_name(project_id)
    if isinstance(layer, InMemoryChannelLayer):
        return bool(layer.groups.get(group))
    group_key = getattr(layer, "_group_key", None)  # channels-redis names its group sorted sets
    if group_key is None:
        return True
    size = presence.group_size(group_key(group).decode())
    return size is None or size > 0  # unknown: render and try, the send decides


def clean_client_id(value) -> str | None:
    """A page's client id when it is well formed, else None."""
    return value if isinstance(value, str) and _CLIENT_ID.match(value) else None


def current_seq(project_id: int) -> int:
    """The board's sequence number: the last event recorded in its history (boards.history).

    Inside a writer's transaction, after its history record, this is that change's own number:
    the sequence row stays locked by the writer until it commits.
    """
    return history.current_seq(project_id)


# Publishing ---------------------------------------------------------------------------------


class _Sender:
    """One daemon thread with its own event loop sends queued messages, in order."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self.thread: threading.Thread | None = None
        self.start_lock = threading.Lock()
        self.failing = False

    def submit(self, group: str, message: dict) -> None:
        if self.thread is None or not self.thread.is_alive():
            with self.start_lock:
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self._run, name="live-publish", daemon=True)
                    self.thread.start()
        try:
            self.queue.put_nowait((group, message))
        except queue.Full:
            log.warning("live publish queue full; dropped an event for %s (clients resync on the gap)", group)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        while True:
            group, message = self.queue.get()
            try:
                loop.run_until_complete(_send(group, message))
            finally:
                self.queue.task_done()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was sent or dropped; for tests and benchmarks."""
        with self.queue.all_tasks_done:
            return self.queue.all_tasks_done.wait_for(lambda: not self.queue.unfinished_tasks, timeout)


_sender = _Sender()


_own_layer: tuple = (None, None)  # (the shared layer it was made for, the sender's own instance)


def _sender_layer():
    """The sender thread's own layer instance, with the shared one's settings. channels-redis
    keeps a pool per event loop in each instance, and flush() on the shared one would close this
    thread's connections from another loop."""
    global _own_layer
    shared = get_channel_layer()
    if _own_layer[0] is not shared:
        _own_layer = (shared, channel_layers.make_backend(DEFAULT_CHANNEL_LAYER))
    return _own_layer[1]


async def _send(group: str, message: dict, layer=None) -> None:
    try:
        await asyncio.wait_for((layer or _sender_layer()).group_send(group, message), SEND_TIMEOUT)
    except Exception:  # noqa: BLE001 - a broadcast failure never reaches the writer
        if not _sender.failing:
            log.warning("live broadcast to %s failed; carrying on without live push", group, exc_info=True)
        _sender.failing = True
    else:
        if _sender.failing:
            log.info("live broadcast works again")
        _sender.failing = False


def publish(
    project_id: int,
    html: str,
    seq: int | None = None,
    exclude: str | None = None,
    *,
    first_seq: int | None = None,
    viewer_html: str | None = None,
) -> None:
    """Send HTML fragments to everyone watching the board, except the page `exclude` (which gets
    only the sequence number). `viewer_html`, when given, goes to read-only members instead.

    Fire and forget: never raises, never waits on the channel layer.
    """
    message = {
        "type": "board.event",
        "html": html,
        "viewer_html": viewer_html,
        "seq": seq,
        "first_seq": first_seq,
        "origin": exclude,
    }
    _dispatch(group_name(project_id), message)


def lock_html(task_id: int, *, user_id: int, name: str) -> str:
    """The message that tells a board who holds a card's edit lock (name empty: given back).
    live.js reads it and marks the card wherever the page shows it; nothing is swapped."""
    return format_html(
        '<div id="live-lock" hidden data-task="{}" data-user="{}" data-name="{}"></div>', task_id, user_id, name
    )


def publish_lock(project_id: int, task_id: int, *, user_id: int, name: str) -> None:
    """Tell everyone on the board that this user took (name given) or gave back (name "") the
    card's edit lock. Outside the sequence of changes: a lost one is corrected by the next
    renewal, or by the page's own expiry of a lock it stops hearing about. Fire and forget."""
    html = lock_html(task_id, user_id=user_id, name=name)
    _dispatch(group_name(project_id), {"type": "board.lock", "html": html})


def publish_member_change(user_id: int, application_id: int) -> None:
    """Tell every open socket of this user, in every process, that their membership of the
    workspace changed (a role, or gone): each checks it again, and closes when it is gone.
    Call on commit. Fire and forget, like publish()."""
    message = {"type": "member.changed", "application_id": application_id, "change": uuid.uuid4().hex}
    _dispatch(member_group(user_id), message)


def publish_to_member(user_id: int, html: str) -> None:
    """Send an HTML fragment (an oob swap, outside the board's sequence: the notification bell)
    to every open board socket of this user. Fire and forget, like publish()."""
    _dispatch(member_group(user_id), {"type": "member.notice", "html": html})


def publish_board_moved(project_id: int, application_id: int) -> None:
    """Tell the board's open sockets that the project now belongs to another workspace: each
    checks its user's membership there and closes (4403) when they have none. Call on commit."""
    _dispatch(group_name(project_id), {"type": "board.moved", "application_id": application_id})


def publish_board_closed(project_id: int) -> None:
    """Tell the board's open sockets that the project is gone: each closes (4403). Call on commit."""
    _dispatch(group_name(project_id), {"type": "board.closed"})


def _dispatch(group: str, message: dict) -> None:
    try:
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            # One process, no network; its queues belong to the server's event loop, which
            # async_to_sync reaches from a request thread.
            from asgiref.sync import async_to_sync

            async_to_sync(_send)(group, message, layer)
        else:
            _sender.submit(group, message)
    except Exception:  # noqa: BLE001
        log.warning("live publish to %s failed", group, exc_info=True)


def flush(timeout: float = 5.0) -> bool:
    """Wait for queued broadcasts to go out; True when the queue drained."""
    return _sender.flush(timeout)


def publish_on_commit(
    *,
    project_id: int,
    task_ids: Iterable[int] = (),
    column_ids: Iterable[int] = (),
    events: Sequence | None = None,
    resync: bool = False,
) -> None:
    """After this transaction commits, send the board's viewers the fragments for these cards and
    columns (resync=True: tell them to re-fetch the board). Call inside atomic(), after the write
    and its history `events`, whose sequence numbers the message carries.
    """
    seqs = [event.seq for event in events or ()]
    first_seq, seq = (min(seqs), max(seqs)) if seqs else (None, None)
    origin = origin_client.get()
    task_ids = list(dict.fromkeys(task_ids))
    column_ids = list(dict.fromkeys(c for c in column_ids if c))
    if len(task_ids) > MAX_CARDS:
        resync = True

    def send():
        if not watched(project_id):
            return  # nobody to tell: a page that opens later asks for the board as it is
        try:
            html = fragments.render_change(
                project_id=project_id,
                task_ids=task_ids,
                column_ids=column_ids,
                seq=seq,
                first_seq=first_seq,
                resync=resync,
            )
        except Exception:  # noqa: BLE001 - the write is committed; viewers resync on the gap
            log.exception("rendering the live event of project %s failed", project_id)
            return
        publish(project_id, html["editor"], seq=seq, exclude=origin, first_seq=first_seq, viewer_html=html["viewer"])

    transaction.on_commit(send, robust=True)
