"""A project's labels page (owners and editors change them, viewers read them) and the "Due this
week" page across every project the user can see."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from boards import forms, queries, services
from boards.models import LABEL_COLOURS, Project
from boards.queries import can_edit, get_project_for
from boards.templatetags.board_tags import due_state
from boards.web.views import HtmxHttpRequest, _done, write_view


def _labels_context(project: Project) -> dict:
    return {
        "project": project,
        "labels": queries.label_list(project),
        "colours": [(value, value.lstrip("#"), name) for value, name in LABEL_COLOURS],
        "can_edit": can_edit(project),
    }


@require_GET
@login_required
def labels(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """The project's labels, with how many cards carry each; forms to change them for editors."""
    project = get_project_for(request.user, project_id)
    return render(request, "boards/labels.html", _labels_context(project))


def _labels_response(request, project: Project, done: str) -> HttpResponse:
    if not request.htmx:
        return _done(request, done, "labels", project.pk)
    return render(request, "boards/labels.html#label_list", {**_labels_context(project), "done": done})


@write_view
def label_add(request: HtmxHttpRequest, project: Project) -> HttpResponse:
    request.error_target = "labels-message"
    data = forms.bind(forms.LabelForm, request.POST)
    label = services.create_label(project=project, name=data["name"], colour=data["colour"])
    return _labels_response(request, project, f"Added the label “{label.name}”.")


@write_view
def label_update(request: HtmxHttpRequest, project: Project, label_id: int) -> HttpResponse:
    request.error_target = "labels-message"
    data = forms.bind(forms.LabelForm, request.POST)
    label = services.update_label(project=project, label_id=label_id, name=data["name"], colour=data["colour"])
    return _labels_response(request, project, f"Saved the label “{label.name}”.")


@write_view
def label_delete(request: HtmxHttpRequest, project: Project, label_id: int) -> HttpResponse:
    request.error_target = "labels-message"
    data = forms.bind(forms.LabelDeleteForm, request.POST)
    if not request.htmx and not data["confirmed"]:
        # htmx asks first (hx-confirm); a plain form gets a page that asks.
        label = queries.label_of(project, label_id)
        if label is None:
            raise ValidationError("This label no longer exists: someone deleted it.")
        context = {"project": project, "label": label, "cards": queries.label_card_count(project, label)}
        return render(request, "boards/label_delete.html", context)
    label = services.delete_label(project=project, label_id=label_id)
    return _labels_response(request, project, f"Deleted the label “{label.name}”.")


def _due_group(task, today) -> str:
    """The heading a card of the due page sits under: Overdue, Today, Tomorrow, or its weekday."""
    if due_state(task, today) == "overdue":
        return "Overdue"
    if task.due_date == today:
        return "Today"
    if task.due_date == today + timedelta(days=1):
        return "Tomorrow"
    return task.due_date.strftime("%A %-d %B")


@require_GET
@login_required
def due_soon(request: HtmxHttpRequest) -> HttpResponse:
    """Cards due this week or overdue, in every project the user can see: overdue first."""
    form = forms.HomeForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text())
    paginator = Paginator(queries.due_soon_cards(request.user), queries.DUE_PAGE_SIZE)
    page = paginator.get_page(form.cleaned_data["page"])
    cards = list(page.object_list)
    today = timezone.localdate()
    for task in cards:
        task.due_group = _due_group(task, today)
    label_map = queries.labels_by_id({pk for task in cards for pk in task.label_ids})
    context = {"page": page, "cards": cards, "labels": label_map, "limit": queries.DUE_LIMIT}
    return render(request, "boards/due.html", context)
