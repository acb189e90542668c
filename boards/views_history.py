"""The insights page and the CSV exports of a board. Every view checks membership first."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from boards import history, insights
from boards.access import get_project_for
from boards.models import Task, TaskEvent

CHUNK = 2000
METRICS_KEY = "insights:{project_id}:{days}:{seq}:{today}"
METRICS_TTL = 300  # ages grow with time: at most five minutes old
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@require_GET
@login_required
def project_insights(request: HttpRequest, project_id: int) -> HttpResponse:
    project = get_project_for(request.user, project_id)
    context = {"project": project, "days": insights.DEFAULT_DAYS, "ranges": [7, 30, 90, 180, 365]}
    try:
        days = insights.parse_days(request.GET.get("days"))
    except insights.BadRange as error:
        context["error"] = str(error)
        return render(request, "boards/insights.html", context, status=400)
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
    context.update(days=days, flow_chart=insights.flow_chart(points), flow=flow, ages=ages)
    if flow is not None:
        labels = insights.BUCKET_LABELS
        context.update(
            lead_chart=insights.bar_chart(labels, flow.lead.buckets, color="#3e7cb1"),
            cycle_chart=insights.bar_chart(labels, flow.cycle.buckets, color="#8e6cc0"),
            throughput_chart=insights.bar_chart(
                [week.strftime("%b %-d") for week, _ in flow.weeks], [n for _, n in flow.weeks], color="#4caf7a"
            ),
            age_chart=insights.bar_chart(labels, ages.buckets, color="#d98c3f"),
            oldest=oldest,
        )
    return render(request, "boards/insights.html", context)


class _Echo:
    """A file-like object whose write() hands the line back: csv.writer feeds the stream."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value):
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _stream_csv(filename: str, header: list[str], rows) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([safe_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _iso(value):
    return value.isoformat() if value else ""


@require_GET
@login_required
def export_tasks(request: HttpRequest, project_id: int) -> StreamingHttpResponse:
    project = get_project_for(request.user, project_id)
    rows = (
        Task.objects.filter(project=project)
        .order_by("pk")
        .values_list(
            "pk",
            "title",
            "task_status__name",
            "task_status__category",
            "assignee__username",
            "reporter__username",
            "position",
            "archived_at",
            "created_at",
            "updated_at",
            "description",
        )
        .iterator(chunk_size=CHUNK)
    )
    header = ["id", "title", "column", "category", "assignee", "reporter", "position", "archived_at"]
    header += ["created_at", "updated_at", "description"]
    return _stream_csv(
        f"{project.key.lower()}-tasks.csv",
        header,
        ([*row[:7], _iso(row[7]), _iso(row[8]), _iso(row[9]), row[10]] for row in rows),
    )


@require_GET
@login_required
def export_events(request: HttpRequest, project_id: int) -> StreamingHttpResponse:
    project = get_project_for(request.user, project_id)
    rows = (
        TaskEvent.objects.filter(project=project)
        .order_by("seq")
        .values_list(
            "seq", "at", "kind", "task_id", "task_title", "actor__username", "from_category", "to_category", "data"
        )
        .iterator(chunk_size=CHUNK)
    )
    header = ["seq", "at", "kind", "task_id", "task_title", "actor", "from_category", "to_category", "data"]
    return _stream_csv(
        f"{project.key.lower()}-events.csv",
        header,
        (
            [seq, _iso(at), kind, task_id or data.get("task_id"), title, actor, src, dst, json.dumps(data)]
            for seq, at, kind, task_id, title, actor, src, dst, data in rows
        ),
    )
