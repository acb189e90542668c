from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseRedirect

from boards import services
from boards.forms import parse_id
from boards.models import (
    Application,
    Invitation,
    Membership,
    Project,
    ProjectDailySnapshot,
    ProjectSequence,
    Task,
    TaskEvent,
    TaskStatus,
    WorkspaceEvent,
)
from boards.queries import ReadOnly
from tasktrack.admin import ReadOnlyAdmin


class OperationAdmin(admin.ModelAdmin):
    """Saves go through boards.services; a refusal there (a full column, a card deleted
    meanwhile) rolls the whole save back and comes back as a message, not a 500."""

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except (ValidationError, services.Conflict, Task.DoesNotExist, ReadOnly) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            self.message_user(request, f"Nothing was saved: {text}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]

    def get_deleted_objects(self, objs, request):
        return _deletion_summary(Project.objects.filter(application__in=objs), objs)

    def delete_model(self, request, obj):
        """Through the service: recorded, and the cards go in one statement, not one by one."""
        services.delete_workspace(application=obj, actor=request.user, confirm_name=obj.name, staff=True)

    def delete_queryset(self, request, queryset):
        for application in queryset:
            self.delete_model(request, application)


def _deletion_summary(projects, objs):
    """The admin's delete confirmation in numbers: Django would load and list every card."""
    cards = Task.objects.filter(project__in=projects).count()
    summary = [f"{obj} with {cards} card(s) in all, their columns, history and counts" for obj in objs]
    return summary, {"projects": projects.count(), "cards": cards}, set(), []


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "application", "role"]
    list_filter = ["role", "application"]
    list_select_related = ["user", "application"]
    search_fields = ["user__username", "application__name"]
    autocomplete_fields = ["user", "application"]


@admin.register(Project)
class ProjectAdmin(OperationAdmin):
    list_display = ["key", "name", "application", "derived_status", "created_at"]
    list_filter = ["application"]
    list_select_related = ["application", "derived_status"]
    search_fields = ["name", "key"]
    readonly_fields = ["derived_status", "created_at"]

    def save_model(self, request, obj, form, change):
        """New projects and renames through the services: recorded in the workspace's history."""
        if not change:
            created = services.create_project(
                application=obj.application, name=obj.name, key=obj.key, actor=request.user
            )
            obj.pk, obj.key, obj._state.adding = created.pk, created.key, False  # the admin goes on with obj
            return
        if "name" in form.changed_data:
            services.rename_project(project=obj, name=obj.name, actor=request.user)
        if set(form.changed_data) - {"name"}:
            obj.save()

    def get_readonly_fields(self, request, obj=None):
        # Moving a project is services.move_project (the workspace pages): it re-checks open sockets.
        return [*self.readonly_fields, "application"] if obj else self.readonly_fields

    def get_deleted_objects(self, objs, request):
        return _deletion_summary(Project.objects.filter(pk__in=[obj.pk for obj in objs]), objs)

    def delete_model(self, request, obj):
        services.delete_project(project=obj, actor=request.user, staff=True)

    def delete_queryset(self, request, queryset):
        for project in queryset:
            self.delete_model(request, project)


@admin.register(TaskStatus)
class TaskStatusAdmin(OperationAdmin):
    list_display = ["name", "project", "category", "position", "wip_limit", "wip_hard"]
    list_filter = ["category", "project"]
    list_select_related = ["project"]
    search_fields = ["name", "project__name", "project__key"]
    ordering = ["project", "position"]

    def get_readonly_fields(self, request, obj=None):
        # A column never changes project: its cards would be left on the other board.
        return ["project"] if obj else []

    def save_model(self, request, obj, form, change):
        """Name, category and WIP limit through the column operation: history and live push follow."""
        if change and {"name", "category", "wip_limit", "wip_hard"} & set(form.changed_data):
            services.update_column(
                project=obj.project,
                status_id=obj.pk,
                name=obj.name,
                category=obj.category,
                wip_limit=obj.wip_limit,
                wip_hard=obj.wip_hard,
                actor=request.user,
            )
            if "position" in form.changed_data:
                obj.save(update_fields=["position"])
        else:
            obj.save()

    def get_deleted_objects(self, objs, request):
        # A column that still holds cards is refused before Django collects them (a busy column
        # holds thousands): the delete page and the bulk delete action list why, delete nothing.
        held = dict(
            Task.objects.filter(task_status__in=objs).values_list("task_status").annotate(n=Count("pk")).order_by()
        )
        if held:
            return [], {}, set(), [column.still_holds(held[column.pk]) for column in objs if column.pk in held]
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        try:
            obj.delete()
        except ValidationError as error:  # a card arrived after the confirmation page
            self.message_user(request, " ".join(error.messages), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for column in queryset:
            self.delete_model(request, column)


class TaskStatusFilter(admin.SimpleListFilter):
    """Columns named with their project's key (every board has a “Todo”), narrowed to the chosen project."""

    title = "status"
    parameter_name = "task_status"

    def lookups(self, request, model_admin):
        columns = TaskStatus.objects.select_related("project").order_by("project__key", "project_id", "position")
        project_id = parse_id(request.GET.get("project__id__exact", ""))
        if project_id is not None:
            columns = columns.filter(project_id=project_id)
        return [(str(column.pk), f"{column.project.key} · {column.name}") for column in columns]

    def queryset(self, request, queryset):
        status_id = parse_id(self.value() or "")
        return queryset.filter(task_status_id=status_id) if status_id is not None else queryset


@admin.register(Task)
class TaskAdmin(OperationAdmin):
    list_display = ["title", "project", "task_status", "assignee", "reporter", "archived_at", "updated_at"]
    list_filter = [
        "project",
        TaskStatusFilter,
        "task_status__category",
        ("assignee", admin.RelatedOnlyFieldListFilter),
        ("archived_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["project", "task_status", "assignee", "reporter"]
    search_fields = ["title", "description"]
    autocomplete_fields = ["assignee", "reporter", "task_status", "project"]
    readonly_fields = ["created_at", "updated_at", "version"]
    actions = ["archive_selected"]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # A card never changes project; its column is chosen among its project's.
        return [*self.readonly_fields, "project"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Through the task operations, like every other write: counts, history and live push follow."""
        with transaction.atomic():
            if change:
                _save_changes(obj, set(form.changed_data), actor=request.user)
            else:
                task = services.create_task(
                    project=obj.project,
                    status_id=obj.task_status_id,
                    title=obj.title,
                    reporter=obj.reporter,
                    description=obj.description,
                    assignee=obj.assignee,
                    actor=request.user,
                )
                if obj.archived_at:
                    services.archive_task(project=obj.project, task_id=task.pk, actor=request.user)
                obj.pk = task.pk
                obj._state.adding = False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.delete_task(project=obj.project, task_id=obj.pk, actor=request.user)

    @admin.action(description="Archive selected cards")
    def archive_selected(self, request, queryset):
        archived = 0
        for project_id in set(queryset.values_list("project_id", flat=True)):
            project = Project.objects.get(pk=project_id)
            ids = list(queryset.filter(project_id=project_id, archived_at__isnull=True).values_list("pk", flat=True))
            services.bulk_archive_tasks(project=project, task_ids=ids, actor=request.user)
            archived += len(ids)
        self.message_user(request, f"Archived {archived} card(s).", messages.SUCCESS)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for task in queryset.select_related("project"):
                self.delete_model(request, task)


@admin.register(TaskEvent)
class TaskEventAdmin(ReadOnlyAdmin):
    list_display = ["project", "seq", "kind", "task_title", "from_category", "to_category", "actor", "at"]
    list_filter = ["kind", "project", "to_category"]
    list_select_related = ["project", "actor"]
    search_fields = ["task_title"]
    show_full_result_count = False


@admin.register(ProjectSequence)
class ProjectSequenceAdmin(ReadOnlyAdmin):
    list_display = ["project", "last_seq"]
    list_select_related = ["project"]
    search_fields = ["project__name", "project__key"]


@admin.register(ProjectDailySnapshot)
class ProjectDailySnapshotAdmin(ReadOnlyAdmin):
    list_display = ["project", "date", "todo_tasks", "active_tasks", "review_tasks", "issue_tasks", "done_tasks"]
    list_filter = ["project", "date"]
    list_select_related = ["project"]
    search_fields = ["project__name", "project__key"]


def _save_changes(task: Task, changed: set[str], *, actor) -> None:
    """Apply an admin change form's edits one operation at a time. Call inside atomic()."""
    project = task.project
    edits = {field: getattr(task, field) for field in ("title", "description", "assignee") if field in changed}
    if edits:
        version = Task.objects.values_list("version", flat=True).get(pk=task.pk)
        services.update_task(project=project, task_id=task.pk, version=version, actor=actor, **edits)
    if "task_status" in changed:
        services.move_task(project=project, task_id=task.pk, status_id=task.task_status_id, actor=actor)
    if "archived_at" in changed:
        if task.archived_at:
            services.archive_task(project=project, task_id=task.pk, actor=actor)
        else:
            services.unarchive_task(project=project, task_id=task.pk, actor=actor)
    plain = [field for field in ("reporter", "position") if field in changed]
    if plain:  # nothing counted, nothing a board shows live
        task.save(update_fields=plain)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made and revoked on the members page; here they can be looked at, revoked
    by setting revoked_at, or deleted. The token itself was never stored: only its hash."""

    list_display = [
        "application",
        "role",
        "email",
        "created_by",
        "created_at",
        "expires_at",
        "use_count",
        "max_uses",
        "revoked_at",
    ]
    list_filter = ["role", "application"]
    list_select_related = ["application", "created_by"]
    search_fields = ["email", "application__name"]
    readonly_fields = ["application", "token_hash", "created_by", "created_at", "use_count"]
    fields = [
        "application",
        "token_hash",
        "role",
        "email",
        "created_by",
        "created_at",
        "expires_at",
        "max_uses",
        "use_count",
        "revoked_at",
    ]

    def has_add_permission(self, request):
        return False  # a token shown to nobody would be no use: owners make them on the members page


@admin.register(WorkspaceEvent)
class WorkspaceEventAdmin(ReadOnlyAdmin):
    """The workspaces' history: written only by boards.services (workspace_log.record)."""

    list_display = ["at", "kind", "application_name", "subject_name", "actor"]
    list_filter = ["kind"]
    list_select_related = ["actor"]
    search_fields = ["application_name", "subject_name", "actor__username"]
    date_hierarchy = "at"
