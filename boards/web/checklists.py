"""A card's checklist: the task list items of its description, ticked by editors."""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from boards import forms, services
from boards.live import fragments
from boards.models import Project
from boards.web.views import HtmxHttpRequest, _detail_context, _done, _fragments, _get_card, write_view


@write_view
def card_checklist(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    """Tick or clear checklist items: one (a click, with htmx) or all of them (the form's button)."""
    request.error_target = f"card-{task_id}-detail-message"
    task = _get_card(project, task_id)
    form = forms.ChecklistForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.error_text())
    in_dialog = form.cleaned_data["context"] == "dialog"
    try:
        services.set_checklist_items(
            project=project,
            task_id=task.pk,
            version=form.cleaned_data["version"],
            items=form.items(),
            actor=request.user,
        )
    except services.StaleVersion as error:
        # Their version, with the checklist as it is now: nothing of theirs is overwritten.
        context = {**_detail_context(project, _get_card(project, task.pk), in_dialog=in_dialog), "error": str(error)}
        template = "boards/card.html#detail" if request.htmx else "boards/card.html"
        return render(request, template, context, status=409)
    if not request.htmx:
        return _done(request, "Checklist saved.", task)
    task = _get_card(project, task.pk)
    context = _detail_context(project, task, in_dialog=in_dialog)
    parts = [render_to_string("boards/card.html#detail", context, request)]
    if in_dialog:
        # `labels` (the project's label map) is the card face's; until _card_context gives it, none.
        parts.append(fragments.part("card", {"labels": {}, **context}, oob=True))
    return _fragments(*parts)
