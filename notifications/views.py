"""The notification pages: the list, the bell, opening one, marking read, watching a card, the
e-mail settings and the unsubscribe link. Each: form, access check, one call, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from boards.queries import get_project_for
from notifications import emails, queries, services
from notifications.forms import PageForm, SettingsForm, WatchForm


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _see_other(url: str) -> HttpResponse:
    response = redirect(url)
    response.status_code = 303
    return response


@require_GET
@login_required
def notification_list(request: HtmxHttpRequest) -> HttpResponse:
    form = PageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("That page of notifications does not exist.")
    items, next_before = queries.page(request.user, form.cleaned_data["before"])
    count = queries.unread_count(request.user)
    context = {"items": items, "next_before": next_before, "count": count, "over": count > queries.BELL_MAX}
    return render(request, "notifications/list.html", context)


@require_GET
@login_required
def bell(request: HtmxHttpRequest) -> HttpResponse:
    count = queries.unread_count(request.user)
    return render(request, "notifications/bell.html#bell", {"count": count, "over": count > queries.BELL_MAX})


@require_GET
@login_required
def notification_open(request: HtmxHttpRequest, notification_id: int) -> HttpResponse:
    """Mark it read and go to its card's permalink (KEY-n)."""
    notification = queries.get_notification_for(request.user, notification_id)
    services.mark_read(user=request.user, notification=notification)
    task = notification.task
    return redirect("card_by_key", f"{task.project.key}-{task.number}")


@require_POST
@login_required
def notification_read(request: HtmxHttpRequest, notification_id: int) -> HttpResponse:
    notification = queries.get_notification_for(request.user, notification_id)
    services.mark_read(user=request.user, notification=notification)
    return _see_other(reverse("notifications:list"))


@require_POST
@login_required
def notification_read_all(request: HtmxHttpRequest) -> HttpResponse:
    done = services.mark_all_read(user=request.user)
    messages.success(request, f"Marked {done} notification{'' if done == 1 else 's'} read.")
    return _see_other(reverse("notifications:list"))


@require_http_methods(["GET", "POST"])
@login_required
def card_watch(request: HtmxHttpRequest, project_id: int, task_id: int) -> HttpResponse:
    """The card's Watch/Unwatch button (GET: the button, loaded by the card; POST: change it)."""
    project = get_project_for(request.user, project_id)
    if not queries.card_exists(project, task_id):
        raise Http404("No such card.")
    if request.method == "POST":
        form = WatchForm(request.POST)
        if not form.is_valid():
            return HttpResponseBadRequest("Say whether to watch or unwatch the card.")
        services.set_watching(user=request.user, task_id=task_id, watching=form.cleaned_data["watching"])
        if not request.htmx:
            return _see_other(reverse("card", args=[project.pk, task_id]))
    context = {"project": project, "task_id": task_id, "watching": queries.is_watching(request.user, task_id)}
    return render(request, "notifications/watch.html#watch", context)


@require_http_methods(["GET", "POST"])
@login_required
def notification_settings(request: HtmxHttpRequest) -> HttpResponse:
    form = SettingsForm(request.POST or None, instance=queries.settings_of(request.user.pk))
    if request.method == "POST" and form.is_valid():
        services.save_settings(user=request.user, **_settings_of(form.cleaned_data))
        messages.success(request, "Notification settings saved.")
        return _see_other(reverse("notifications:settings"))
    return render(request, "notifications/settings.html", {"form": form})


def _settings_of(cleaned: dict) -> dict:
    return {"email": cleaned["email"], **{k.removeprefix("email_"): v for k, v in cleaned.items() if k != "email"}}


# Mail clients unsubscribe with a bare POST (RFC 8058: List-Unsubscribe-Post) that carries no CSRF
# token; the signed token in the address is the authority, and all it can do is stop e-mails.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """GET: a page asking to confirm; POST: that user's notification e-mails are turned off."""
    user_id = emails.user_of_token(token)
    if user_id is None:
        raise Http404("This unsubscribe link is not valid.")
    if request.method == "POST":
        services.unsubscribe(user_id=user_id)
        return render(request, "notifications/unsubscribe.html", {"done": True})
    return render(request, "notifications/unsubscribe.html", {"token": token, "done": False})
