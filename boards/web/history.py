"""The insights page and the CSV exports of a board. Every view checks membership first."""

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from boards import charts, forms, history, insights
from boards.queries import get_project_for, is_owner
from boards.web import exports, heavy

METRICS_KEY = "insights:{project_id}:{days}:{seq}:{today}"
METRICS_TTL = 300  # ages grow with time: at most five minutes old


@require_GET
@login_required
def project_insights(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    context = {
        "project": project,
        "days": insights.DEFAULT_DAYS,
        "ranges": [7, 30, 90, 180, 365],
        "is_owner": is_owner(project),
    }
    form = forms.InsightsForm(request.GET)
    if not form.is_valid():
        context["error"] = form.error_text()
        return render(request, "boards/insights.html", context, status=400)
    days = form.cleaned_data["days"]
    try:
        slot = heavy.acquire(request.user, needed=insights.is_long_range(days))
    except heavy.Busy as busy:
        return heavy.too_many(busy)
    with slot:
        return _insights_page(request, project, days, context)


def _insights_page(request: HttpRequest, project, days: int, context: dict) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    points = insights.cumulative_flow(project, days, today=today)
    # The metrics change only with a new event (or, for ages, with time): keyed by the project's
    # sequence number, a repeat view reads them from the cache. Redis down: computed every time.
    key = METRICS_KEY.format(project_id=project.pk, days=days, seq=history.current_seq(project.pk), today=today)
    metrics = cache.get(key)
    if metrics is None:
        metrics = (
            insights.flow_metrics(project, days, now=now),
            insights.open_ages(project, now=now),
            insights.oldest_open(project),
        )
        cache.set(key, metrics, METRICS_TTL)
    flow, ages, oldest = metrics
    context.update(days=days, flow_chart=charts.flow_chart(points), flow=flow, ages=ages)
    labels = insights.BUCKET_LABELS
    context.update(
        lead_chart=charts.bar_chart(labels, flow.lead.buckets, color="active"),
        cycle_chart=charts.bar_chart(labels, flow.cycle.buckets, color="review"),
        throughput_chart=charts.bar_chart(
            [week.strftime("%b %-d") for week, _ in flow.weeks], [n for _, n in flow.weeks], color="done"
        ),
        age_chart=charts.bar_chart(labels, ages.buckets, color="age"),
        oldest=oldest,
    )
    return render(request, "boards/insights.html", context)


@require_GET
@login_required
def export_tasks(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    return exports.response(request, exports.tasks(project))


@require_GET
@login_required
def export_events(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    return exports.response(request, exports.events(project))
