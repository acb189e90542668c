"""Fetch an object and check the user's access in one step; views and the consumer share it."""

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F
from django.http import Http404

from aggregates.models import ProjectTaskStatusAgg
from boards.models import Application, Membership, Project, TaskStatus
from boards.rawsql import select_list, split_row


class ReadOnly(PermissionDenied):
    """A viewer tried to change something: 403."""


def projects_for(user):
    """The projects of the user's workspaces, each annotated with the user's `role`."""
    # filter() before annotate(): the role comes from the same membership join.
    return Project.objects.filter(application__memberships__user=user).annotate(
        role=F("application__memberships__role")
    )


# What get_project_for reads, as projects_for(user).select_related(...).get(pk=…) would, in raw SQL
# built once: every request runs it, and the ORM spent more CPU compiling it than PostgreSQL did.
_PROJECT_SQL = (
    f"SELECT {select_list('p', Project)}, {select_list('ap', Application)}, "
    f"{select_list('a', ProjectTaskStatusAgg)}, {select_list('d', TaskStatus)}, m.role "
    f"FROM {Project._meta.db_table} p "
    f"JOIN {Application._meta.db_table} ap ON ap.id = p.application_id "
    f"JOIN {Membership._meta.db_table} m ON m.application_id = p.application_id AND m.user_id = %s "
    f"LEFT JOIN {ProjectTaskStatusAgg._meta.db_table} a ON a.project_id = p.id "
    f"LEFT JOIN {TaskStatus._meta.db_table} d ON d.id = p.derived_status_id "
    "WHERE p.id = %s"
)


def get_project_for(user, project_id, *, edit: bool = False) -> Project:
    """The project with its workspace, counts, derived status and the user's `role`; 404 when the
    user is not a member of its workspace.

    With edit=True a viewer gets ReadOnly (403) instead.
    """
    if not getattr(user, "is_authenticated", False):
        raise Http404("No such project.")
    try:
        project_id = int(project_id)
    except (TypeError, ValueError, OverflowError):
        raise Http404("No such project.") from None
    if not -(2**63) <= project_id < 2**63:
        raise Http404("No such project.")
    with connection.cursor() as cursor:
        cursor.execute(_PROJECT_SQL, [user.pk, project_id])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such project.")
    (project, application, counts, derived_status), (role,) = split_row(
        row, Project, Application, ProjectTaskStatusAgg, TaskStatus
    )
    project.application, project.status_aggregation, project.derived_status = application, counts, derived_status
    project.role = role
    if edit and project.role == Membership.Role.VIEWER:
        raise ReadOnly("Viewers can look at this board but not change it.")
    return project


def can_edit(project: Project) -> bool:
    return project.role in (Membership.Role.OWNER, Membership.Role.EDITOR)


def is_owner(project: Project) -> bool:
    return project.role == Membership.Role.OWNER
