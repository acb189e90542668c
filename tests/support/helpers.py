"""Assertions shared across the suite."""

from aggregates.counts import count_live_tasks, derive_category
from aggregates.models import ProjectTaskStatusAgg
from boards.models import Project


def assert_counts_exact(*projects: Project) -> None:
    """Every given project's row (all projects when none given) equals a fresh recount."""
    ids = [p.pk for p in projects] or list(Project.objects.values_list("pk", flat=True))
    expected = count_live_tasks(ids)
    rows = {row.project_id: row for row in ProjectTaskStatusAgg.objects.filter(project_id__in=ids)}
    for project_id in ids:
        assert project_id in rows, f"project {project_id} has no counts row"
        row = rows[project_id]
        assert row.as_counts() == expected[project_id], (
            f"project {project_id}: {row.as_counts()} != {expected[project_id]}"
        )
        assert row.total_tasks == sum(expected[project_id].values())
        project = Project.objects.select_related("derived_status").get(pk=project_id)
        category = derive_category(expected[project_id])
        first = project.task_statuses.filter(category=category).order_by("position", "pk").first()
        assert project.derived_status == first, f"project {project_id}: status {project.derived_status} != {first}"


# The derived status rule (ARCHITECTURE.md), row by row: live tasks per category -> status category.
DERIVED_RULES = [
    ({}, "todo"),
    ({"todo": 3}, "todo"),
    ({"issue": 1}, "issue"),
    ({"issue": 1, "done": 5}, "issue"),
    ({"todo": 1, "active": 1, "review": 1, "issue": 1, "done": 1}, "issue"),
    ({"done": 4}, "done"),
    ({"review": 2}, "review"),
    ({"review": 2, "done": 3}, "review"),
    ({"review": 1, "todo": 1}, "active"),
    ({"review": 1, "active": 1}, "active"),
    ({"active": 1}, "active"),
    ({"active": 2, "review": 1, "done": 1}, "active"),
    ({"todo": 2, "done": 1}, "active"),
    ({"todo": 2, "active": 1}, "active"),
]


def deadlocks_detected() -> int:
    """PostgreSQL's count of deadlocks it broke in this database so far (pg_stat_database).

    Statistics reach the view when a backend goes idle or exits: this one is flushed first, and
    the wait for other backends of the database to leave covers workers that just exited.
    """
    import time

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]
