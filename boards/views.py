"""Pages and htmx partials. Every view checks membership through boards.access."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods

from boards import live, realtime, services
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
    live_seq = live.current_seq(project.pk)  # before the cards: a later change must look unseen
    columns = list(project.task_statuses.order_by("position", "pk"))
    counts = services.column_counts(project)
    cards: dict[int, list[Task]] = {}
    for task in Task.objects.for_board().filter(project=project):
        cards.setdefault(task.task_status_id, []).append(task)
    for column in columns:
        column.live_count = counts.get(column.pk, 0)
        column.cards = cards.get(column.pk, [])
    return render(request, "boards/board.html", {"project": project, "columns": columns, "live_seq": live_seq})


@require_GET
@login_required
def card(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    try:
        task = Task.objects.select_related("task_status", "assignee", "reporter").get(pk=task_id, project=project)
    except Task.DoesNotExist:
        raise Http404("No such card.") from None
    return render(request, "boards/card.html", {"project": project, "task": task})


def _display_name(user) -> str:
    return user.get_full_name() or user.get_username()


def _publish_lock(project_id: int, task_id: int, holder_name: str = "") -> None:
    html = render_to_string("boards/live/lock.html", {"task_id": task_id, "holder_name": holder_name})
    live.publish(project_id, html, exclude=live.origin_client.get())


@require_http_methods(["GET", "POST"])
@login_required
def card_edit(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    """The card's editor: GET takes the card's edit lock (or shows who holds it, read-only);
    POST saves through services.update_task, whose version check stays the last guard."""
    project = get_project_for(request.user, project_id, edit=True)
    try:
        task = Task.objects.select_related("task_status", "assignee").get(pk=task_id, project=project)
    except Task.DoesNotExist:
        raise Http404("No such card.") from None
    context = {"project": project, "task": task, "card_template": live.CARD_TEMPLATE}
    if request.method == "POST":
        try:
            task = services.update_task(
                project=project,
                task_id=task.pk,
                version=request.POST.get("version", "0"),
                title=request.POST.get("title", ""),
                description=request.POST.get("description", ""),
            )
        except services.StaleVersion as error:
            context.update(error=str(error), title=request.POST.get("title"))
            return render(request, "boards/live/editor.html", context, status=409)
        except ValidationError as error:
            context.update(error=" ".join(error.messages), title=request.POST.get("title"))
            return render(request, "boards/live/editor.html", context, status=422)
        realtime.lock_release(task.pk, request.user.pk)
        _publish_lock(project.pk, task.pk)
        return render(request, "boards/live/saved.html", {**context, "task": task})
    lock = realtime.lock_acquire(task.pk, request.user.pk, _display_name(request.user))
    if lock.held:
        _publish_lock(project.pk, task.pk, _display_name(request.user))
    return render(request, "boards/live/editor.html", {**context, "lock": lock})
