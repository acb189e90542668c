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
