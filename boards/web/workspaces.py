"""Workspace pages and what an owner does to a whole workspace or project: create, rename and
delete workspaces (with a confirmation page), the switcher, the workspace page with its projects,
archived ones apart; delete, archive, unarchive and move a project.

As in boards.web.views: bind a form, check access (a workspace the user is not a member of, or a
project of one, answers 404), call one service, then redirect with a message (a plain POST works
without JavaScript) or, under htmx, send the page there. Refusals answer 4xx with the message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from boards import forms, queries, services
from boards.models import Membership, Project
from boards.queries import get_project_for, get_workspace_for
from boards.web.views import HtmxHttpRequest, _with_counts

OWNERS_ONLY = "Only the workspace's owners can do this."


def _go(request: HtmxHttpRequest, url: str, text: str = "") -> HttpResponse:
    """After a write: back to a page, with a message it shows once."""
    if text:
        messages.success(request, text)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _refused(request, error, status: int, *, back: str) -> HttpResponse:
    text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    return render(request, "boards/refused.html", {"message": text, "back": back}, status=status)


def _owner(membership: Membership) -> None:
    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied(OWNERS_ONLY)


# -- workspaces ---------------------------------------------------------------------------------


@require_GET
@login_required
def workspaces(request: HtmxHttpRequest) -> HttpResponse:
    """The user's workspaces and a form for a new one; under htmx, the header switcher's list."""
    memberships = queries.workspaces_of(request.user)
    if request.htmx:
        return render(request, "boards/workspaces.html#switcher", {"memberships": memberships})
    return render(request, "boards/workspaces.html", {"memberships": memberships})


@require_POST
@login_required
def workspace_create(request: HtmxHttpRequest) -> HttpResponse:
    try:
        data = forms.bind(forms.WorkspaceNameForm, request.POST)
        application = services.create_workspace(name=data["name"], owner=request.user)
    except ValidationError as error:
        return _refused(request, error, 422, back=reverse("workspaces"))
    return _go(request, reverse("workspace", args=[application.pk]), f"Created the workspace “{application.name}”.")


@require_GET
@login_required
def workspace(request: HtmxHttpRequest, application_id: int) -> HttpResponse:
    membership = get_workspace_for(request.user, application_id)
    live, archived = queries.workspace_projects(application_id)
    is_owner = membership.role == Membership.Role.OWNER
    context = {
        "application": membership.application,
        "membership": membership,
        "is_owner": is_owner,
        "projects": [_with_counts(project) for project in live],
        "archived_projects": archived,
    }
    return render(request, "boards/workspace.html", context)


@require_POST
@login_required
def workspace_rename(request: HtmxHttpRequest, application_id: int) -> HttpResponse:
    membership = get_workspace_for(request.user, application_id)
    back = reverse("workspace", args=[application_id])
    try:
        _owner(membership)
        data = forms.bind(forms.WorkspaceNameForm, request.POST)
        application = services.rename_workspace(
            application=membership.application, name=data["name"], actor=request.user
        )
    except PermissionDenied as error:
        return _refused(request, error, 403, back=back)
    except ObjectDoesNotExist as error:  # deleted by someone else meanwhile
        return _refused(request, error, 404, back=reverse("home"))
    except ValidationError as error:
        return _refused(request, error, 422, back=back)
    return _go(request, back, f"Renamed the workspace to “{application.name}”.")


@require_http_methods(["GET", "POST"])
@login_required
def workspace_delete(request: HtmxHttpRequest, application_id: int) -> HttpResponse:
    """GET: what deleting would take, and a box to type the workspace's name; POST: delete."""
    membership = get_workspace_for(request.user, application_id)
    back = reverse("workspace", args=[application_id])
    context = {"application": membership.application}
    try:
        _owner(membership)
        context["contents"] = queries.workspace_contents(application_id)
        if request.method == "GET":
            return render(request, "boards/workspace_delete.html", context)
        data = forms.bind(forms.WorkspaceDeleteForm, request.POST)
        gone = services.delete_workspace(
            application=membership.application, actor=request.user, confirm_name=data["confirm"]
        )
    except PermissionDenied as error:
        return _refused(request, error, 403, back=back)
    except ObjectDoesNotExist as error:  # deleted by someone else meanwhile
        return _refused(request, error, 404, back=reverse("home"))
    except ValidationError as error:
        context["error"] = " ".join(error.messages)
        return render(request, "boards/workspace_delete.html", context, status=422)
    text = (
        f"Deleted the workspace “{membership.application.name}” with {gone['projects']} "
        f"project(s) and {gone['cards']} card(s)."
    )
    return _go(request, reverse("home"), text)


# -- a whole project ----------------------------------------------------------------------------


def _project_for_owner(request, project_id: int) -> Project:
    """The project (404 for a non-member), PermissionDenied unless the user owns its workspace."""
    project = get_project_for(request.user, project_id)
    if not queries.is_owner(project):
        raise PermissionDenied(OWNERS_ONLY)
    return project


def _workspace_url(project: Project) -> str:
    return reverse("workspace", args=[project.application_id])


@require_http_methods(["GET", "POST"])
@login_required
def project_delete(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """GET: a confirmation page naming the number of cards; POST: delete."""
    project = get_project_for(request.user, project_id)
    back = _workspace_url(project)
    try:
        if not queries.is_owner(project):
            raise PermissionDenied(OWNERS_ONLY)
        if request.method == "GET":
            context = {"project": project, "cards": queries.card_count(project)}
            return render(request, "boards/project_delete.html", context)
        cards = services.delete_project(project=project, actor=request.user)
    except PermissionDenied as error:
        return _refused(request, error, 403, back=back)
    except ObjectDoesNotExist as error:  # deleted by someone else meanwhile
        return _refused(request, error, 404, back=reverse("home"))
    return _go(request, back, f"Deleted the project “{project.name}” and its {cards} card(s).")


def _project_change(change, done: str):
    """A POST that archives or unarchives a project: owners only, back to the workspace page."""

    @require_POST
    @login_required
    def view(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
        project = get_project_for(request.user, project_id)
        back = _workspace_url(project)
        try:
            if not queries.is_owner(project):
                raise PermissionDenied(OWNERS_ONLY)
            change(project=project, actor=request.user)
        except PermissionDenied as error:
            return _refused(request, error, 403, back=back)
        except ObjectDoesNotExist as error:  # deleted by someone else meanwhile
            return _refused(request, error, 404, back=reverse("home"))
        return _go(request, back, done.format(name=project.name))

    return view


project_archive = _project_change(
    services.archive_project, "Archived “{name}”: it is read-only and listed under Archived projects."
)
project_unarchive = _project_change(services.unarchive_project, "“{name}” is back.")


@require_http_methods(["GET", "POST"])
@login_required
def project_move(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """GET: the workspaces the user owns to move the project to; POST: move it there."""
    project = get_project_for(request.user, project_id)
    back = _workspace_url(project)
    context = {"project": project, "targets": queries.owned_workspaces(request.user, besides=project.application_id)}
    try:
        if not queries.is_owner(project):
            raise PermissionDenied(OWNERS_ONLY)
        if request.method == "GET":
            return render(request, "boards/project_move.html", context)
        data = forms.bind(forms.ProjectMoveForm, request.POST)
        # A workspace the user does not own is refused the same way whether it exists or not.
        target = next((w for w in context["targets"] if w.pk == data["application"]), None)
        if target is None:
            raise ValidationError({"application": "Pick one of the workspaces you own."})
        project = services.move_project(project=project, target=target, actor=request.user, key=data["key"])
    except PermissionDenied as error:
        return _refused(request, error, 403, back=back)
    except ObjectDoesNotExist as error:  # deleted by someone else meanwhile
        return _refused(request, error, 404, back=reverse("home"))
    except ValidationError as error:
        context.update(error=" ".join(error.messages), posted=request.POST)
        return render(request, "boards/project_move.html", context, status=422)
    return _go(request, _workspace_url(project), f"Moved “{project.name}” to “{target.name}” as {project.key}.")
