"""Comments on a card (add, edit, delete) and the members the mention autocomplete offers.

A write answers htmx with the card's comments region (and, in the board's dialog, the card face
with its new count); a plain form with 303 to the card's page. Refused text comes back in the
form, with the reason above it: nothing typed is lost.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from boards import forms, queries, services
from boards.live import fragments
from boards.models import Comment, Project, Task
from boards.queries import can_edit, get_project_for
from boards.services.comments import GONE_CARD
from boards.templatetags.board_tags import display_name
from boards.web.discussion import discussion
from boards.web.views import HtmxHttpRequest, _card_context, _detail_context, _fragments, _refused, write_view

SECTION = "boards/card_comments.html#comments"


def _card(project: Project, task_id: int) -> Task:
    task = queries.card(project, task_id)
    if task is None:
        raise Task.DoesNotExist(GONE_CARD)
    return task


def _section(request, project: Project, task: Task, where: str, **extra) -> str:
    context = {
        "project": project,
        "task": task,
        "can_edit": can_edit(project),
        "where": where,
        **discussion(project, task, queries.members(project)),
        **extra,
    }
    return render_to_string(SECTION, context, request)


def _form(request) -> tuple[forms.CommentForm, str]:
    form = forms.CommentForm(request.POST)
    form.is_valid()
    return form, form.cleaned_data.get("context", "page")


def _written(request, project: Project, task_id: int, where: str, done: str, anchor: str = "") -> HttpResponse:
    task = _card(project, task_id)
    if not request.htmx:
        messages.success(request, done)
        response = redirect(task.get_absolute_url() + anchor)
        response.status_code = 303
        return response
    parts = [_section(request, project, task, where)]
    if where == "dialog":
        # This page gets no live event of its own change: the card face's count comes from here.
        parts.append(fragments.part("card", _card_context(project, task), oob=True))
    return _fragments(*parts)


def _refused_text(request, project: Project, task_id: int, where: str, error, *, posted: str, editing=None):
    """The comments region again (the card page without htmx), the user's text in its form."""
    status = 409 if isinstance(error, services.Conflict) else 422
    text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    task = _card(project, task_id)
    extra = {"comment_error": text, "comment_posted": posted, "comment_editing": editing}
    if request.htmx:
        return HttpResponse(_section(request, project, task, where, **extra), status=status)
    context = {**_detail_context(project, task, in_dialog=False), **extra}
    return render(request, "boards/card.html", context, status=status)


def _gone_comment(request, project: Project, error) -> HttpResponse:
    return _refused(request, project, error, 404, target=request.error_target)


@write_view
def comment_add(request: HtmxHttpRequest, project: Project, task_id: int) -> HttpResponse:
    request.error_target = f"card-{task_id}-comment-message"
    form, where = _form(request)
    try:
        if form.errors:
            raise ValidationError(form.error_text())
        comment = services.add_comment(
            project=project, task_id=task_id, body=form.cleaned_data["body"], author=request.user
        )
    except (ValidationError, services.Conflict) as error:
        return _refused_text(request, project, task_id, where, error, posted=form.data.get("body", ""))
    return _written(request, project, task_id, where, "Comment added.", f"#comment-{comment.pk}")


@write_view
def comment_update(request: HtmxHttpRequest, project: Project, task_id: int, comment_id: int) -> HttpResponse:
    request.error_target = f"card-{task_id}-comment-message"
    form, where = _form(request)
    try:
        if form.errors:
            raise ValidationError(form.error_text())
        services.edit_comment(
            project=project, task_id=task_id, comment_id=comment_id, body=form.cleaned_data["body"], actor=request.user
        )
    except (ValidationError, services.Conflict) as error:
        posted = form.data.get("body", "")
        return _refused_text(request, project, task_id, where, error, posted=posted, editing=comment_id)
    except Comment.DoesNotExist as error:
        return _gone_comment(request, project, error)
    return _written(request, project, task_id, where, "Comment saved.", f"#comment-{comment_id}")


@write_view
def comment_delete(request: HtmxHttpRequest, project: Project, task_id: int, comment_id: int) -> HttpResponse:
    request.error_target = f"card-{task_id}-comment-message"
    form, where = _form(request)
    try:
        if form.errors:
            raise ValidationError(form.error_text())
        services.delete_comment(project=project, task_id=task_id, comment_id=comment_id, actor=request.user)
    except Comment.DoesNotExist as error:
        return _gone_comment(request, project, error)
    return _written(request, project, task_id, where, "Comment deleted.")


@require_GET
@login_required
def mention_candidates(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """Up to 10 members of the board's workspace matching what follows an @, as JSON."""
    project = get_project_for(request.user, project_id)
    form = forms.MentionQueryForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"members": [], "error": form.error_text()}, status=400)
    users = queries.mention_candidates(project, form.cleaned_data["q"])
    found = [{"username": user.get_username(), "name": display_name(user)} for user in users]
    return JsonResponse({"members": found})
