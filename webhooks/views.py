"""The webhook pages of a project, for its workspace's owners (as its columns are).

Plain forms: a write answers 303 to the page to show next with a message; refused input
re-renders the page with the form's errors (422); anyone but an owner gets 403, anyone outside
the workspace 404.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from boards.forms import HomeForm
from boards.models import Project
from boards.queries import get_project_for, is_owner
from webhooks import queries, services
from webhooks.forms import WebhookForm
from webhooks.models import EVENT_CHOICES, Webhook

OWNERS_ONLY = "Only the workspace's owners manage this project's webhooks."


def owner_view(view):
    """The project (404 outside its workspace), for owners only (403 for editors and viewers)."""

    @wraps(view)
    @login_required
    def wrapper(request, project_id, *args, **kwargs):
        project = get_project_for(request.user, project_id)
        if not is_owner(project):
            return render(request, "boards/refused.html", {"project": project, "message": OWNERS_ONLY}, status=403)
        return view(request, project, *args, **kwargs)

    return wrapper


def _done(request, text: str, to: str, *args) -> HttpResponse:
    messages.success(request, text)
    response = redirect(to, *args)
    response.status_code = 303
    return response


def _list_page(request, project: Project, form: WebhookForm | None = None, status: int = 200) -> HttpResponse:
    context = {
        "project": project,
        "webhooks": queries.webhooks_of(project),
        "form": form,
        "event_choices": EVENT_CHOICES,
        "chosen": form.data.getlist("events") if form is not None else ["all"],
    }
    return render(request, "webhooks/webhooks.html", context, status=status)


def _detail_page(request, project: Project, webhook: Webhook, form=None, page_number=None, status=200):
    page = Paginator(queries.deliveries_of(webhook), queries.DELIVERY_PAGE_SIZE).get_page(page_number)
    context = {
        "project": project,
        "webhook": webhook,
        "form": form,
        "event_choices": EVENT_CHOICES,
        "chosen": form.data.getlist("events") if form is not None else webhook.events,
        "url_value": form.data.get("url", "") if form is not None else webhook.url,
        "page": page,
        "deliveries": list(page.object_list),
    }
    return render(request, "webhooks/webhook.html", context, status=status)


@require_GET
@owner_view
def webhooks(request, project: Project) -> HttpResponse:
    return _list_page(request, project)


@require_POST
@owner_view
def webhook_add(request, project: Project) -> HttpResponse:
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _list_page(request, project, form, status=422)
    webhook = services.create_webhook(project=project, actor=request.user, **form.cleaned_data)
    return _done(request, "Added the webhook. Its secret is below.", "webhook", project.pk, webhook.pk)


@require_GET
@owner_view
def webhook(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    form = HomeForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text())
    return _detail_page(request, project, hook, page_number=form.cleaned_data["page"])


@require_POST
@owner_view
def webhook_update(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    form = WebhookForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, project, hook, form, status=422)
    services.update_webhook(webhook=hook, **form.cleaned_data)
    return _done(request, "Saved the webhook.", "webhook", project.pk, hook.pk)


@require_POST
@owner_view
def webhook_rotate(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    services.rotate_secret(webhook=hook)
    return _done(request, "Made a new secret: give it to the receiver.", "webhook", project.pk, hook.pk)


@require_POST
@owner_view
def webhook_enable(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    services.enable_webhook(webhook=hook)
    return _done(request, "Switched the webhook on.", "webhook", project.pk, hook.pk)


@require_POST
@owner_view
def webhook_disable(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    services.disable_webhook(webhook=hook, reason=f"Switched off by {request.user.get_username()}.")
    return _done(request, "Switched the webhook off.", "webhook", project.pk, hook.pk)


@require_POST
@owner_view
def webhook_delete(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    services.delete_webhook(webhook=hook)
    return _done(request, "Deleted the webhook.", "webhooks", project.pk)


@require_POST
@owner_view
def webhook_test(request, project: Project, webhook_id: int) -> HttpResponse:
    hook = queries.get_webhook(project, webhook_id)
    services.send_test(webhook=hook, actor=request.user)
    return _done(
        request, "Queued a test delivery (ping): its result shows in the log below.", "webhook", project.pk, hook.pk
    )
