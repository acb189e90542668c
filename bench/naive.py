"""The baselines every figure is measured against, in the same run.

These are the approaches the audit of the predecessor describes (or the obvious ones it implies),
written here so the benchmark can run them side by side with ours. Nothing outside bench/ uses them.
"""

from collections import Counter

from django.db import connection, transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.template import RequestContext, Template
from django.utils import timezone

from aggregates.counts import count_live_tasks
from aggregates.models import COUNT_FIELDS, ProjectTaskStatusAgg
from boards import services
from boards.models import Task
from boards.queries import get_project_for, projects_for
from boards.web.views import home_context

AGG_TABLE = ProjectTaskStatusAgg._meta.db_table


def audit_counts(project_id: int) -> dict[str, int]:
    """The audit's recalculation: load every live task with its status into Python and count."""
    tasks = list(Task.objects.filter(project_id=project_id, archived_at__isnull=True).select_related("task_status"))
    counted = Counter(task.task_status.category for task in tasks)
    return {category: counted.get(category, 0) for category in COUNT_FIELDS}


def insert_row(project_id: int, counts: dict[str, int]) -> None:
    columns = ["project_id", "total_tasks", *COUNT_FIELDS.values(), "updated_at"]
    values = [project_id, sum(counts.values()), *(counts[c] for c in COUNT_FIELDS), timezone.now()]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AGG_TABLE} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
            values,
        )


def audit_first_task(*, project, status_id, reporter) -> Task:
    """The first task of a project with no counts row, the audit's way: recount in Python, then write."""
    with transaction.atomic():
        if not ProjectTaskStatusAgg.objects.filter(pk=project.pk).exists():
            insert_row(project.pk, audit_counts(project.pk))
        return services.create_task(project=project, status_id=status_id, title="First", reporter=reporter)


def recount_row(project_id: int) -> None:
    """Recount-per-write: the project's row rewritten from a GROUP BY after every change."""
    counts = count_live_tasks([project_id])[project_id]
    ProjectTaskStatusAgg.objects.filter(pk=project_id).update(
        total_tasks=sum(counts.values()), **{COUNT_FIELDS[c]: n for c, n in counts.items()}
    )


def home_projects(user, start: int = 0, stop: int | None = None) -> list:
    """The home page's projects (all, or the slice start:stop of them) with counts from COUNT(*) GROUP BY
    at request time over their live tasks, not from the counts rows."""
    projects = list(
        projects_for(user)
        .select_related("application", "derived_status")
        .order_by("application__name", "application_id", "name", "pk")[start:stop]
    )
    counts = count_live_tasks(p.pk for p in projects)
    for project in projects:
        found = counts[project.pk]
        # An unsaved row carrying the fresh counts, so the page renders exactly as ours does.
        project.status_aggregation = ProjectTaskStatusAgg(
            project=project, total_tasks=sum(found.values()), **{COUNT_FIELDS[c]: n for c, n in found.items()}
        )
    return projects


def stored_counts(user) -> dict[int, dict[str, int]]:
    """The counts of all the user's projects, from their counts rows: one query."""
    rows = ProjectTaskStatusAgg.objects.filter(project__in=projects_for(user).values("pk")).values_list(
        "project_id", *COUNT_FIELDS.values()
    )
    return {project_id: dict(zip(COUNT_FIELDS, values, strict=True)) for project_id, *values in rows}


def counted_counts(user) -> dict[int, dict[str, int]]:
    """The same counts from COUNT(*) GROUP BY over the projects' live tasks, at request time."""
    # The ids first, as a page would have them: a semi-join on the membership query plans worse.
    return count_live_tasks(projects_for(user).values_list("pk", flat=True))


def home(request):
    """boards.web.views.home with its counts from COUNT(*) GROUP BY at request time, over the page's projects.

    The same page and pager as ours (boards.web.views.home_context): only where the counts come from differs.
    """
    user = request.user
    context = home_context(user, request.GET.get("page"), lambda start, stop: home_projects(user, start, stop))
    return render(request, "boards/home.html", context)


BOARD = Template(
    """{% extends "base.html" %}{% block main %}<h1>{{ project.key }} · {{ project.name }}</h1>
<div class="board">{% for column in columns %}<section class="column"><h2>{{ column.name }}</h2>
{% for task in column.cards %}<article class="card" id="card-{{ task.pk }}"><h3>{{ task.title }}</h3>
<span>{{ task.task_status.name }}</span><span>{{ task.assignee.first_name|default:"" }}</span>
<span>{{ task.reporter.first_name|default:"" }}</span></article>{% endfor %}</section>{% endfor %}</div>
{% endblock main %}"""
)


def board(request, project_id: int):
    """The predecessor's board: every live card, its status, assignee and reporter joined, all rendered."""
    project = get_project_for(request.user, project_id)
    columns = list(project.task_statuses.order_by("position", "pk"))
    by_column = {column.pk: column for column in columns}
    for column in columns:
        column.cards = []
    tasks = (
        Task.objects.live()
        .filter(project=project)
        .select_related("task_status", "assignee", "reporter")
        .order_by("position", "pk")
    )
    for task in tasks:
        by_column[task.task_status_id].cards.append(task)
    return HttpResponse(BOARD.render(RequestContext(request, {"project": project, "columns": columns})))


def insights(project, days: int, *, now) -> dict:
    """The insights page's figures the first way one would write them: the range's events and the
    open cards loaded into Python, the flow rebuilt day by day, the percentiles taken there."""
    import datetime as dt
    import statistics

    from boards.insights import live_counts
    from boards.models import Category, TaskEvent

    today = timezone.localdate(now)
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time.min))
    events = list(
        TaskEvent.objects.filter(project=project, at__gte=since)
        .order_by("seq")
        .values_list(
            "task_id", "at", "kind", "from_category", "to_category", "task_count", "started_at", "task_created_at"
        )
    )
    # Cumulative flow: today's counts, walked back over each day's events.
    running = Counter(live_counts(project))
    per_day: dict = {}
    for _task, at, _kind, src, dst, n, *_ in events:
        change = per_day.setdefault(timezone.localdate(at), Counter())
        if src:
            change[src] -= n
        if dst:
            change[dst] += n
    flow = []
    for offset in range(days):
        day = today - dt.timedelta(days=offset)
        flow.append((day, {c.value: running[c.value] for c in Category}))
        running.subtract(per_day.get(day, Counter()))
    # Lead and cycle time of the cards whose last arrival in done is in the range and who stayed.
    arrived, left = {}, {}
    for task, at, kind, src, dst, _n, started, created in events:
        if task is None:
            continue
        if dst == "done" and src != "done" and kind in ("created", "moved"):
            arrived[task] = (at, started, created)
        elif src == "done" and dst != "done" and kind == "moved":
            left[task] = at
    lead, cycle, weeks = [], [], Counter()
    for task, (at, started, created) in arrived.items():
        if task in left and left[task] > at:
            continue
        lead.append((at - created).total_seconds() / 86400)
        if started:
            cycle.append((at - started).total_seconds() / 86400)
        weeks[timezone.localdate(at) - dt.timedelta(days=timezone.localdate(at).weekday())] += 1
    ages = [
        (now - created).total_seconds() / 86400
        for created in Task.objects.live()
        .filter(project=project)
        .exclude(task_status__category=Category.DONE)
        .values_list("created_at", flat=True)
    ]

    def percentiles(values):
        return statistics.quantiles(values, n=100)[49::35] if len(values) > 1 else values

    oldest = sorted(ages, reverse=True)[:5]
    return {
        "flow": flow,
        "lead": percentiles(lead),
        "cycle": percentiles(cycle),
        "weeks": weeks,
        "ages": percentiles(ages),
        "oldest": oldest,
    }
