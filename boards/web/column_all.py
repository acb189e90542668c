"""A whole column ("Show all"): its cards streamed in chunks, so a column of any size costs the
server the memory of one chunk.

With htmx (HX-Request, static/js/column.js) the answer is the cards after the board's "Show
more" cursor, CHUNK at a time, each chunk followed by BOUNDARY, and at the end the column's
"more" region (empty, or a "Show more" past LIMIT). column.js inserts each chunk as it arrives.
Without JavaScript the link opens the whole column as a page, streamed the same way.

Each chunk is one short indexed query (queries.column_chunk: keyset by rank), rendered with the
board's card_face; its connection goes back to the pool before the chunk is sent, as the CSV
exports do (boards.web.exports), so a slow client holds no connection. Bounded: at most LIMIT
cards per request, and each request holds a heavy-request slot (boards.web.heavy) while it streams.
Under ASGI the stream is an async iterator (Django would read a sync one whole before sending).
"""

import weakref

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.db import connection
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from boards import forms, queries
from boards.queries import can_edit, get_project_for
from boards.web import heavy

CHUNK = 250  # cards per query and per piece of the answer: ~0.4 MB of HTML, a few ms of PostgreSQL
LIMIT = 10_000  # cards per request; past it the column's "more" region carries on from the last one
BOUNDARY = "<!--chunk-->"  # column.js inserts what came before the last one it has
_MARKER = mark_safe("<!--cards-->")  # where the page's cards go (the page's head and tail around it)  # noqa: S308


def _release_connection() -> None:
    # Back to the pool between chunks; inside atomic() (a test) the connection is the caller's.
    if not connection.in_atomic_block:
        connection.close()


class _Stream:
    """The parts of one answer: the head, the chunks of cards, the tail; close() gives the
    heavy-request slot back.

    read(key, n) gives up to n cards after `key`; next_key(key, cards) the key after them;
    render(cards) their HTML; tail(last card or None when the column ended, cards sent) the end.
    """

    def __init__(self, *, read, next_key, render, tail, after, head: str, slot: heavy.Slot):
        self.read, self.next_key, self.render, self.tail = read, next_key, render, tail
        self.key = after
        self.head = head
        self.slot = slot
        self.sent = 0
        self.finished = False
        weakref.finalize(self, slot.release)  # a response dropped unread gives its slot back

    def next_part(self) -> bytes | None:
        """The next part as bytes (the head, a chunk of cards, the tail at the end); None after it.
        A chunk is one query, its connection back in the pool before the chunk is sent."""
        if self.head:
            head, self.head = self.head, ""
            return head.encode()
        if self.finished:
            return None
        size = min(CHUNK, LIMIT - self.sent)
        try:
            cards = self.read(self.key, size + 1)  # one more: whether the column goes on
            more = len(cards) > size
            cards = cards[:size]
            self.sent += len(cards)
            self.key = self.next_key(self.key, cards)
            html = self.render(cards) if cards else ""
            if not more or self.sent >= LIMIT:
                self.finished = True
                html += self.tail(cards[-1] if more else None, self.sent)
        finally:
            _release_connection()
        self.slot.renew()
        return html.encode()

    def close(self) -> None:
        self.slot.release()


class _SyncStream(_Stream):
    def __iter__(self):
        try:
            while (part := self.next_part()) is not None:
                yield part
        finally:
            self.close()


class _AsyncStream(_Stream):
    async def __aiter__(self):
        next_part = sync_to_async(self.next_part)  # in the request's own thread, as its view ran
        try:
            while (part := await next_part()) is not None:
                yield part
        finally:
            await sync_to_async(self.close, thread_sensitive=False)()


@require_GET
@login_required
@vary_on_headers("HX-Request")
def column_all(request, project_id: int, status_id: int) -> HttpResponse:
    """Every card of a column (of a lane's cell with `lane`) after the cursor, streamed; without
    htmx the whole column, from the top, as a page."""
    project = get_project_for(request.user, project_id)
    form = forms.ColumnAllForm(request.GET)
    column = queries.column_of(project, status_id)
    if column is None or not form.is_valid():
        raise Http404("No such column.")
    board_filter = form.board_filter(request.user)
    labels = queries.labels_of(project)
    lane_key = form.cleaned_data["lane"]
    lane = None
    if lane_key:
        rule = queries.grouping(board_filter.lanes, labels)
        lane = (rule, rule.value(lane_key))
    page = not request.htmx
    after = None if page else form.cleaned_data["after"]
    if board_filter.sort and after is None:
        after = 0
    context = {
        "project": project,
        "column": column,
        "cell": column,
        "lane": {"key": lane_key} if lane_key else None,
        "columns": queries.columns_of(project),
        "labels": labels,
        "can_edit": can_edit(project),
        "filter": board_filter,
        "oob": False,
        "focus": False,
        "focus_id": None,
    }

    def read(key, size: int) -> list:
        return queries.column_chunk(project, column, board_filter, key, size, lane=lane)

    def next_key(key, cards):
        if isinstance(key, int):  # a sorted view: by offset
            return key + len(cards)
        return (cards[-1].position, cards[-1].pk) if cards else key

    def render(cards) -> str:
        html = render_to_string("boards/column_page.html#cards", {**context, "cards": cards})
        return html if page else html + BOUNDARY

    def tail(last, sent: int) -> str:
        column.has_more = last is not None
        offset = (after if isinstance(after, int) else 0) + sent
        column.cursor = queries.cursor(last, board_filter, offset=offset) if last is not None else ""
        more = render_to_string(f"boards/board.html#{'cell_more' if lane_key else 'column_more'}", context)
        if not page:
            return more
        return ("" if sent else '<p class="empty">No cards.</p>') + page_end.replace(_MARKER, more)

    head = page_end = ""
    if page:
        html = render_to_string("boards/column_page.html", {**context, "whole": True, "marker": _MARKER}, request)
        head, _, page_end = html.partition(_MARKER)
    try:
        slot = heavy.acquire(request.user)
    except heavy.Busy as busy:
        return heavy.too_many(busy)
    stream_class = _AsyncStream if isinstance(request, ASGIRequest) else _SyncStream
    stream = stream_class(read=read, next_key=next_key, render=render, tail=tail, after=after, head=head, slot=slot)
    return StreamingHttpResponse(stream, content_type="text/html; charset=utf-8")
