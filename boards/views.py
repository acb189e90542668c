"""Pages and htmx partials. Every view checks membership through boards.access."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from boards.access import get_project_for, projects_for
from boards.models import Task


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    projects = (
        projects_for(request.user)
        .select_related("application", "status_aggregation", "derived_status")
        .order_by("application__name", "application_id", "name", "pk")
    )
    return render(request, "boards/home.html", {"projects": projects})


@require_GET
@login_required
def board(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    columns = list(project.task_statuses.order_by("position", "pk"))
    return render(request, "boards/board.html", {"project": project, "columns": columns})


@require_GET
@login_required
def card(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    try:
        task = Task.objects.select_related("task_status", "assignee", "reporter").get(pk=task_id, project=project)
    except Task.DoesNotExist:
        raise Http404("No such card.") from None
    return render(request, "boards/card.html", {"project": project, "task": task})
