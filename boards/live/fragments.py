"""The board's regions as HTML fragments, independent of any request, and the live event of a
committed change rendered from them.

The pages, the htmx responses and the live push all render these, so they cannot disagree.
Every region has a stable id (card-<id>, column-<id>-count, project-<id>-progress,
project-<id>-status …); a fragment marked hx-swap-oob replaces or places it wherever it is shown.
Reads go through boards.queries.
"""

from django.template.loader import render_to_string
from django.utils.html import format_html

from boards import queries
from boards.models import Project, Task
from boards.queries import BoardFilter, BoardState


def part(name: str, context: dict, *, oob=None) -> str:
    """One region of the board page; oob=True replaces it by id, a string names a swap (beforeend:#x)."""
    html = render_to_string(f"boards/board.html#{name}", {**context, "oob": oob is True})
    if isinstance(oob, str):
        return format_html('<div hx-swap-oob="{}">{}</div>', oob, html)
    return html


def message(text: str = "", *, target: str = "board-messages", undo_task: Task | None = None, project=None) -> str:
    return render_to_string(
        "boards/board.html#message",
        {"message": text, "message_id": target, "oob": True, "undo_task": undo_task, "project": project},
    )


def oob_delete(selector: str) -> str:
    return format_html('<div hx-swap-oob="delete:{}"></div>', selector)


def card_place(project: Project, task: Task) -> str:
    """Where a card goes in the page: after the card that now precedes it in its column, or at the top.

    Read from the stored order, not from what the client sent, so the page matches a reload; when
    that neighbour is beyond the loaded pages the insert finds no target and the card stays unloaded,
    as it would after a reload. A card the write just placed carries that neighbour (`previous_id`,
    from services.ranks, read in its transaction): no query.
    """
    previous = task.previous_id if hasattr(task, "previous_id") else queries.card_above(project, task)
    return f"afterend:#card-{previous}" if previous else f"afterbegin:#column-{task.task_status_id}-cards"


def count_regions(
    project_id: int, column_ids, board_filter: BoardFilter | None = None, *, state: BoardState | None = None
) -> list[str]:
    """What every card change touches, read after the write: the given columns' counts, progress, status."""
    state = state or queries.board_state(project_id)
    project = state.project
    wanted = set(column_ids)
    columns = [column for column in state.columns if column.pk in wanted]
    queries.annotate_counts(project, columns, board_filter or BoardFilter(), read=state.columns)
    context = {"project": project}
    regions = [part("column_count", {**context, "column": column}, oob=True) for column in columns]
    regions.append(part("project_progress", context, oob=True))
    regions.append(part("project_status", context, oob=True))
    return regions


def meta(*, seq: int | None, first_seq: int | None = None, resync: bool = False, kind: str = "change") -> str:
    """The element every message starts with: live.js reads the sequence numbers from it (a bulk
    change carries the range first_seq..seq)."""
    first_seq = seq if first_seq is None else first_seq
    context = {"seq": seq, "first_seq": first_seq, "resync": resync, "kind": kind}
    return render_to_string("boards/live/meta.html", context)


def render_change(
    *,
    project_id: int,
    task_ids: list[int],
    column_ids: list[int],
    seq: int | None,
    first_seq: int | None = None,
    resync: bool = False,
) -> dict[str, str]:
    """The fragments of one committed change, read fresh from the database: {"editor": html,
    "viewer": html}, since a card shows its move and archive menu only to those who may use it.
    They come from the board page's own partials (this module), so push and page agree."""
    head = meta(seq=seq, first_seq=first_seq, resync=resync)
    if resync:
        return {"editor": head, "viewer": head}
    state = queries.board_state(project_id)  # the project, its columns and counts: one query
    project, columns = state.project, state.columns
    tasks = Task.objects.for_board().filter(project_id=project_id, pk__in=task_ids)
    tasks = {task.pk: task for task in tasks}
    places = {pk: card_place(project, task) for pk, task in tasks.items()}
    touched = [*column_ids, *(task.task_status_id for task in tasks.values())]
    counts = count_regions(project_id, touched, state=state)
    labels = queries.labels_of(project) if any(task.label_ids for task in tasks.values()) else {}
    html = {}
    for audience, can_edit in (("editor", True), ("viewer", False)):
        parts = [head]
        for task_id in task_ids:
            parts.append(oob_delete(f"#card-{task_id}"))
            if task_id in tasks:
                context = {
                    "project": project,
                    "task": tasks[task_id],
                    "columns": columns,
                    "can_edit": can_edit,
                    "labels": labels,
                }
                parts.append(part("card", context, oob=places[task_id]))
        html[audience] = "".join([*parts, *counts])
    return html
