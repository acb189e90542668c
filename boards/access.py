"""Fetch an object and check the user's access in one step; views and the consumer share it."""

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404

from boards.models import Membership, Project


class ReadOnly(PermissionDenied):
    """A viewer tried to change something: 403."""


def projects_for(user):
    """The projects of the user's workspaces, each annotated with the user's `role`."""
    # filter() before annotate(): the role comes from the same membership join.
    return Project.objects.filter(application__memberships__user=user).annotate(
        role=F("application__memberships__role")
    )


def get_project_for(user, project_id, *, edit: bool = False) -> Project:
    """The project with its counts and the user's role; 404 when the user is not a member.

    With edit=True a viewer gets ReadOnly (403) instead.
    """
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such project.")
    try:
        project = (
            projects_for(user)
            .select_related("application", "status_aggregation", "derived_status")
            .get(pk=int(project_id))
        )
    except (Project.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404("No such project.") from None
    if edit and project.role == Membership.Role.VIEWER:
        raise ReadOnly("Viewers can look at this board but not change it.")
    return project


def can_edit(project: Project) -> bool:
    return project.role in (Membership.Role.OWNER, Membership.Role.EDITOR)


def is_owner(project: Project) -> bool:
    return project.role == Membership.Role.OWNER
