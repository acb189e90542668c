"""The locking reads of card writes: the card, its columns and what the counts need, in one statement.

A write to a card locks the card FOR UPDATE, then its stored column and the column it goes to in
id order: FOR SHARE, or FOR NO KEY UPDATE when the target has a hard WIP limit (so two cards
cannot both take its last place). Every writer takes columns in id order, so moves in opposite
directions and a category change (which locks its column FOR NO KEY UPDATE) cannot deadlock. The same statement reads
the card's assignee for the response and whether the project has a counts row, and the result is
handed to the counts handler (aggregates.signals.hand_over), which then does not lock and read
the card a second time.

PostgreSQL only; on SQLite (`make run`, no row locks) the services take the step-by-step path.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection

from aggregates.counts import AGG_TABLE
from boards.models import Project, Task, TaskStatus
from boards.rawsql import select_list, split_row

User = get_user_model()


def _column_locks(target: str, wanted: str) -> str:
    """The CTEs that lock columns for a card write: `hard`, whether the `target` column has a hard
    limit, read before locking; then the `wanted` columns (a condition on s.id) FOR SHARE, or FOR
    NO KEY UPDATE when hard, as `c`. ORDER BY before the locking clause: PostgreSQL locks the rows
    in that order, the id order every writer keeps."""
    columns = f"SELECT s.* FROM boards_taskstatus s WHERE s.project_id = %(project)s AND {wanted}"
    return f"""hard AS (
    SELECT EXISTS (
        SELECT 1 FROM boards_taskstatus s
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
    SELECT * FROM boards_task WHERE id = %(task)s AND project_id = %(project)s FOR UPDATE
), target AS (
    SELECT COALESCE(%(target)s, (SELECT task_status_id FROM t)) AS id
), wanted AS (
    SELECT task_status_id AS id FROM t UNION SELECT id FROM target
), {_column_locks("(SELECT id FROM target)", "s.id IN (SELECT id FROM wanted)")}"""

# The target column's live cards other than this one, for the new rank (services._neighbours).
_SIBLINGS = (
    "FROM boards_task x WHERE x.project_id = %(project)s AND x.task_status_id = ns.id "
    "AND x.archived_at IS NULL AND x.id <> t.id"
)
_BEYOND = {
    True: "(x.position > an.position OR (x.position = an.position AND x.id > an.id)) AND x.position >= an.position "
    "ORDER BY x.position, x.id",
    False: "(x.position < an.position OR (x.position = an.position AND x.id < an.id)) AND x.position <= an.position "
    "ORDER BY x.position DESC, x.id DESC",
}


def _sql(above: bool | None) -> str:
    """The statement; with `above` (True: below the anchor, False: above it) it also reads the
    card's new neighbours, as services._neighbours does: the anchor, the nearest card beyond it,
    and the bottom card."""
    places = ""
    joins = ""
    if above is not None:
        places = ", an.position, an.id, nb.position, nb.id, bt.position, bt.id"
        joins = (
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} AND x.id = %(anchor)s) an ON true "
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} AND {_BEYOND[above]} LIMIT 1) nb ON true "
            f"LEFT JOIN LATERAL (SELECT x.position, x.id {_SIBLINGS} ORDER BY x.position DESC, x.id DESC LIMIT 1) bt "
            "ON true"
        )
    return f"""{_LOCKS}
SELECT {select_list("t", Task)}, {select_list("os", TaskStatus)}, {select_list("ns", TaskStatus)},
    {select_list("u", User)},
    EXISTS (SELECT 1 FROM {AGG_TABLE} a WHERE a.project_id = t.project_id), (SELECT hard FROM hard){places}
FROM t
JOIN c os ON os.id = t.task_status_id
LEFT JOIN c ns ON ns.id = (SELECT id FROM target)
LEFT JOIN {User._meta.db_table} u ON u.id = t.assignee_id
{joins}"""


_SQL = {above: _sql(above) for above in (None, True, False)}


@dataclass
class LockedCard:
    task: Task  # with task_status: its stored column, and assignee
    target: TaskStatus | None  # the column named, None when it is not on the project's board
    has_row: bool  # whether the project has a counts row
    exclusive: bool  # columns locked FOR NO KEY UPDATE (the target had a hard limit when we looked)
    neighbours: tuple | None = None  # (anchor, nearest, bottom) as services._neighbours reads them

    def state(self, target: TaskStatus) -> tuple:
        """What aggregates.signals.stored_state returns for this card going to `target`, read
        under the same locks."""
        task, column = self.task, self.task.task_status
        live = task.archived_at is None
        before = (task.project_id, column.category) if live else None
        return before, task.project_id, self.has_row, target.category, column.category, live


def lock_card(
    project: Project, task_id: int, *, target_id: int | None = None, after_id=None, before_id=None, place=False
) -> LockedCard | None:
    """The card locked with its columns; None when it is not on this project's board. With
    place=True it also reads the neighbours of its new place (`neighbours`)."""
    anchor_id, above = (after_id, True) if after_id else (before_id, False)
    if not place:
        above = None
    elif not anchor_id:
        above = True  # no anchor: the bottom card is all that counts
    params = {"task": task_id, "project": project.pk, "target": target_id, "anchor": anchor_id}
    with connection.cursor() as cursor:
        cursor.execute(_SQL[above], params)
        row = cursor.fetchone()
    if row is None:
        return None
    (task, stored, target, assignee), rest = split_row(row, Task, TaskStatus, TaskStatus, User)
    has_row, exclusive, *spots = rest
    if target is not None and target.pk == stored.pk:
        target = stored  # one column, one instance
    task.task_status, task.project, task.assignee = stored, project, assignee
    neighbours = None
    if above is not None:
        anchor, nearest, bottom = (None if spots[i + 1] is None else (spots[i], spots[i + 1]) for i in (0, 2, 4))
        neighbours = (anchor, nearest, None) if anchor else (None, None, bottom)
    return LockedCard(task=task, target=target, has_row=has_row, exclusive=exclusive, neighbours=neighbours)


# A new card's column, locked as above, with the ends of its live cards for the new rank.
_COLUMN_SQL = f"""
WITH {_column_locks("%(column)s", "s.id = %(column)s")}
SELECT {select_list("c", TaskStatus)},
    EXISTS (SELECT 1 FROM {AGG_TABLE} a WHERE a.project_id = c.project_id), (SELECT hard FROM hard),
    (SELECT MIN(position) FROM boards_task t
     WHERE t.project_id = c.project_id AND t.task_status_id = c.id AND t.archived_at IS NULL),
    (SELECT MAX(position) FROM boards_task t
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

    def state(self) -> tuple:
        """What the counts handler reads for a new card in this column (column_category)."""
        return self.column.category, self.has_row


def lock_column(project: Project, status_id: int) -> LockedColumn | None:
    """A column of this project locked for a new card; None when it is not on the board."""
    with connection.cursor() as cursor:
        cursor.execute(_COLUMN_SQL, {"column": status_id, "project": project.pk})
        row = cursor.fetchone()
    if row is None:
        return None
    (column,), (has_row, exclusive, top, bottom) = split_row(row, TaskStatus)
    return LockedColumn(column=column, has_row=has_row, exclusive=exclusive, top=top, bottom=bottom)
