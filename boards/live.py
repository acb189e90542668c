"""Live boards: what a committed change sends to the other people looking at the board.

Services call publish_on_commit() inside their transaction, after the write. It reads the
board's sequence number there (so each event carries its own), and on commit renders the HTML
fragments other viewers need (the card in its new place or removed, the counts of the columns it
touched, the project's progress and status) and hands them to publish().

publish() is fire and forget: the message goes to the channel layer from a background thread,
each send bounded by SEND_TIMEOUT; a failure is logged and never reaches the request.
"""

import asyncio
import logging
import queue
import re
import threading
from collections.abc import Iterable
from contextvars import ContextVar

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.template.loader import render_to_string

from boards.models import Project, Task, TaskStatus

log = logging.getLogger(__name__)

SEND_TIMEOUT = 1.0  # seconds; a send that takes longer is dropped (clients resync on the gap)
QUEUE_SIZE = 1000
# Beyond this many cards one event would be large: tell clients to re-fetch the board instead.
MAX_CARDS = 20

CARD_TEMPLATE = "boards/board.html#card"  # the board page's own partial: the two never disagree
CLIENT_HEADER = "X-Live-Client"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# The client id of the page that made the current request (from CLIENT_HEADER), set by
# boards.middleware.LiveClientMiddleware; events carry it so that page is not sent its own change.
origin_client: ContextVar[str | None] = ContextVar("origin_client", default=None)


def fit_receive_timeout() -> None:
    """Make channels-redis block on receive for less than the Redis read timeout.

    Its receive loop waits in BZPOPMIN for 5 s, but our clients give up reading after
    REDIS_SOCKET_TIMEOUT (well under a second, so a dead Redis cannot hang anything): every idle
    socket would die with a TimeoutError. Polling at half the read timeout costs one cheap Redis
    call per process every few hundred milliseconds.
    """
    from channels_redis.core import RedisChannelLayer

    hosts = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {}).get("hosts") or [{}]
    read_timeout = min((host.get("socket_timeout") or 0) for host in hosts if isinstance(host, dict)) or None
    if read_timeout:
        RedisChannelLayer.brpop_timeout = min(RedisChannelLayer.brpop_timeout, read_timeout / 2)


def group_name(project_id: int) -> str:
    return f"board.{project_id}"


def clean_client_id(value) -> str | None:
    """A page's client id when it is well formed, else None."""
    return value if isinstance(value, str) and _CLIENT_ID.match(value) else None


def current_seq(project_id: int) -> int | None:
    """The board's sequence number: the last event recorded in its history."""
    try:
        from boards import history
    except ImportError:  # the history log has not landed: events go without a number
        return None
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


async def _send(group: str, message: dict) -> None:
    try:
        await asyncio.wait_for(get_channel_layer().group_send(group, message), SEND_TIMEOUT)
    except Exception:  # noqa: BLE001 - a broadcast failure never reaches the writer
        if not _sender.failing:
            log.warning("live broadcast to %s failed; carrying on without live push", group, exc_info=True)
        _sender.failing = True
    else:
        if _sender.failing:
            log.info("live broadcast works again")
        _sender.failing = False


def publish(
    project_id: int, html: str, seq: int | None = None, exclude: str | None = None, *, viewer_html: str | None = None
) -> None:
    """Send HTML fragments to everyone watching the board, except the page `exclude` (which gets
    only the sequence number). `viewer_html`, when given, goes to read-only members instead.

    Fire and forget: never raises, never waits on the channel layer.
    """
    message = {"type": "board.event", "html": html, "viewer_html": viewer_html, "seq": seq, "origin": exclude}
    group = group_name(project_id)
    try:
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            # One process, no network; its queues belong to the server's event loop, which
            # async_to_sync reaches from a request thread.
            from asgiref.sync import async_to_sync

            async_to_sync(_send)(group, message)
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
    resync: bool = False,
) -> None:
    """After this transaction commits, send the board's viewers the fragments for these cards and
    columns (resync=True: tell them to re-fetch the board). Call inside atomic(), after the write.
    """
    seq = current_seq(project_id)
    origin = origin_client.get()
    task_ids = list(dict.fromkeys(task_ids))
    column_ids = list(dict.fromkeys(c for c in column_ids if c))
    if len(task_ids) > MAX_CARDS:
        resync = True

    def send():
        try:
            html = render_change(
                project_id=project_id, task_ids=task_ids, column_ids=column_ids, seq=seq, resync=resync
            )
        except Exception:  # noqa: BLE001 - the write is committed; viewers resync on the gap
            log.exception("rendering the live event of project %s failed", project_id)
            return
        publish(project_id, html["editor"], seq=seq, exclude=origin, viewer_html=html["viewer"])

    transaction.on_commit(send, robust=True)


# Rendering ----------------------------------------------------------------------------------


def meta(*, seq: int | None, resync: bool = False, kind: str = "change") -> str:
    """The element every message starts with: live.js reads the sequence number from it."""
    return render_to_string("boards/live/meta.html", {"seq": seq, "resync": resync, "kind": kind})


def render_change(
    *, project_id: int, task_ids: list[int], column_ids: list[int], seq: int | None, resync: bool = False
) -> dict[str, str]:
    """The fragments of one committed change, read fresh from the database: {"editor": html,
    "viewer": html}, since a card shows its move and archive menu only to those who may use it."""
    head = meta(seq=seq, resync=resync)
    if resync:
        return {"editor": head, "viewer": head}
    project = Project.objects.select_related("status_aggregation", "derived_status").get(pk=project_id)
    tasks = {
        task.pk: task
        for task in Task.objects.live()
        .filter(project_id=project_id, pk__in=task_ids)
        .select_related("task_status", "assignee")
    }
    cards = []
    for task_id in task_ids:
        task = tasks.get(task_id)
        if task is not None:
            column_ids.append(task.task_status_id)
        cards.append({"id": task_id, "task": task, "after_id": _card_above(task) if task else None})
    all_columns = list(TaskStatus.objects.filter(project_id=project_id).order_by("position", "pk"))
    columns = [column for column in all_columns if column.pk in set(column_ids)]
    if columns:
        counts = dict(
            Task.objects.live()
            .filter(project_id=project_id, task_status_id__in=[column.pk for column in columns])
            .values_list("task_status_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for column in columns:  # as the board's column_count partial expects them
            column.count = counts.get(column.pk, 0)
            column.matching = None
            column.over = bool(column.wip_limit and column.count > column.wip_limit)
            column.full = bool(column.wip_limit and column.count >= column.wip_limit)
    # `columns` is what the card's move menu lists; `changed_columns` get their counts refreshed.
    context = {"project": project, "cards": cards, "columns": all_columns, "changed_columns": columns}
    html = {}
    for audience, can_edit in (("editor", True), ("viewer", False)):
        body = render_to_string(
            "boards/live/change.html", {**context, "card_template": CARD_TEMPLATE, "can_edit": can_edit}
        )
        html[audience] = head + body
    return html


def _card_above(task: Task) -> int | None:
    """The card just above this one in its column (board order: position, pk)."""
    above = Q(position__lt=task.position) | Q(position=task.position, pk__lt=task.pk)
    return (
        Task.objects.live()
        .filter(above, project_id=task.project_id, task_status_id=task.task_status_id)
        .order_by("-position", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
