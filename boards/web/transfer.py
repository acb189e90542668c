"""A card moving to another project: the form (lazily, from the card's tools) and the move."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from boards import forms, queries, services
from boards.live import fragments
from boards.models import Project
from boards.queries import get_project_for
from boards.web.views import HtmxHttpRequest, _board_effects, _detail, _done, _fragments, _get_card, write_view


@require_GET
@login_required
def card_transfer_form(request: HtmxHttpRequest, project_id: int, task_id: int) -> HttpResponse:
    """The projects the card may move to (read when the tools open); a page of its own without htmx."""
    project = get_project_for(request.user, project_id)
    form = forms.CardViewForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text())
    task = _get_card(project, task_id)
    context = {
        "project": project,
        "task": task,
        "targets": queries.transfer_targets(request.user, project) if queries.can_edit(project) else [],
        "can_edit": queries.can_edit(project),
        "where": form.cleaned_data["context"] or "page",
    }
    if request.htmx:
        return render(request, "boards/card_transfer.html#form", context)
    return render(request, "boards/card_transfer.html", context)


def _target(user, project_id: int) -> Project:
    try:
        return get_project_for(user, project_id, edit=True)
    except Http404:
        raise ValidationError("Choose one of your projects to move the card to.") from None


@write_view
def card_transfer(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    request.error_target = f"card-{task_id}-detail-message"
    form = forms.CardTransferForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    data = form.cleaned_data
    target = _target(request.user, data["project"])
    task = services.move_task_to_project(
        project=project, task_id=task_id, target=target, status_id=data["status"], actor=request.user
    )
    text = f"Moved {project.key}-{task.from_number} to {target.name} as {target.key}-{task.number}."
    if not request.htmx:
        return _done(request, text, task)
    where = data["context"] or "dialog"
    if where == "page":
        messages.success(request, text)
        return HttpResponseClientRedirect(task.get_absolute_url())
    moved = _get_card(target, task.pk)
    parts = [_detail(request, target, moved, where)]
    if where == "dialog":
        parts += [
            fragments.oob_delete(f"#card-{task.pk}"),
            *_board_effects(project, [task.from_status_id], form.board_filter()),
            fragments.message(text),
        ]
    return _fragments(*parts)
