"""The board's regions as HTML fragments, independent of any request.

The pages, the htmx responses and the live push all render these, so they cannot disagree.
Every region has a stable id (card-<id>, column-<id>-count, project-<id>-progress,
project-<id>-status …); a fragment marked hx-swap-oob replaces or places it wherever it is shown.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, F, Q, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.template.loader import render_to_string
from django.utils.html import format_html

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Project, Task, TaskStatus
from boards.rawsql import select_list, split_row

PAGE_SIZE = 50
User = get_user_model()


@dataclass(frozen=True)
class BoardFilter:
    q: str = ""
    assignee: str = ""  # "", "none" or a user id

    @classmethod
    def from_params(cls, params) -> "BoardFilter":
        q = " ".join(params.get("q", "").split())[:200]
        assignee = params.get("assignee", "").strip()
        if assignee not in ("", "none") and not assignee.isdigit():
            assignee = ""
        return cls(q=q, assignee=assignee)

    def __bool__(self) -> bool:
        return bool(self.q or self.assignee)

    def q_object(self) -> Q:
        condition = Q()
        if self.q:
            condition &= Q(title__icontains=self.q)
        if self.assignee == "none":
            condition &= Q(assignee__isnull=True)
        elif self.assignee:
            condition &= Q(assignee_id=int(self.assignee))
        return condition

    def sql(self) -> tuple[str, list]:
        """The same condition as q_object() for the raw first-page query (table alias t)."""
        clauses, params = [], []
        if self.q:
            escaped = self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("t.title ILIKE %s")
            params.append(f"%{escaped}%")
        if self.assignee == "none":
            clauses.append("t.assignee_id IS NULL")
        elif self.assignee:
            clauses.append("t.assignee_id = %s")
            params.append(int(self.assignee))
        return "".join(f" AND {clause}" for clause in clauses), params

    def as_params(self) -> dict:
        return {key: value for key, value in (("q", self.q), ("assignee", self.assignee)) if value}


def first_pages(project: Project, board_filter: BoardFilter) -> list[Task]:
    """The first PAGE_SIZE + 1 live cards of every column, in one query whatever the board's size."""
    if connection.vendor == "postgresql":
        extra, params = board_filter.sql()
        # One index range scan per column (task_board_live), never the whole project.
        ids = RawSQL(
            "SELECT c.id FROM boards_taskstatus s CROSS JOIN LATERAL ("
            " SELECT t.id FROM boards_task t"
            " WHERE t.project_id = s.project_id AND t.task_status_id = s.id AND t.archived_at IS NULL"
            f"{extra} ORDER BY t.position, t.id LIMIT %s) c WHERE s.project_id = %s",
            [*params, PAGE_SIZE + 1, project.pk],
        )
        tasks = Task.objects.filter(pk__in=ids)
    else:  # SQLite (make run): a window over the project's cards
        tasks = (
            Task.objects.live()
            .filter(board_filter.q_object(), project=project)
            .annotate(rank=Window(RowNumber(), partition_by=F("task_status_id"), order_by=[F("position"), F("pk")]))
            .filter(rank__lte=PAGE_SIZE + 1)
        )
    return list(tasks.select_related("assignee").order_by("task_status_id", "position", "pk"))


def cursor(task: Task) -> str:
    return f"{task.position!r}:{task.pk}"


def annotate_counts(
    project: Project, columns: list[TaskStatus], board_filter: BoardFilter, *, read: list[TaskStatus] | None = None
) -> None:
    """Each column's exact live count and, with a filter on, how many match. `read`: all of the
    project's columns as board_state() read them, with the counts row: no query for the counts."""
    counts = services.column_counts(project, read)
    matching = None
    if board_filter:
        matching = dict(
            Task.objects.live()
            .filter(board_filter.q_object(), project=project)
            .values_list("task_status_id")
            .annotate(n=Count("id"))
            .order_by()
        )
    for column in columns:
        column.count = counts.get(column.pk, 0)
        column.matching = None if matching is None else matching.get(column.pk, 0)
        column.over = bool(column.wip_limit and column.count > column.wip_limit)
        column.full = bool(column.wip_limit and column.count >= column.wip_limit)


def columns_of(project: Project) -> list[TaskStatus]:
    return list(TaskStatus.objects.filter(project=project).order_by("position", "pk"))


@dataclass
class BoardState:
    """A board as a write left it: the project with its counts row and derived status, read fresh,
    and its columns in order."""

    project: Project
    columns: list[TaskStatus]


# Raw SQL built once: the ORM spent more CPU compiling this select_related than PostgreSQL running it.
_STATE_SQL = (
    f"SELECT {select_list('s', TaskStatus)}, {select_list('p', Project)}, {select_list('a', ProjectTaskStatusAgg)} "
    f"FROM {TaskStatus._meta.db_table} s JOIN {Project._meta.db_table} p ON p.id = s.project_id "
    f"LEFT JOIN {ProjectTaskStatusAgg._meta.db_table} a ON a.project_id = p.id "
    "WHERE s.project_id = %s ORDER BY s.position, s.id"
)


def board_state(project_id: int) -> BoardState:
    """One query: the columns, each joined to the project and its counts row."""
    with connection.cursor() as cursor:
        cursor.execute(_STATE_SQL, [project_id])
        rows = cursor.fetchall()
    if not rows:
        return BoardState(Project.objects.select_related("status_aggregation", "derived_status").get(pk=project_id), [])
    (_, project, agg), _ = split_row(rows[0], TaskStatus, Project, ProjectTaskStatusAgg)  # the same on every row
    project.status_aggregation = agg
    columns = [split_row(row, TaskStatus)[0][0] for row in rows]
    for column in columns:
        column.project = project
    project.derived_status = next((c for c in columns if c.pk == project.derived_status_id), None)
    return BoardState(project, columns)


def members(project: Project):
    return list(
        User.objects.filter(memberships__application_id=project.application_id).order_by("first_name", "username")
    )


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
    from services._place, read in its transaction): no query.
    """
    if hasattr(task, "previous_id"):
        previous = task.previous_id
    else:
        above = Q(position__lt=task.position) | Q(position=task.position, pk__lt=task.pk)
        previous = (
            Task.objects.live()
            .filter(above, project=project, task_status_id=task.task_status_id)
            .order_by("-position", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
    return f"afterend:#card-{previous}" if previous else f"afterbegin:#column-{task.task_status_id}-cards"


def count_regions(
    project_id: int, column_ids, board_filter: BoardFilter | None = None, *, state: BoardState | None = None
) -> list[str]:
    """What every card change touches, read after the write: the given columns' counts, progress, status."""
    state = state or board_state(project_id)
    project = state.project
    wanted = set(column_ids)
    columns = [column for column in state.columns if column.pk in wanted]
    annotate_counts(project, columns, board_filter or BoardFilter(), read=state.columns)
    context = {"project": project}
    regions = [part("column_count", {**context, "column": column}, oob=True) for column in columns]
    regions.append(part("project_progress", context, oob=True))
    regions.append(part("project_status", context, oob=True))
    return regions
