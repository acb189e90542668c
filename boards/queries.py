"""Every read the pages and the live push need: access, the board, its columns and counts, members.

One helper fetches an object and checks the user's access in one step (get_project_for), shared
by the views and the consumer. Reads only: nothing here writes or locks (services.locks does).
"""

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import BigIntegerField, Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Lower
from django.http import Http404
from django.utils import timezone

from accounts import people
from boards.compiled import CompiledRead
from boards.models import (
    Application,
    Attachment,
    Category,
    Comment,
    Invitation,
    Label,
    Membership,
    Mention,
    Priority,
    Project,
    Task,
    TaskStatus,
)

PAGE_SIZE = 50
ARCHIVED_LIMIT = 200
User = get_user_model()


class ReadOnly(PermissionDenied):
    """A viewer tried to change something: 403."""


class Archived(ReadOnly):
    """Someone tried to change an archived project: 403, whatever their role."""


VIEWER_REFUSAL = "Viewers can look at this board but not change it."
ARCHIVED_REFUSAL = "This project is archived: it is read-only until an owner unarchives it."


# -- access -------------------------------------------------------------------------------------


def projects_for(user):
    """The projects of the user's workspaces, each annotated with the user's `role`."""
    # filter() before annotate(): the role comes from the same membership join.
    return Project.objects.filter(application__memberships__user=user).annotate(
        role=F("application__memberships__role")
    )


# Every request runs this read: compiled once (boards.compiled), as the ORM writes it here.
_project_for = CompiledRead(
    lambda user_id, project_id: (
        Project.objects.filter(pk=project_id, application__memberships__user_id=user_id)
        .annotate(role=F("application__memberships__role"))
        .select_related("application", "status_aggregation", "derived_status")
    ),
    "user_id",
    "project_id",
)


def _is_bigint(value) -> bool:
    try:
        return -(2**63) <= int(value) < 2**63
    except (TypeError, ValueError):
        return False


def get_project_for(user, project_id: int, *, edit: bool = False) -> Project:
    """The project with its workspace, counts, derived status and the user's `role`; 404 when the
    user is not a member of its workspace.

    With edit=True a viewer gets ReadOnly (403) instead.
    """
    if not getattr(user, "is_authenticated", False) or not _is_bigint(project_id):
        raise Http404("No such project.")
    found = _project_for(user_id=user.pk, project_id=project_id)
    if not found:
        raise Http404("No such project.")
    project = found[0]
    if edit:
        check_can_edit(project)
    return project


def can_edit(project: Project) -> bool:
    """Whether the user (project.role) may change the board: every write view, the card editor
    and its edit lock ask this. An archived project is read-only for everyone."""
    return project.archived_at is None and project.role in (Membership.Role.OWNER, Membership.Role.EDITOR)


def check_can_edit(project: Project) -> None:
    """ReadOnly (Archived for an archived project) unless can_edit(project)."""
    refuse_archived(project)
    if not can_edit(project):
        raise ReadOnly(VIEWER_REFUSAL)


def refuse_archived(project: Project) -> None:
    """Archived when the project is archived: every service that changes a board calls this too,
    so the admin, commands and sockets are refused as the pages are."""
    if project.archived_at is not None:
        raise Archived(ARCHIVED_REFUSAL)


def is_owner(project: Project) -> bool:
    return project.role == Membership.Role.OWNER


def membership_of(user, application_id: int) -> Membership | None:
    """The user's membership of a workspace, with the workspace; None when not a member."""
    return Membership.objects.filter(user=user, application_id=application_id).select_related("application").first()


def is_owner_of(user, application_id: int) -> bool:
    return Membership.objects.filter(user=user, application_id=application_id, role=Membership.Role.OWNER).exists()


def workspace_of_project(project_id: int) -> int | None:
    """The id of the project's workspace; None when the project is gone."""
    return Project.objects.filter(pk=project_id).values_list("application_id", flat=True).first()


def role_of(user_id: int, application_id: int) -> str | None:
    """The user's role in the workspace, None when they are no longer a member."""
    return (
        Membership.objects.filter(user_id=user_id, application_id=application_id).values_list("role", flat=True).first()
    )


def memberships_with_project_counts(user) -> list[Membership]:
    """The user's memberships in the home page's order, each with its workspace and `project_count`
    (archived projects not counted: home does not show them)."""
    live_projects = Q(application__projects__archived_at__isnull=True)
    return list(
        Membership.objects.filter(user=user)
        .select_related("application")
        .annotate(project_count=Count("application__projects", filter=live_projects))
        .order_by("application__name", "application_id")
    )


def home_projects(user):
    """The user's projects that are not archived, in the home page's order, with what a project row shows."""
    return (
        projects_for(user)
        .filter(archived_at__isnull=True)
        .select_related("application", "status_aggregation", "derived_status")
        .order_by("application__name", "application_id", "name", "pk")
    )


# -- workspaces ---------------------------------------------------------------------------------


def get_workspace_for(user, application_id: int) -> Membership:
    """The user's membership of the workspace, with the workspace; 404 when they are not a member."""
    membership = membership_of(user, application_id) if getattr(user, "is_authenticated", False) else None
    if membership is None:
        raise Http404("No such workspace.")
    return membership


def workspaces_of(user) -> list[Membership]:
    """The user's memberships, each with its workspace, by workspace name: the switcher."""
    return list(Membership.objects.filter(user=user).select_related("application").order_by("application__name", "pk"))


def owned_workspaces(user, *, besides: int | None = None) -> list:
    """The workspaces the user owns (other than `besides`), by name: where a project can move."""
    return list(
        Application.objects.filter(memberships__user=user, memberships__role=Membership.Role.OWNER)
        .exclude(pk=besides)
        .order_by("name", "pk")
    )


def workspace_projects(application_id: int) -> tuple[list[Project], list[Project]]:
    """The workspace's projects with what a project tile shows, in one query: (live, archived)."""
    projects = list(
        Project.objects.filter(application_id=application_id)
        .select_related("status_aggregation", "derived_status")
        .order_by("name", "pk")
    )
    return [p for p in projects if p.archived_at is None], [p for p in projects if p.archived_at is not None]


def workspace_contents(application_id: int) -> dict[str, int]:
    """How many projects and cards (archived ones included) deleting the workspace would take."""
    return {
        "projects": Project.objects.filter(application_id=application_id).count(),
        "cards": Task.objects.filter(project__application_id=application_id).count(),
    }


def card_count(project: Project) -> int:
    """Every card of the project, archived ones included."""
    return Task.objects.filter(project=project).count()


def members(project: Project) -> list:
    """The people of the project's workspace, for the assignee pickers."""
    return list(
        User.objects.filter(memberships__application_id=project.application_id)
        .select_related("profile")
        .order_by("first_name", "username")
    )


def member(project: Project, user_id: int):
    """A member of the project's workspace by id, or None."""
    return User.objects.filter(pk=user_id, memberships__application_id=project.application_id).first()


def present_members(project_id: int, user_ids: Sequence[int]) -> dict:
    """The given users that are members of the project's workspace, by id."""
    users = get_user_model().objects.filter(memberships__application__projects=project_id).select_related("profile")
    return users.in_bulk(user_ids)


# -- the board ----------------------------------------------------------------------------------


LABEL_MODES = ("any", "all")
DUE_CHOICES = ("overdue", "week", "none")
SORTS = ("due", "priority")
LANE_KINDS = ("assignee", "label", "priority")  # what a grouped board's lanes are (issue 16, item 11)
DUE_WEEK_DAYS = 7  # "due this week": today and the six days after it, in the viewer's time zone


def overdue_q(now) -> Q:
    """Cards whose due moment has passed: the instant when a time was given, else the day before
    today (the active time zone's), as the card face's due_badge decides."""
    today = timezone.localdate(now)
    return Q(due_at__lt=now) | Q(due_at__isnull=True, due_date__lt=today)


def due_week_q(now) -> Q:
    """Cards due from now to the end of the sixth day after today, not yet overdue."""
    today = timezone.localdate(now)
    return Q(due_date__gte=today, due_date__lt=today + timedelta(days=DUE_WEEK_DAYS)) & ~Q(due_at__lt=now)


@dataclass(frozen=True)
class BoardFilter:
    q: str = ""
    assignee: str = ""  # "", "none", "me" or a user id (digits: forms.BoardFilterForm checks it)
    labels: tuple[int, ...] = ()
    label_mode: str = "any"  # any of the labels (&&) or all of them (@>)
    due: str = ""  # "", "overdue", "week" or "none"
    priority: int | None = None  # at least this priority (1 low .. 4 urgent)
    # Not a filter: the order within columns (ranks stay as they are). "" is by rank.
    sort: str = ""
    # Not a filter either: the board grouped into lanes by "assignee", "label" or "priority" ("" none).
    lanes: str = ""
    me: int | None = None  # the viewer, for assignee "me"

    def __bool__(self) -> bool:
        """Whether it hides cards (then columns show "matching of total"); a sort hides none."""
        return bool(self.q or self.assignee or self.labels or self.due or self.priority)

    @property
    def changes_view(self) -> bool:
        """Whether the page differs from the plain board: live fragments then resync it instead."""
        return bool(self) or bool(self.sort) or bool(self.lanes)

    def q_object(self, now=None) -> Q:
        condition = Q()
        if self.q:
            condition &= Q(title__icontains=self.q)
        if self.assignee == "none":
            condition &= Q(assignee__isnull=True)
        elif self.assignee == "me":
            condition &= Q(assignee_id=self.me) if self.me else Q(pk__in=[])
        elif self.assignee:
            condition &= Q(assignee_id=int(self.assignee))
        if self.labels:
            lookup = "label_ids__contains" if self.label_mode == "all" else "label_ids__overlap"
            condition &= Q(**{lookup: list(self.labels)})
        if self.due == "none":
            condition &= Q(due_date__isnull=True)
        elif self.due == "overdue":
            condition &= overdue_q(now or timezone.now())
        elif self.due == "week":
            condition &= due_week_q(now or timezone.now())
        if self.priority:
            condition &= Q(priority__gte=self.priority)
        return condition

    def order_by(self) -> list:
        """The order within a column: by rank, or by the sort (rank breaks ties)."""
        if self.sort == "due":
            return [F("due_date").asc(nulls_last=True), F("due_at").asc(nulls_last=True), "position", "pk"]
        if self.sort == "priority":
            return ["-priority", "position", "pk"]
        return ["position", "pk"]

    def sort_key(self, task: Task) -> tuple:
        """order_by() in Python, for the cards of one column."""
        if self.sort == "due":
            return (
                task.due_date is None,
                task.due_date or date.min,
                task.due_at is None,
                task.due_at or datetime.min.replace(tzinfo=UTC),
                task.position,
                task.pk,
            )
        if self.sort == "priority":
            return (-task.priority, task.position, task.pk)
        return (task.position, task.pk)

    def as_params(self) -> list[tuple[str, str]]:
        """The filter as URL parameters (repeated `label`), for links that keep it."""
        params = [(key, value) for key, value in (("q", self.q), ("assignee", self.assignee)) if value]
        params += [("label", str(pk)) for pk in self.labels]
        if self.labels and self.label_mode != "any":
            params.append(("label_mode", self.label_mode))
        if self.due:
            params.append(("due", self.due))
        if self.priority:
            params.append(("priority", str(self.priority)))
        if self.sort:
            params.append(("sort", self.sort))
        if self.lanes:
            params.append(("lanes", self.lanes))
        return params

    def query_string(self) -> str:
        """as_params() encoded, with a trailing & when not empty (the page cursor follows)."""
        encoded = urlencode(self.as_params())
        return f"{encoded}&" if encoded else ""


def columns_of(project: Project) -> list[TaskStatus]:
    return list(TaskStatus.objects.filter(project=project).order_by("position", "pk"))


def cards_per_column(project: Project) -> dict[int, int]:
    """Every card of each column, archived ones included: what stops a column's deletion. One query."""
    rows = Task.objects.filter(project_id=project.pk).values_list("task_status_id").annotate(n=Count("pk"))
    return dict(rows.order_by())


def column_of(project: Project, status_id: int) -> TaskStatus | None:
    return TaskStatus.objects.filter(pk=status_id, project=project).first()


def column_ids(project: Project) -> list[int]:
    """The board's column ids, left to right."""
    return list(TaskStatus.objects.filter(project=project).order_by("position", "pk").values_list("pk", flat=True))


def _first_pages_query(project_id, column_ids: Sequence, condition: Q | None = None, order=("position", "pk")):
    pages = [
        Task.objects.for_board()
        .filter(condition or Q(), project_id=project_id, task_status_id=column_id)
        .order_by(*order)[: PAGE_SIZE + 1]
        for column_id in column_ids
    ]
    return pages[0].union(*pages[1:], all=True) if len(pages) > 1 else pages[0]


@functools.lru_cache(maxsize=64)
def _plain_first_pages(columns: int) -> CompiledRead:
    """first_pages of an unfiltered board by rank, compiled once per number of columns: the ORM's
    compiling of a five-part UNION cost more than PostgreSQL's answer (boards.compiled)."""
    names = [f"column_{index}" for index in range(columns)]
    return CompiledRead(
        lambda project_id, **ids: _first_pages_query(project_id, [ids[name] for name in names]), "project_id", *names
    )


def first_pages(project: Project, board_filter: BoardFilter, columns: Sequence[TaskStatus]) -> list[Task]:
    """The first PAGE_SIZE + 1 live cards of every column, in one query whatever the board's size:
    one index range scan per column (task_board_live), never the whole project. With a sort, each
    column's cards in that order (board_filter.sort_key), else by rank."""
    if not columns:
        return []
    column_ids = [column.pk for column in columns]
    if board_filter.changes_view:
        tasks = list(_first_pages_query(project.pk, column_ids, board_filter.q_object(), board_filter.order_by()))
    else:
        ids = {f"column_{index}": column_id for index, column_id in enumerate(column_ids)}
        tasks = _plain_first_pages(len(column_ids))(project_id=project.pk, **ids)
    return sorted(tasks, key=lambda task: (task.task_status_id, board_filter.sort_key(task)))


def column_page(project: Project, column: TaskStatus, board_filter: BoardFilter, after) -> list:
    """The PAGE_SIZE + 1 live cards of a column after the cursor. By rank the cursor is a (position,
    id) key: keyset, so page 200 costs as page 2. A sorted column (board_filter.sort) pages by
    offset (`after` an int): its order is not unique enough for a cheap key, and sorted views are
    for looking, not for paging deep."""
    cards = Task.objects.for_board().filter(board_filter.q_object(), project=project, task_status=column)
    if board_filter.sort:
        offset = after if isinstance(after, int) else 0
        return list(cards.order_by(*board_filter.order_by())[offset : offset + PAGE_SIZE + 1])
    if isinstance(after, int):
        return []  # an offset cursor on a column by rank: a link from a sorted view, sort dropped
    position, last_id = after
    return list(cards.filter(Q(position__gt=position) | Q(position=position, pk__gt=last_id))[: PAGE_SIZE + 1])


def column_chunk(
    project: Project,
    column: TaskStatus,
    board_filter: BoardFilter,
    after,
    size: int,
    *,
    lane: "tuple[Grouping, int | None] | None" = None,
) -> list[Task]:
    """Up to `size` live cards of a column (of one lane's cell: `lane` is (rule, value)) after the
    cursor, in the column's order: what "Show all" streams, one indexed query per chunk. `after`:
    None from the top, a (position, id) key by rank (keyset), or an offset in a sorted view (as
    column_page: sorted views page by offset)."""
    cards = Task.objects.for_board().filter(board_filter.q_object(), project=project, task_status=column)
    if lane is not None:
        cards = lane[0].cards(cards, lane[1])
    if board_filter.sort:
        offset = after if isinstance(after, int) else 0
        return list(cards.order_by(*board_filter.order_by())[offset : offset + size])
    if isinstance(after, int):
        return []  # an offset cursor on a column by rank: a link from a sorted view, sort dropped
    if after is not None:
        position, last_id = after
        cards = cards.filter(Q(position__gt=position) | Q(position=position, pk__gt=last_id))
    return list(cards[:size])


def cursor(task: Task, board_filter: BoardFilter | None = None, *, offset: int = 0) -> str:
    """The "Show more" cursor after `task`: its (position, id) key, or for a sorted view
    "o<offset>", the number of cards shown so far."""
    if board_filter is not None and board_filter.sort:
        return f"o{offset}"
    return f"{task.position!r}:{task.pk}"


def labels_of(project: Project) -> dict[int, Label]:
    """The project's labels by id: what card faces show (label_chips). One query per render."""
    return {label.pk: label for label in Label.objects.filter(project_id=project.pk)}


def label_list(project: Project) -> list[Label]:
    """The project's labels by name, each with `cards`, how many cards carry it. One query."""
    cards = Task.objects.filter(project_id=project.pk, label_ids__contains=[OuterRef("pk")])
    return list(
        Label.objects.filter(project_id=project.pk)
        .annotate(cards=Coalesce(Subquery(cards.values("project_id").annotate(n=Count("pk")).values("n")), 0))
        .order_by(Lower("name"), "pk")
    )


def label_of(project: Project, label_id: int) -> Label | None:
    return Label.objects.filter(pk=label_id, project_id=project.pk).first()


def label_card_count(project: Project, label: Label) -> int:
    """How many cards of the project (archived ones too) carry the label."""
    return Task.objects.filter(project_id=project.pk, label_ids__contains=[label.pk]).count()


DUE_PAGE_SIZE = 50
DUE_LIMIT = 500


def due_soon_cards(user, now=None):
    """The live cards of the user's projects (not archived, not in a done column) that are overdue
    or due within DUE_WEEK_DAYS: overdue first, then by due day and time. At most DUE_LIMIT."""
    now = now or timezone.now()
    return (
        Task.objects.for_board()
        .filter(
            overdue_q(now) | due_week_q(now),
            project__application__memberships__user=user,
            project__archived_at__isnull=True,
        )
        .exclude(task_status__category=Category.DONE)
        .select_related("project", "task_status")
        .order_by(F("due_date").asc(), F("due_at").asc(nulls_last=True), "pk")[:DUE_LIMIT]
    )


def labels_by_id(label_ids) -> dict[int, Label]:
    """These labels by id, in one query (a page of cards from several projects)."""
    return Label.objects.in_bulk(list(label_ids))


def column_counts(project: Project, columns: Sequence[TaskStatus] | None = None) -> dict[int, int]:
    """Live cards per column of one project.

    A column alone in its category reads its count from the project's counts row (exact: kept in
    the same transaction as every write), read fresh in the same query as the columns, so a board
    costs the same at 100 cards and 100,000. Columns that share a category, or a project without a
    counts row, are counted with one GROUP BY over those columns only. `columns`: all of the
    project's columns, already read with `project` and its counts row (board_state).
    """
    if columns is None:
        stored = [f"project__status_aggregation__{category}_tasks" for category in Category.values]
        rows = list(TaskStatus.objects.filter(project=project).values_list("pk", "category", *stored))
    else:
        agg = getattr(project, "status_aggregation", None)
        stored = [getattr(agg, f"{category}_tasks", None) for category in Category.values]
        rows = [(column.pk, column.category, *stored) for column in columns]
    per_category = Counter(category for _, category, *_ in rows)
    counts: dict[int, int] = {}
    recount = []
    for pk, category, *by_category in rows:
        value = by_category[Category.values.index(category)]
        if per_category[category] == 1 and value is not None:
            counts[pk] = value
        else:
            recount.append(pk)
    if recount:
        counts.update(dict.fromkeys(recount, 0))
        counts.update(
            Task.objects.live()
            .filter(project=project, task_status_id__in=recount)
            .values_list("task_status_id")
            .annotate(n=Count("id"))
            .order_by()
        )
    return counts


def annotate_counts(
    project: Project, columns: list[TaskStatus], board_filter: BoardFilter, *, read: list[TaskStatus] | None = None
) -> None:
    """Each column's exact live count and, with a filter on, how many match. `read`: all of the
    project's columns as board_state() read them, with the counts row: no query for the counts."""
    counts = column_counts(project, read)
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


@dataclass
class BoardState:
    """A board as a write left it: the project with its counts row and derived status, read fresh,
    and its columns in order."""

    project: Project
    columns: list[TaskStatus]


# Every write runs this read (the state it answers with): compiled once, as the ORM writes it here.
_board_columns = CompiledRead(
    lambda project_id: (
        TaskStatus.objects.filter(project_id=project_id)
        .select_related("project", "project__status_aggregation")
        .order_by("position", "pk")
    ),
    "project_id",
)


def board_state(project_id: int) -> BoardState:
    """One query: the columns, each joined to the project and its counts row."""
    columns = _board_columns(project_id=project_id)
    if not columns:
        return BoardState(Project.objects.select_related("status_aggregation", "derived_status").get(pk=project_id), [])
    project = columns[0].project  # the same on every row
    for column in columns:
        column.project = project
    project.derived_status = next((c for c in columns if c.pk == project.derived_status_id), None)
    return BoardState(project, columns)


# -- cards --------------------------------------------------------------------------------------


def card(project: Project, task_id: int) -> Task | None:
    """A card of this project with what its detail shows; None when it is not on this board."""
    return (
        Task.objects.select_related("task_status", "assignee__profile", "reporter__profile")
        .filter(pk=task_id, project=project)
        .first()
    )


def card_on_board(project_id: int, task_id: int) -> bool:
    """Whether the card is on this board and may be edited there (its project is not archived)."""
    return Task.objects.filter(pk=task_id, project_id=project_id, project__archived_at__isnull=True).exists()


def card_spot(project: Project, task_id: int) -> Task | None:
    """Where a card is now (its column, rank and archived state), for the moves that name no neighbours."""
    return (
        Task.objects.only("pk", "position", "task_status_id", "archived_at", "assignee_id", "priority", "label_ids")
        .filter(pk=task_id, project=project)
        .first()
    )


def archived_cards(project: Project) -> list[Task]:
    """The project's archived cards, most recently archived first."""
    return list(
        Task.objects.archived()
        .filter(project=project)
        .select_related("task_status", "assignee__profile")
        .order_by("-archived_at", "-pk")[:ARCHIVED_LIMIT]
    )


def _above(task: Task) -> Q:
    return Q(position__lt=task.position) | Q(position=task.position, pk__lt=task.pk)


def card_above(project: Project, task: Task) -> int | None:
    """The id of the live card just above this one in its column, or None at the top."""
    return (
        Task.objects.live()
        .filter(_above(task), project=project, task_status_id=task.task_status_id)
        .exclude(pk=task.pk)
        .order_by("-position", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def card_below(project: Project, task: Task) -> int | None:
    """The id of the live card just below this one in its column, or None at the bottom."""
    return (
        Task.objects.live()
        .filter(project=project, task_status_id=task.task_status_id)
        .exclude(_above(task))
        .exclude(pk=task.pk)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def top_card(project: Project, status_id: int, *, besides: int | None = None) -> int | None:
    """The id of the top live card of a column (other than `besides`), or None when it is empty."""
    return (
        Task.objects.live()
        .filter(project=project, task_status_id=status_id)
        .exclude(pk=besides)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
        .first()
    )


# -- workspace members and invitations --------------------------------------------------------


def workspace_members(application_id: int) -> list[Membership]:
    """The workspace's memberships with each user and their profile (one query, however many),
    owners first, then by name."""
    role_order = {role: index for index, role in enumerate(Membership.Role.values)}
    memberships = list(
        Membership.objects.filter(application_id=application_id)
        .select_related("user", "user__profile")
        .order_by("user__first_name", "user__username", "pk")
    )
    for membership in memberships:
        membership.display_name = people.display_name(membership.user)
    return sorted(memberships, key=lambda membership: role_order.get(membership.role, len(role_order)))


def open_invitations(application_id: int, *, now) -> list[Invitation]:
    """The workspace's invitations that can still be used, newest first, with who made them."""
    candidates = Invitation.objects.filter(
        application_id=application_id, revoked_at__isnull=True, expires_at__gt=now
    ).select_related("created_by__profile")  # the inviter's display name, read along
    return [invitation for invitation in candidates if invitation_closed(invitation, now=now) is None]


def invitation_by_token_hash(token_hash: str) -> Invitation | None:
    return Invitation.objects.select_related("application").filter(token_hash=token_hash).first()


def invitation_closed(invitation: Invitation, *, now) -> str | None:
    """Why the invitation can no longer be used ("revoked", "expired", "used"), None while it can.

    The one rule: the invitation page, the owners' list and the accepting service all ask it."""
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    if invitation.max_uses is not None and invitation.use_count >= invitation.max_uses:
        return "used"
    return None


# -- cards moving between projects (issue 14) ----------------------------------------------------


def transfer_targets(user, project: Project) -> list[Project]:
    """The projects a card of `project` may move to: every other live project the user can edit."""
    editable = [Membership.Role.OWNER, Membership.Role.EDITOR]
    return list(
        # One filter(): the role must be the user's own membership's, not any member's.
        Project.objects.filter(
            application__memberships__user=user, application__memberships__role__in=editable, archived_at__isnull=True
        )
        .exclude(pk=project.pk)
        .select_related("application")
        .order_by("application__name", "application_id", "name", "pk")
    )


# -- attachments ----------------------------------------------------------------------------------


def attachments(task: Task) -> list[Attachment]:
    """A card's files, oldest first, with who uploaded them; no query for a card without any."""
    if not task.attachment_count:
        return []
    return list(Attachment.objects.filter(task=task).select_related("uploaded_by__profile"))


def attachment(project: Project, token: str) -> Attachment | None:
    """A file of a card of this project, by its token; None when it is not on this board."""
    return Attachment.objects.filter(token=token, task__project=project).first()


# -- comments and mentions (issue 14) -----------------------------------------------------------

COMMENTS_SHOWN = 200  # a card's dialog shows its latest comments up to this many, oldest first
MENTION_CANDIDATES = 10


def card_comments(task: Task, limit: int = COMMENTS_SHOWN) -> list:
    """The card's latest comments, oldest first (newest last), each with its author's profile."""
    latest = Comment.objects.filter(task_id=task.pk).select_related("author__profile").order_by("-created_at", "-pk")
    return list(reversed(latest[:limit]))


def comment_of(task: Task, comment_id: int):
    """A comment of this card, or None."""
    return Comment.objects.filter(pk=comment_id, task_id=task.pk).first()


def members_named(project: Project, usernames, *, besides_user=None, not_mentioned_in=None) -> list:
    """The members of the project's workspace whose lowercased username is in `usernames`, leaving
    out `besides_user` and those already recorded as mentioned in `not_mentioned_in` ((task_id,
    comment_id or None)). One query."""
    found = User.objects.annotate(lowered=Lower("username")).filter(
        lowered__in=list(usernames), memberships__application_id=project.application_id
    )
    if besides_user is not None:
        found = found.exclude(pk=getattr(besides_user, "pk", besides_user))
    if not_mentioned_in is not None:
        task_id, comment_id = not_mentioned_in
        already = Mention.objects.filter(task_id=task_id, comment_id=comment_id).values("user_id")
        found = found.exclude(pk__in=already)
    return list(found)


def mention_candidates(project: Project, prefix: str, limit: int = MENTION_CANDIDATES) -> list:
    """Members of the project's workspace whose username, display name or first or last name
    starts with `prefix` (any case), by username: the mention autocomplete's choices."""
    starts = (
        Q(username__istartswith=prefix)
        | Q(first_name__istartswith=prefix)
        | Q(last_name__istartswith=prefix)
        | Q(profile__display_name__istartswith=prefix)
    )
    return list(
        User.objects.filter(starts, memberships__application_id=project.application_id)
        .select_related("profile")
        .order_by("username")[:limit]
    )


# -- swimlanes (issue 16, item 11) --------------------------------------------------------------

NO_LANE = "none"  # the key of the lane of cards with no assignee, no label or no priority
LANE_PAGE_SIZE = 20  # cards per lane and column before "Show more": a grouped board has many cells
PRIORITY_LANES = (4, 3, 2, 1, 0)  # urgent first, "No priority" last


@dataclass(frozen=True)
class Grouping:
    """How a grouped board splits each column into lanes: by assignee, label or priority.

    Every live card is in exactly one lane, so the lanes of a column add up to the column and a
    WIP limit counts each card once. A card with several labels sits in the lane of its first
    label in the project's label order (by name, as its face shows its chips): `label_order`, the
    project's label ids in that order. The rule is written once, as SQL (expression()); key_of()
    is its Python counterpart for a card already read, and tests hold the two equal.
    """

    kind: str
    label_order: tuple[int, ...] = ()

    def expression(self):
        """The lane of a card as an SQL expression: the assignee's id, the priority (0 for none),
        or the first of its labels in label_order (NULL for none)."""
        if self.kind == "assignee":
            return F("assignee_id")
        if self.kind == "priority":
            return F("priority")
        if not self.label_order:
            return Value(None, output_field=BigIntegerField())
        whens = [When(label_ids__contains=[pk], then=Value(pk)) for pk in self.label_order]
        return Case(*whens, default=Value(None), output_field=BigIntegerField())

    def key_of(self, task: Task) -> int | None:
        """expression() for a card in memory: its lane's value (None: no assignee or no label)."""
        if self.kind == "assignee":
            return task.assignee_id
        if self.kind == "priority":
            return task.priority
        carried = set(task.label_ids or ())
        return next((pk for pk in self.label_order if pk in carried), None)

    def none_value(self) -> int | None:
        """The value of the "No …" lane: no assignee, no label, priority 0."""
        return 0 if self.kind == "priority" else None

    def value(self, key: str) -> int | None:
        """A lane key as the page writes it ("none" or digits) as the lane's value."""
        return self.none_value() if key == NO_LANE else int(key)

    def cards(self, queryset, value):
        """The cards of `queryset` in the lane whose value is `value`."""
        queryset = queryset.alias(lane=self.expression())
        return queryset.filter(lane__isnull=True) if value is None else queryset.filter(lane=value)


def grouping(kind: str, labels: dict[int, Label]) -> Grouping:
    """The board's grouping; `labels` the project's labels by id (labels_of)."""
    order = sorted(labels.values(), key=lambda label: (label.name.lower(), label.pk))
    return Grouping(kind=kind, label_order=tuple(label.pk for label in order))


@dataclass
class Cell:
    """A lane's cards of one column: the first page, the count (filter applied) and the cursor."""

    column: TaskStatus
    count: int = 0
    cards: list = None
    has_more: bool = False
    cursor: str = ""

    @property
    def pk(self) -> int:  # the column's id: what the moves and the keyboard read (data-status)
        return self.column.pk


@dataclass
class Lane:
    key: str  # "none" or the value's digits: the lane's ids in the page (lane-<key>-…)
    value: int | None
    name: str
    count: int = 0
    user: object = None  # assignee lanes: the person (None for "No assignee")
    label: Label | None = None  # label lanes
    priority: int | None = None  # priority lanes
    former: bool = False  # an assignee who is no longer a member of the workspace
    cells: list = None


def lane_counts(project: Project, board_filter: BoardFilter, rule: Grouping) -> dict[tuple[int | None, int], int]:
    """Live cards matching the filter per (lane value, column id): one GROUP BY, never the cards."""
    rows = (
        Task.objects.live()
        .filter(board_filter.q_object(), project_id=project.pk)
        .annotate(lane=rule.expression())
        .values_list("lane", "task_status_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(lane, status_id): n for lane, status_id, n in rows}


def _lane_shown(rule: Grouping, board_filter: BoardFilter, value) -> bool:
    """Whether an empty lane is still worth showing, as a place to drop cards: the "No …" lane
    and each priority, unless the filter hides every card it could hold."""
    if rule.kind == "assignee":
        return value is None and board_filter.assignee in ("", NO_LANE)
    if rule.kind == "label":
        return value is None and not board_filter.labels
    return not board_filter.priority or (value and value >= board_filter.priority)


def board_lanes(
    project: Project,
    board_filter: BoardFilter,
    columns: Sequence[TaskStatus],
    *,
    labels: dict[int, Label],
    members: Sequence,
) -> list[Lane]:
    """The grouped board: its lanes in order, each with its count and one Cell per column (first
    page, count, cursor). Two queries whatever the number of cards or lanes (the counts, then every
    cell's first page), three when a lane's assignee has left the workspace."""
    rule = grouping(board_filter.lanes, labels)
    counts = lane_counts(project, board_filter, rule)
    present = {lane for lane, _ in counts}
    if rule.kind == "assignee":
        people_by_id = {member.pk: member for member in members}
        missing = [pk for pk in present if pk is not None and pk not in people_by_id]
        former = set()
        if missing:
            former = set(missing)
            people_by_id.update(User.objects.select_related("profile").in_bulk(missing))
        assignees = sorted(
            (people_by_id[pk] for pk in present if pk is not None and pk in people_by_id),
            key=lambda user: (people.display_name(user).lower(), user.pk),
        )
        lanes = [
            Lane(key=str(user.pk), value=user.pk, name=people.display_name(user), user=user, former=user.pk in former)
            for user in assignees
        ]
        lanes.append(Lane(key=NO_LANE, value=None, name="No assignee"))
    elif rule.kind == "label":
        lanes = [
            Lane(key=str(pk), value=pk, name=labels[pk].name, label=labels[pk])
            for pk in rule.label_order
            if pk in present
        ]
        lanes.append(Lane(key=NO_LANE, value=None, name="No label"))
    else:
        names = dict(Priority.choices)
        lanes = [
            Lane(
                key=str(value) if value else NO_LANE,
                value=value,
                name=names[value] if value else "No priority",
                priority=value,
            )
            for value in PRIORITY_LANES
        ]
    lanes = [lane for lane in lanes if lane.value in present or _lane_shown(rule, board_filter, lane.value)]
    pages = _lane_pages(project, board_filter, rule, [lane.value for lane in lanes], columns)
    for lane in lanes:
        lane.cells = []
        for column in columns:
            cards = pages.get((lane.value, column.pk), [])
            cell = Cell(column=column, count=counts.get((lane.value, column.pk), 0))
            cell.has_more = len(cards) > LANE_PAGE_SIZE
            cell.cards = cards[:LANE_PAGE_SIZE]
            if cell.has_more:
                cell.cursor = cursor(cell.cards[-1], board_filter, offset=LANE_PAGE_SIZE)
            lane.cells.append(cell)
        lane.count = sum(cell.count for cell in lane.cells)
    return lanes


def _lane_pages(project, board_filter, rule: Grouping, values, columns) -> dict[tuple, list[Task]]:
    """The first LANE_PAGE_SIZE + 1 cards of every lane's cell, in one query (a UNION ALL of one
    slice per cell, as first_pages), by (lane value, column id)."""
    condition = board_filter.q_object()
    order = board_filter.order_by()
    base = Task.objects.for_board().filter(condition, project_id=project.pk)
    slices = [
        rule.cards(base.filter(task_status_id=column.pk), value).order_by(*order)[: LANE_PAGE_SIZE + 1]
        for value in values
        for column in columns
    ]
    if not slices:
        return {}
    tasks = list(slices[0].union(*slices[1:], all=True)) if len(slices) > 1 else list(slices[0])
    pages: dict[tuple, list[Task]] = {}
    for task in sorted(tasks, key=board_filter.sort_key):
        pages.setdefault((rule.key_of(task), task.task_status_id), []).append(task)
    return pages


def lane_page(project: Project, column: TaskStatus, board_filter: BoardFilter, rule: Grouping, value, after) -> list:
    """A lane's cards of one column after the cursor (as column_page), LANE_PAGE_SIZE + 1 of them."""
    cards = rule.cards(
        Task.objects.for_board().filter(board_filter.q_object(), project=project, task_status=column), value
    )
    if board_filter.sort:
        offset = after if isinstance(after, int) else 0
        return list(cards.order_by(*board_filter.order_by())[offset : offset + LANE_PAGE_SIZE + 1])
    if isinstance(after, int):
        return []
    position, last_id = after
    return list(cards.filter(Q(position__gt=position) | Q(position=position, pk__gt=last_id))[: LANE_PAGE_SIZE + 1])


def lane_neighbour(project: Project, task: Task, rule: Grouping, *, above: bool) -> int | None:
    """The id of the live card just above (or below) this one in its column and its lane, or None."""
    cards = rule.cards(
        Task.objects.live().filter(project=project, task_status_id=task.task_status_id).exclude(pk=task.pk),
        rule.key_of(task),
    )
    if above:
        return cards.filter(_above(task)).order_by("-position", "-pk").values_list("pk", flat=True).first()
    return cards.exclude(_above(task)).order_by("position", "pk").values_list("pk", flat=True).first()
