"""Admin pieces shared by the apps."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only or derived rows: shown here, written only by the code that owns them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Not from its own pages. Deleting a project takes these rows along, and the admin asks
        # this admin about every row it would take: refusing there would refuse the project.
        match = request.resolver_match
        own_page = match is not None and (match.url_name or "").startswith(
            f"{self.opts.app_label}_{self.opts.model_name}_"
        )
        return not own_page and request.user.has_perm("boards.delete_project")
