"""The CSV exports of a board, streamed in keyset chunks under WSGI (gunicorn) and ASGI (daphne).

Keyset chunks, not a server-side cursor: a cursor keeps its connection (and its transaction, or a
WITH HOLD copy of the whole result) for the entire download, so a slow or vanished client holds a
pool connection as long as it likes. Here each chunk is one short indexed query whose connection
goes back to the pool before its rows are sent: while the stream waits on the client it holds no
connection at all, and a client that goes away leaves nothing checked out. Events are numbered
without gaps per project, so a chunk is an exact range, `seq > last AND seq <= last + CHUNK`:
no LIMIT, and no plan (stale statistics after a bulk load once chose a sort of every remaining
row, per chunk) can read more than the chunk. The event export is a consistent snapshot all the
same: events are append-only and numbered in commit order (boards.history), and the stream stops
at the last number committed when it started. Cards are read by id (`id > last ORDER BY id
LIMIT n`) up to the highest id at the start: each card appears once, as it was when its chunk
was read.

Under ASGI the stream is an async iterator. Django's ASGIHandler consumes a sync iterator whole,
in a thread, before sending the first byte; an async one it sends chunk by chunk, and it cancels
it when the client disconnects. Each chunk's query and formatting run in the request's own thread
(sync_to_async), off the event loop. Under WSGI it is a plain iterator the server writes as it
goes; the server closes it when the client has gone (a write fails).

Every export takes a heavy-request slot (boards.web.heavy) for as long as it streams.
"""

import csv
import io
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.db.models import BigIntegerField, Max, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from boards import history
from boards.models import Label, Priority, Project, Task, TaskEvent
from boards.web import heavy

CHUNK = 2000  # rows per query: ~0.3 MB of CSV, a few milliseconds of PostgreSQL
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8"


def safe_cell(value):
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _iso(value) -> str:
    return value.isoformat() if value else ""


@dataclass
class Export:
    """What to stream: `read(after)` returns the CSV rows after a key, the last key read, and
    whether that was the end."""

    filename: str
    header: list[str]
    read: Callable[[int], tuple[list[list], int, bool]]


EVENT_FIELDS = ["seq", "at", "kind"]
EVENT_COMPUTED = [
    # A deleted card's event keeps its id in the data.
    Coalesce("task_id", Cast(KeyTextTransform("task_id", "data"), BigIntegerField())),
    "task_title",
    "actor__username",
    "from_category",
    "to_category",
    # The JSON as PostgreSQL prints it: the same text json.dumps gives, without decoding and
    # re-encoding it in Python (half the cost of a row).
    Cast("data", TextField()),
]
EVENT_HEADER = ["seq", "at", "kind", "task_id", "task_title", "actor", "from_category", "to_category", "data"]
# Comment events quote the comment (its excerpt, boards.history.EXCERPT_MAX characters) in a column
# of its own, so a spreadsheet shows the discussion without parsing JSON; safe_cell escapes it too.
EVENT_COMPUTED.append(KeyTextTransform("excerpt", "data"))
EVENT_HEADER.append("comment")


def events(project: Project) -> Export:
    """The project's event log up to its last committed event, oldest first."""
    end = history.current_seq(project.pk)

    def read(after: int) -> tuple[list[list], int, bool]:
        upto = min(after + CHUNK, end)
        if upto <= after:
            return [], after, True
        rows = (
            TaskEvent.objects.filter(project_id=project.pk, seq__gt=after, seq__lte=upto)
            .order_by("seq")
            .values_list(*EVENT_FIELDS, *EVENT_COMPUTED)
        )
        return [[seq, _iso(at), *rest] for seq, at, *rest in rows], upto, upto >= end

    return Export(f"{project.key.lower()}-events.csv", EVENT_HEADER, read)


TASK_FIELDS = ["pk", "title", "task_status__name", "task_status__category", "assignee__username"]
TASK_FIELDS += ["reporter__username", "position", "archived_at", "created_at", "updated_at", "description"]
TASK_HEADER = ["id", "title", "column", "category", "assignee", "reporter", "position", "archived_at"]
TASK_HEADER += ["created_at", "updated_at", "description"]
# Planning (issue 14): the priority's name, the due day and instant, the labels' names (";"-separated).
TASK_PLANNING_FIELDS = ["priority", "due_date", "due_at", "label_ids"]
TASK_HEADER += ["priority", "due_date", "due_at", "labels"]


def _planning_cells(values, label_names: Callable[[], dict[int, str]]) -> list:
    priority, due_date, due_at, label_ids = values
    names = label_names() if label_ids else {}
    labels = "; ".join(sorted((names[pk] for pk in label_ids if pk in names), key=str.lower))
    return [Priority(priority).label, _iso(due_date), _iso(due_at), labels]


def tasks(project: Project) -> Export:
    """The project's cards (archived ones too) by id, up to the newest when the export started."""
    end = Task.objects.filter(project=project).aggregate(end=Max("pk"))["end"] or 0
    names: dict[int, str] = {}

    def label_names() -> dict[int, str]:
        # Read once, when the first card with labels comes: an export without labels costs nothing more.
        if not names:
            names.update(Label.objects.filter(project_id=project.pk).values_list("pk", "name"))
            names.setdefault(0, "")
        return names

    def read(after: int) -> tuple[list[list], int, bool]:
        rows = list(
            Task.objects.filter(project_id=project.pk, pk__gt=after, pk__lte=end)
            .order_by("pk")
            .values_list(*TASK_FIELDS, *TASK_PLANNING_FIELDS)[:CHUNK]
        )
        lines = [[*row[:7], _iso(row[7]), _iso(row[8]), _iso(row[9]), row[10]] for row in rows]
        lines = [[*line, *_planning_cells(row[-4:], label_names)] for line, row in zip(lines, rows, strict=True)]
        return lines, rows[-1][0] if rows else after, len(rows) < CHUNK

    return Export(f"{project.key.lower()}-tasks.csv", TASK_HEADER, read)


def _encode(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([safe_cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode()


def _release_connection() -> None:
    # Back to the pool between chunks. Inside atomic() (a test's transaction, a shell) the
    # connection is the caller's: closing it would end their transaction.
    if not connection.in_atomic_block:
        connection.close()


class _Stream:
    """The chunks of one export; close() gives its heavy-request slot back."""

    def __init__(self, export: Export, slot: heavy.Slot):
        self.export = export
        self.slot = slot
        self.after = 0
        self.finished = False
        # A response dropped without being closed (never sent, or a test that reads none of it)
        # gives its slot back when it is collected, not a lease later.
        weakref.finalize(self, slot.release)

    def head(self) -> bytes:
        return _encode([self.export.header])

    def next_chunk(self) -> bytes | None:
        """The next rows as CSV, None at the end; their connection is back in the pool already."""
        while not self.finished:
            try:
                rows, self.after, self.finished = self.export.read(self.after)
            finally:
                _release_connection()
            self.slot.renew()
            if rows:
                return _encode(rows)
        return None

    def close(self) -> None:
        self.slot.release()


class SyncStream(_Stream):
    def __iter__(self):
        try:
            yield self.head()  # before any query: the first byte never waits on the database
            while (chunk := self.next_chunk()) is not None:
                yield chunk
        finally:
            self.close()


class AsyncStream(_Stream):
    async def __aiter__(self):
        # thread_sensitive (the default): each chunk runs in this request's own thread, as its view did.
        next_chunk = sync_to_async(self.next_chunk)
        try:
            yield self.head()
            while (chunk := await next_chunk()) is not None:
                yield chunk
        finally:
            # Also on cancellation (the client disconnected): release the slot off the event loop,
            # since a hung Redis may take its timeout to answer.
            await sync_to_async(self.close, thread_sensitive=False)()


def response(request: HttpRequest, export: Export) -> HttpResponse:
    """The export streamed to the client, or 429 when the user or this process runs too many."""
    try:
        slot = heavy.acquire(request.user)
    except heavy.Busy as busy:
        return heavy.too_many(busy)
    stream_class = AsyncStream if isinstance(request, ASGIRequest) else SyncStream
    streamed = StreamingHttpResponse(stream_class(export, slot), content_type=CONTENT_TYPE)
    streamed["Content-Disposition"] = content_disposition_header(True, export.filename)
    return streamed
