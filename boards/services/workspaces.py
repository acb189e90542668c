"""Writes to workspaces: create (the creator becomes its owner), rename, delete with everything
under it. Each is recorded in the workspace's history (services.workspace_log); the record of a
deletion outlives the workspace (WorkspaceEvent.application becomes NULL, its name stays)."""

from django.core.exceptions import ValidationError
from django.db import transaction

from boards.models import Application, Membership, Project, Task, WorkspaceEvent
from boards.services import workspace_log
from boards.services.base import retry_on_deadlock
from boards.services.projects import check_owner, delete_projects

Kind = WorkspaceEvent.Kind
NAME_MAX = Application._meta.get_field("name").max_length


def clean_workspace_name(name) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "A workspace needs a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"Keep the name to {NAME_MAX} characters (this one has {len(name)})."})
    return name


def create_workspace(*, name: str, owner) -> Application:
    """A new workspace, owned by `owner`."""
    name = clean_workspace_name(name)
    with transaction.atomic():
        application = Application.objects.create(name=name)
        Membership.objects.create(application=application, user=owner, role=Membership.Role.OWNER)
        workspace_log.record(application, Kind.WORKSPACE_CREATED, owner, subject_name=name)
    return application


def _locked(application: Application) -> Application:
    locked = Application.objects.select_for_update().filter(pk=application.pk).first()
    if locked is None:
        raise Application.DoesNotExist("This workspace no longer exists: someone may have deleted it.")
    return locked


@retry_on_deadlock
def rename_workspace(*, application: Application, name: str, actor) -> Application:
    """A new name for the workspace (owners only)."""
    name = clean_workspace_name(name)
    with transaction.atomic():
        locked = _locked(application)
        check_owner(actor, locked.pk)
        old = locked.name
        if old != name:
            locked.name = name
            locked.save(update_fields=["name"])
            workspace_log.record(locked, Kind.WORKSPACE_RENAMED, actor, subject_name=name, old_name=old, new_name=name)
    return locked


@retry_on_deadlock
def delete_workspace(*, application: Application, actor, confirm_name: str, staff: bool = False) -> dict[str, int]:
    """Delete the workspace with its projects, their cards, history and counts rows, its members
    and invitations (owners only, or staff=True from the admin; `confirm_name` must be its name).
    Returns what went: {"projects": n, "cards": m}."""
    with transaction.atomic():
        locked = _locked(application)
        check_owner(actor, locked.pk, staff=staff)
        if (confirm_name or "").strip() != locked.name:
            raise ValidationError({"confirm": f"Type the workspace's name, “{locked.name}”, to delete it."})
        # Locked in id order, as every other writer of a project's row would take them.
        project_ids = list(
            Project.objects.select_for_update().filter(application=locked).order_by("pk").values_list("pk", flat=True)
        )
        gone = {"projects": len(project_ids), "cards": Task.objects.filter(project_id__in=project_ids).count()}
        workspace_log.record(locked, Kind.WORKSPACE_DELETED, actor, subject_name=locked.name, **gone)
        delete_projects(project_ids)
        # Memberships go with it: their delete signals close the members' open board sockets.
        locked.delete()
    return gone
