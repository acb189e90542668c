"""The locking reads of card writes: the card, its columns and what the counts need, in one statement.

A write to a card locks the card FOR UPDATE, then its stored column and the column it goes to in
id order: FOR SHARE, or FOR NO KEY UPDATE when the target has a hard WIP limit (so two cards
cannot both take its last place). Every writer takes columns in id order, so moves in opposite
directions and a category change (which locks its column FOR NO KEY UPDATE) cannot deadlock. The same statement reads
the card's assignee (and their profile) for the response and whether the project has a counts row, and the result is
handed to the counts handlers (boards.signals.handing_over), which then does not lock and read
the card a second time.

Raw SQL: the ORM has no FOR SHARE, cannot lock rows in a chosen order inside one statement (CTEs
with ORDER BY before the locking clause) and cannot read the neighbours of the new place in the
same statement; tests/boards/services/test_locks.py holds these reads equal to services.ranks and
aggregates.signals.stored_state. Table names come from _meta.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Max, Min, Q

from accounts.models import Profile
from boards.models import Invitation, Membership, Project, Task, TaskStatus
from boards.services.base import GONE, NO_COLUMN, WipLimitReached, _column_id, _task_id
from boards.signals import NewCardState, StoredState

User = get_user_model()
TASK = Task._meta.db_table
STATUS = TaskStatus._meta.db_table
# The counts table, by the reverse relation: boards does not import aggregates.
AGG_TABLE = Project._meta.get_field("status_aggregation").related_model._meta.db_table


# The rows of the locking reads come back as model instances: SELECT lists built from _meta.
def fields_of(model) -> list[str]:
    """A model's columns, in the order Model.from_db takes them."""
    return [f.attname for f in model._meta.concrete_fields]


def select_list(alias: str, model) -> str:
    """The SELECT list of a model's columns under `alias`, in fields_of() order."""
    return ", ".join(f"{alias}.{connection.ops.quote_name(f.column)}" for f in model._meta.concrete_fields)


def split_row(row, *models) -> tuple[list, tuple]:
    """The instances of `models` read from a row that starts with their select_list()s, in order
    (None for one a LEFT JOIN did not find), and the row's values after them."""
    objects, start = [], 0
    for model in models:
        fields = model._meta.concrete_fields
        values = row[start : start + len(fields)]
        found = values[fields.index(model._meta.pk)] is not None
        objects.append(model.from_db(connection.alias, fields_of(model), values) if found else None)
        start += len(fields)
    return objects, tuple(row[start:])


def _column_locks(target: str, wanted: str) -> str:
    """The CTEs that lock columns for a card write: `hard`, whether the `target` column has a hard
    limit, read before locking; then the `wanted` columns (a condition on s.id) FOR SHARE, or FOR
    NO KEY UPDATE when hard, as `c`. ORDER BY before the locking clause: PostgreSQL locks the rows
    in that order, the id order every writer keeps."""
    columns = f"SELECT s.* FROM {STATUS} s WHERE s.project_id = %(project)s AND {wanted}"
    return f"""hard AS (
    SELECT EXISTS (
        SELECT 1 FROM {STATUS} s
        WHERE s.id = {target} AND s.project_id = %(project)s AND s.wip_hard AND s.wip_limit IS NOT NULL
    ) AS hard
), shared AS MATERIALIZED (
    {columns} AND NOT (SELECT hard FROM hard) ORDER BY s.id FOR SHARE
), exclusive AS MATERIALIZED (
    {columns} AND (SELECT hard FROM hard) ORDER BY s.id FOR NO KEY UPDATE
), c AS (
    SELECT * FROM shared UNION ALL SELECT * FROM exclusive
)"""


# t: the card, locked alone (locked through a join, a row that a concurrent move updated while we
# waited would be rechecked against its old column and dropped); then its columns.
_LOCKS = f"""
WITH t AS MATERIALIZED (
    SELECT * FROM {TASK} WHERE id = %(task)s AND project_id = %(project)s FOR UPDATE
), target AS (
    SELECT COALESCE(%(target)s, (SELECT task_status_id FROM t)) AS id
), wanted AS (
    SELECT task_status_id AS id FROM t UNION SELECT id FROM target
), {_column_locks("(SELECT id FROM target)", "s.id IN (SELECT id FROM wanted)")}"""

# The target column's live cards other than this one, for the new rank (services.ranks._neighbours).
_SIBLINGS = (
    f"FROM {TASK} x WHERE x.project_id = %(project)s AND x.task_status_id = ns.id "
    "AND x.archived_at IS NULL AND x.id <> t.id"
)
_BEYOND = {
    True: "(x.position > an.position OR (x.position = an.position AND x.id > an.id)) AND x.position >= an.position "
    "ORDER BY x.position, x.id",
    False: "(x.position < an.position OR (x.position = an.position AND x.id < an.id)) AND x.position <= an.position "
    "ORDER BY x.position DESC, x.id DESC",
}


# The live cards just above and just below the card's own stored rank (services.ranks._old_spot).
_OLD_SPOT = {
    True: "(x.position < t.position OR (x.position = t.position AND x.id < t.id)) AND x.position <= t.position "
    "ORDER BY x.position DESC, x.id DESC",
    False: "(x.position > t.position OR (x.position = t.position AND x.id > t.id)) AND x.position >= t.position "
    "ORDER BY x.position, x.id",
}
RESTORE = "restore"


def _sql(above: bool | str | None) -> str:
    """The statement; with `above` (True: below the anchor, False: above it) it also reads the
    card's new neighbours, as services.ranks._neighbours does: the anchor, the nearest card beyond it,
    and the bottom card. With RESTORE, the cards around its stored rank, as ranks._old_spot does."""
    places = ""
    joins = ""
    if above == RESTORE:
        places = ", an.position, an.id, nb.position, nb.id"
        joins = (
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} AND {_OLD_SPOT[True]} LIMIT 1) an ON true "
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} AND {_OLD_SPOT[False]} LIMIT 1) nb ON true"
        )
    elif above is not None:
        places = ", an.position, an.id, nb.position, nb.id, bt.position, bt.id"
        joins = (
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} AND x.id = %(anchor)s) an ON true "
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} AND {_BEYOND[above]} LIMIT 1) nb ON true "
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} ORDER BY x.position DESC, x.id DESC LIMIT 1) bt "
            "ON true"
        )
    return f"""{_LOCKS}
SELECT {select_list("t", Task)}, {select_list("os", TaskStatus)}, {select_list("ns", TaskStatus)},
    {select_list("u", User)}, {select_list("pf", Profile)},
    EXISTS (SELECT 1 FROM {AGG_TABLE} a WHERE a.project_id = t.project_id), (SELECT hard FROM hard){places}
FROM t
JOIN c os ON os.id = t.task_status_id
LEFT JOIN c ns ON ns.id = (SELECT id FROM target)
LEFT JOIN {User._meta.db_table} u ON u.id = t.assignee_id
LEFT JOIN {Profile._meta.db_table} pf ON pf.user_id = u.id
{joins}"""


_SQL = {above: _sql(above) for above in (None, True, False, RESTORE)}


@dataclass
class LockedCard:
    task: Task  # with task_status: its stored column, and assignee
    target: TaskStatus | None  # the column named, None when it is not on the project's board
    has_row: bool  # whether the project has a counts row
    exclusive: bool  # columns locked FOR NO KEY UPDATE (the target had a hard limit when we looked)
    # (anchor, nearest, bottom) as services.ranks._neighbours reads them; with restore=True
    # (above, below) as services.ranks._old_spot does
    neighbours: tuple | None = None

    def state(self, target: TaskStatus) -> StoredState:
        """The counts handlers' state of this card going to `target`, read under their locks."""
        task = self.task
        return StoredState(
            project_id=task.project_id,
            category=task.task_status.category,
            live=task.archived_at is None,
            has_row=self.has_row,
            new_category=target.category,
        )


def lock_card(
    project: Project,
    task_id: int,
    *,
    target_id: int | None = None,
    after_id=None,
    before_id=None,
    place=False,
    restore=False,
) -> LockedCard | None:
    """The card locked with its columns; None when it is not on this project's board. With
    place=True it also reads the neighbours of its new place (`neighbours`); with restore=True
    the live cards around its stored rank in the target column, to put it back where it was."""
    anchor_id, above = (after_id, True) if after_id else (before_id, False)
    if restore:
        above = RESTORE
    elif not place:
        above = None
    elif not anchor_id:
        above = True  # no anchor: the bottom card is all that counts
    params = {"task": task_id, "project": project.pk, "target": target_id, "anchor": anchor_id}
    with connection.cursor() as cursor:
        cursor.execute(_SQL[above], params)
        row = cursor.fetchone()
    if row is None:
        return None
    (task, stored, target, assignee, profile), rest = split_row(row, Task, TaskStatus, TaskStatus, User, Profile)
    if assignee is not None:
        # As select_related("assignee__profile") leaves it: the card face reads it without a query.
        User.profile.related.set_cached_value(assignee, profile)
    has_row, exclusive, *spots = rest
    if target is not None and target.pk == stored.pk:
        target = stored  # one column, one instance
    task.task_status, task.project, task.assignee = stored, project, assignee
    neighbours = None
    if above == RESTORE:
        neighbours = tuple(None if spots[i + 1] is None else (spots[i], spots[i + 1]) for i in (0, 2))
    elif above is not None:
        anchor, nearest, bottom = (None if spots[i + 1] is None else (spots[i], spots[i + 1]) for i in (0, 2, 4))
        neighbours = (anchor, nearest, None) if anchor else (None, None, bottom)
    return LockedCard(task=task, target=target, has_row=has_row, exclusive=exclusive, neighbours=neighbours)


# A new card's column, locked as above, with the ends of its live cards for the new rank.
_COLUMN_SQL = f"""
WITH {_column_locks("%(column)s", "s.id = %(column)s")}
SELECT {select_list("c", TaskStatus)},
    EXISTS (SELECT 1 FROM {AGG_TABLE} a WHERE a.project_id = c.project_id), (SELECT hard FROM hard),
    (SELECT MIN(position) FROM {TASK} t
     WHERE t.project_id = c.project_id AND t.task_status_id = c.id AND t.archived_at IS NULL),
    (SELECT MAX(position) FROM {TASK} t
     WHERE t.project_id = c.project_id AND t.task_status_id = c.id AND t.archived_at IS NULL)
FROM c
"""


@dataclass
class LockedColumn:
    column: TaskStatus
    has_row: bool
    exclusive: bool
    top: float | None  # the lowest and highest rank of its live cards, None when it has none
    bottom: float | None

    def state(self) -> NewCardState:
        """The counts handlers' state of a new card in this column, read under their lock."""
        return NewCardState(category=self.column.category, has_row=self.has_row)


def lock_column(project: Project, status_id: int) -> LockedColumn | None:
    """A column of this project locked for a new card; None when it is not on the board."""
    with connection.cursor() as cursor:
        cursor.execute(_COLUMN_SQL, {"column": status_id, "project": project.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    (column,), (has_row, exclusive, top, bottom) = split_row(row, TaskStatus)
    return LockedColumn(column=column, has_row=has_row, exclusive=exclusive, top=top, bottom=bottom)


# Columns are locked FOR NO KEY UPDATE, never FOR UPDATE, when they stay: it still excludes the
# moves' FOR SHARE, but not the FOR KEY SHARE of the foreign-key checks that a committing writer
# runs on the columns its cards and its project's derived status point at. A FOR UPDATE there made
# a category change and a committing move wait for each other (a deadlock PostgreSQL broke).
def _column(project: Project, status_id, *, for_update: bool = False, for_delete: bool = False) -> TaskStatus:
    columns = TaskStatus.objects.all()
    if for_update or for_delete:
        columns = columns.select_for_update(no_key=not for_delete)
    try:
        return columns.get(pk=_column_id(status_id), project_id=project.pk)
    except TaskStatus.DoesNotExist:
        raise ValidationError(NO_COLUMN) from None


def _check_wip(column: TaskStatus, *, incoming: int = 1) -> None:
    """Refuse cards beyond a hard limit. The column is locked, so two moves cannot both fit."""
    if not (column.wip_limit and column.wip_hard):
        return
    held = Task.objects.live().filter(task_status_id=column.pk).count()
    if held + incoming > column.wip_limit:
        raise WipLimitReached(f"“{column.name}” is full: its limit is {column.wip_limit} card(s) and it holds {held}.")


def _lock_column_if_limited(project: Project, status_id, *, source_id=None) -> TaskStatus:
    """The target column, locked FOR UPDATE when its limit is hard so two cards cannot both fit.

    The move's source column is locked with it, in id order: the handlers share-lock both, and
    two moves in opposite directions between hard-limited columns would otherwise deadlock.
    """
    column = _column(project, status_id)
    if column.wip_limit and column.wip_hard:
        ids = sorted({column.pk, source_id or column.pk})
        locked = (
            TaskStatus.objects.select_for_update(no_key=True).filter(project_id=project.pk, pk__in=ids).order_by("pk")
        )
        column = {c.pk: c for c in locked}[column.pk]
    return column


def _locked_task(project: Project, task_id) -> Task:
    locked = Task.objects.select_for_update(of=("self",)).filter(pk=_task_id(task_id), project_id=project.pk)
    # The assignee (outer joins, not locked: of=self) comes along for the card face the write
    # answers with, which shows their name and avatar.
    with_face = ("task_status", "assignee__profile")
    task = locked.select_related(*with_face).first()
    # When a concurrent move commits while we wait for the lock, PostgreSQL rechecks the join
    # against the old column and drops the row: take the lock alone, then read again.
    if task is None and locked.exists():
        task = locked.select_related(*with_face).first()
    if task is None:
        raise Task.DoesNotExist(GONE)
    return task


def _lock_card(
    project: Project, task_id, *, status_id=None, restore=False, **place
) -> tuple[Task, TaskStatus, StoredState, tuple | None]:
    """The card locked, with its column, and the column `status_id` (default: its own) locked for
    the move in id order, FOR UPDATE when its limit is hard; the card's stored state as the
    counts handler reads it, for _save_locked(); and with `place` (after_id, before_id) the
    neighbours of its new place, for _place(), or with restore=True the cards around its stored
    rank, for _place_back().

    One statement (lock_card).
    """
    task_id = _task_id(task_id)
    if status_id is not None:
        status_id = _column_id(status_id)
    locked = lock_card(project, task_id, target_id=status_id, place=bool(place), restore=restore, **place)
    if locked is None:
        raise Task.DoesNotExist(GONE)
    column = locked.target
    if column is None:
        raise ValidationError(NO_COLUMN)
    if column.wip_limit and column.wip_hard and not locked.exclusive:
        # The limit became hard after we looked: lock as _lock_column_if_limited does (rare).
        column = _lock_column_if_limited(project, column.pk, source_id=locked.task.task_status_id)
    return locked.task, column, locked.state(column), locked.neighbours


def _lock_new_card_column(project: Project, status_id) -> tuple[TaskStatus, tuple, NewCardState | None]:
    """The column a new card goes to, locked as _lock_column_if_limited does, with the lowest and
    highest rank of its live cards, and the counts handler's state (one statement)."""
    status_id = _column_id(status_id)
    locked = lock_column(project, status_id)
    if locked is None:
        raise ValidationError(NO_COLUMN)
    if not (locked.column.wip_limit and locked.column.wip_hard) or locked.exclusive:
        return locked.column, (locked.top, locked.bottom), locked.state()
    # The limit became hard after we looked (rare): lock as _lock_column_if_limited does.
    column = _lock_column_if_limited(project, status_id)
    edge = (
        Task.objects.live()
        .filter(project_id=project.pk, task_status_id=column.pk)
        .aggregate(lo=Min("position"), hi=Max("position"))
    )
    return column, (edge["lo"], edge["hi"]), None


def _share_lock_columns(
    status_ids: Iterable[int] = (), *, project: Project | None = None, exclusive: bool = False
) -> dict[int, TaskStatus]:
    """Columns by id (or all of `project`), read under FOR SHARE (exclusive: FOR NO KEY UPDATE), in id
    order as every writer locks columns.

    Bulk writes bypass the model handlers: they take the same column locks, and count with the
    category read under the lock, which a concurrent category change cannot make stale.
    """
    status_ids = set(status_ids)
    if project is None and not status_ids:
        return {}
    columns = TaskStatus.objects.filter(project=project) if project else TaskStatus.objects.filter(pk__in=status_ids)
    sql, params = columns.order_by("pk").query.sql_with_params()
    columns = TaskStatus.objects.raw(f"{sql} {'FOR NO KEY UPDATE' if exclusive else 'FOR SHARE'}", params)
    return {column.pk: column for column in columns}


def _locked_tasks(project: Project, task_ids: Sequence, *, status_id=None) -> tuple[list[Task], TaskStatus | None]:
    """The tasks locked FOR UPDATE, each with its column, and the column `status_id` they go to:
    all these columns locked in one id-ordered statement, FOR SHARE, or FOR UPDATE when the
    target's limit is hard (as _lock_column_if_limited)."""
    try:
        ids = sorted({int(pk) for pk in task_ids})
    except (TypeError, ValueError):
        raise ValidationError("Some of the selected cards are not valid ids.") from None
    target = None if status_id is None else _column(project, status_id)
    # No join in the locking query: see _locked_task.
    tasks = list(Task.objects.select_for_update().filter(project_id=project.pk, pk__in=ids).order_by("pk"))
    if len(tasks) != len(ids):
        raise Task.DoesNotExist("Some of the selected cards no longer exist; nothing was changed.")
    wanted = {task.task_status_id for task in tasks} | ({target.pk} if target else set())
    hard = bool(target and target.wip_limit and target.wip_hard)
    columns = _share_lock_columns(wanted, exclusive=hard)
    if target and not hard and columns[target.pk].wip_limit and columns[target.pk].wip_hard:
        # The limit became hard after we looked: take the target as _lock_column_if_limited does.
        columns = _share_lock_columns(wanted, exclusive=True)
    for task in tasks:
        task.task_status = columns[task.task_status_id]
    return tasks, (columns[target.pk] if target else None)


# -- workspaces: members and invitations ----------------------------------------------------------


def lock_invitation(token_hash: str) -> Invitation | None:
    """The invitation with this token hash, locked FOR UPDATE (with its workspace, unlocked); None
    when there is none. Two people accepting one single-use link queue here: the second reads the
    first's use_count."""
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("application")
        .filter(token_hash=token_hash)
        .first()
    )


def lock_invitation_of(application_id: int, invitation_id: int) -> Invitation | None:
    """One invitation of the workspace, locked FOR UPDATE; None when it is not the workspace's."""
    return Invitation.objects.select_for_update().filter(application_id=application_id, pk=invitation_id).first()


def lock_owners_and(application_id: int, user_ids: Sequence[int]) -> list[Membership]:
    """The workspace's owner memberships and those of `user_ids`, locked FOR UPDATE in id order.

    Every change that could take away an owner (demotion, removal, leaving) takes this lock before
    it counts the owners, so two owners demoting each other at once cannot both pass the count:
    the second waits, and PostgreSQL re-checks the first's demoted row against `role = owner`
    and leaves it out. One statement in id order, so two such changes cannot deadlock.
    """
    condition = Q(role=Membership.Role.OWNER) | Q(user_id__in=list(user_ids))
    return list(
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(condition, application_id=application_id)
        .order_by("pk")
    )


# Session-level advisory locks. A connection holds one until it gives it back or ends, so another
# connection can tell work in progress from work whose process died (its connection closed).
# Raw SQL: the ORM has no advisory locks; tests/boards/services/test_locks.py checks both sides.
@contextmanager
def holding_advisory_lock(namespace: int, key: int) -> Iterator[None]:
    """Hold the lock (namespace, key) on this connection for the block, waiting for it if taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [namespace, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key])


def advisory_lock_is_held(namespace: int, key: int) -> bool:
    """Whether another connection holds the lock (namespace, key): taken and given back at once to know."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, key])
        (taken,) = cursor.fetchone()
        if taken:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key])
    return not taken
