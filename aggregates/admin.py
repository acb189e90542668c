from django.contrib import admin

from aggregates.models import ProjectTaskStatusAgg
from tasktrack.admin import ReadOnlyAdmin


@admin.register(ProjectTaskStatusAgg)
class ProjectTaskStatusAggAdmin(ReadOnlyAdmin):
    """Read-only: the counts are derived; recalc_aggregates repairs them."""

    list_display = [
        "project",
        "total_tasks",
        "todo_tasks",
        "active_tasks",
        "review_tasks",
        "issue_tasks",
        "done_tasks",
        "updated_at",
    ]
    list_select_related = ["project"]
    search_fields = ["project__name", "project__key"]
    list_filter = ["project__application"]
