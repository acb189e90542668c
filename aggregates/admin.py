from django.contrib import admin

from aggregates.models import ProjectTaskStatusAgg


@admin.register(ProjectTaskStatusAgg)
class ProjectTaskStatusAggAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Not from its own pages. Deleting a project or a workspace takes its row along, and the
        # admin asks this admin about every row it would take: refusing there refused the project.
        match = request.resolver_match
        own_page = match is not None and (match.url_name or "").startswith(
            f"{self.opts.app_label}_{self.opts.model_name}_"
        )
        return not own_page and request.user.has_perm("boards.delete_project")
