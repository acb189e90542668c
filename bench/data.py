"""Benchmark data built with set-based SQL: a million tasks in seconds, not minutes.

Raw INSERTs fire no signals, so after building, fill_aggregates() writes each project's counts
row and derived status from one GROUP BY, exactly as the invariants require.
"""

from django.contrib.auth import get_user_model
from django.db import connection

from aggregates.models import ProjectTaskStatusAgg
from boards.models import DEFAULT_COLUMNS, LABEL_COLOURS, Application, Membership, Project

BENCH_USER = "bench"
AGG_TABLE = ProjectTaskStatusAgg._meta.db_table
COLUMN_COUNT = len(DEFAULT_COLUMNS)

# Truncated between measurements. Only ever in a database of the benchmark's own.
DOMAIN_TABLES = [
    "boards_task",
    "boards_taskstatus",
    AGG_TABLE,
    "boards_project",
    "boards_membership",
    "boards_application",
    "django_session",
]


def is_bench_database() -> bool:
    name = connection.settings_dict["NAME"]
    return name.endswith("_bench") or name.startswith("test_")


def reset() -> None:
    """Empty the domain tables: each measurement starts from its own data."""
    if not is_bench_database():
        raise RuntimeError(f"Refusing to empty {connection.settings_dict['NAME']}: not a *_bench database.")
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(DOMAIN_TABLES)} RESTART IDENTITY CASCADE")


def bench_user():
    user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"first_name": "Bench"})
    return user


def make_application(user, name: str = "Bench workspace") -> Application:
    application = Application.objects.create(name=name)
    Membership.objects.create(application=application, user=user, role=Membership.Role.OWNER)
    return application


def build_projects(application: Application, *, projects: int, tasks_per_project: int, reporter, prefix="B"):
    """`projects` projects with the default columns and `tasks_per_project` tasks each (1 in 50
    archived, every third assigned), spread round-robin over the five columns. Returns their ids.
    Call fill_aggregates() afterwards (or leave a project without its row on purpose)."""
    values = ", ".join(["(%s, %s, %s)"] * COLUMN_COUNT)
    params = [item for index, (name, category) in enumerate(DEFAULT_COLUMNS) for item in (name, category.value, index)]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO boards_project (application_id, name, key, created_at) "
            "SELECT %s, %s || ' ' || g, %s || g, now() FROM generate_series(1, %s) g RETURNING id",
            [application.pk, f"Bench {prefix}", prefix, projects],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "INSERT INTO boards_taskstatus (project_id, name, category, position, wip_limit, wip_hard) "
            f"SELECT p.id, c.name, c.category, c.position, NULL, false FROM boards_project p "
            f"CROSS JOIN (VALUES {values}) AS c(name, category, position) WHERE p.id = ANY(%s)",
            [*params, ids],
        )
        if tasks_per_project:
            # Column c holds tasks c, c+5, c+10, …: g = k * 5 + c.
            cursor.execute(
                "INSERT INTO boards_task (project_id, task_status_id, title, description, assignee_id, "
                "reporter_id, position, archived_at, created_at, updated_at, version, number) "
                "SELECT s.project_id, s.id, 'Bench task ' || (k * %(cols)s + s.position), '', "
                "CASE WHEN k %% 3 = 0 THEN %(user)s END, %(user)s, k * 1024.0, "
                "CASE WHEN (k * %(cols)s + s.position) %% 50 = 49 THEN now() END, now(), now(), 1, "
                "k * %(cols)s + s.position + 1 "
                "FROM boards_taskstatus s CROSS JOIN LATERAL "
                "generate_series(0, floor((%(n)s - 1 - s.position) / %(cols)s::float)::int) k "
                "WHERE s.project_id = ANY(%(ids)s)",
                {"cols": COLUMN_COUNT, "user": reporter.pk, "n": tasks_per_project, "ids": ids},
            )
        # Card numbers 1..n are taken: the next card of each project gets n + 1.
        cursor.execute(
            "INSERT INTO boards_cardnumbersequence (project_id, last_number) "
            "SELECT p, %s FROM unnest(%s::int[]) p "
            "ON CONFLICT (project_id) DO UPDATE SET last_number = EXCLUDED.last_number",
            [tasks_per_project, ids],
        )
    return ids


# What dress_cards puts on every card face, as SQL: face_values(n, labels) gives the values of
# FACE_COLUMNS for a card numbered by the integer expression `n`, `labels` its project's label ids.
FACE_COLUMNS = "label_ids, priority, due_date, checklist_done, checklist_total, comment_count, attachment_count"


def face_values(n: str, labels: str) -> str:
    return f"({labels})[1:3], ({n}) %% 5, current_date + (({n}) %% 21 - 7)::int, 2, 5, 3, 1"


def make_labels(project_ids: list[int]) -> None:
    """Five labels in each of these projects (the ones dress_cards puts on the faces)."""
    colours = [colour for colour, _ in LABEL_COLOURS[:5]]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO boards_label (project_id, name, colour) "
            "SELECT p, 'Label ' || n, (%s::text[])[n] FROM unnest(%s::int[]) p CROSS JOIN generate_series(1, 5) n",
            [colours, project_ids],
        )


LABEL_IDS_SQL = (
    "SELECT project_id, array_agg(id ORDER BY id) AS ids FROM boards_label "
    "WHERE project_id = ANY(%s) GROUP BY project_id"
)


def dress_cards(project_ids: list[int]) -> None:
    """Every card of these projects carries what a card face can show (issue 14): three of its
    project's five labels, a priority, a due date, checklist progress, and comment and attachment
    counts. The faces read all of it from the card's own row; the labels are one query per board."""
    make_labels(project_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE boards_task t SET ({FACE_COLUMNS}) = ({face_values('t.id', 'l.ids')}) "
            f"FROM ({LABEL_IDS_SQL}) l WHERE t.project_id = l.project_id",
            [project_ids],
        )


def fill_aggregates(project_ids: list[int]) -> None:
    """Each project's counts row and derived status from one GROUP BY (raw inserts fired no signals)."""
    categories = ["todo", "active", "review", "issue", "done"]
    counted = ", ".join(f"count(t.id) FILTER (WHERE s.category = '{c}')" for c in categories)
    columns = ", ".join(f"{c}_tasks" for c in categories)
    updates = ", ".join(f"{c}_tasks = EXCLUDED.{c}_tasks" for c in ["total", *categories])
    derived = (
        "CASE WHEN a.total_tasks = 0 THEN 'todo' WHEN a.issue_tasks > 0 THEN 'issue' "
        "WHEN a.done_tasks = a.total_tasks THEN 'done' "
        "WHEN a.review_tasks = a.total_tasks - a.done_tasks THEN 'review' "
        "WHEN a.active_tasks + a.review_tasks + a.done_tasks > 0 THEN 'active' ELSE 'todo' END"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AGG_TABLE} (project_id, total_tasks, {columns}, updated_at) "
            f"SELECT p.id, count(t.id), {counted}, now() FROM boards_project p "
            "LEFT JOIN boards_task t ON t.project_id = p.id AND t.archived_at IS NULL "
            "LEFT JOIN boards_taskstatus s ON s.id = t.task_status_id "
            "WHERE p.id = ANY(%s) GROUP BY p.id "
            f"ON CONFLICT (project_id) DO UPDATE SET {updates}, updated_at = EXCLUDED.updated_at",
            [project_ids],
        )
        cursor.execute(
            "UPDATE boards_project p SET derived_status_id = (SELECT s.id FROM boards_taskstatus s "
            f"WHERE s.project_id = p.id AND s.category = {derived} ORDER BY s.position, s.id LIMIT 1) "
            f"FROM {AGG_TABLE} a WHERE a.project_id = p.id AND p.id = ANY(%s)",
            [project_ids],
        )


def drop_aggregate(project_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AGG_TABLE} WHERE project_id = %s", [project_id])


def delete_tasks(task_ids: list[int]) -> None:
    """Remove tasks a measurement created, behind the counts' back (the caller fixes the row)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM boards_task WHERE id = ANY(%s)", [task_ids])


def analyze() -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give a live system."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE boards_task, boards_taskstatus, boards_project, {AGG_TABLE}")


def columns_of(project_id: int) -> list:
    return list(Project.objects.get(pk=project_id).task_statuses.order_by("position", "pk"))
