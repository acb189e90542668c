"""Flow metrics of one project (boards.charts draws them).

Every function costs a fixed number of queries whatever the project's size: the cumulative flow
diagram reads the daily snapshots and fills the missing days from the event log; lead time,
cycle time and throughput come from one grouped query over the log; ages from one over the tasks.

Definitions (the page repeats them):
- a card is *done* when it entered a done column from a column of another category and has not
  moved out of done since; it went back and came again: the last arrival counts (a done column
  recategorised later does not undo it: the log has no per-card departure for that);
- lead time: from the card's creation to that arrival; cycle time: from its first arrival in a
  column past todo (active, review, issue or done) to that arrival;
- throughput: cards done per week (Monday to Sunday); age: how long an open card (live, not
  done) has existed.

Raw SQL for the flow metrics and ages: the ORM has no DISTINCT ON, percentile_cont … WITHIN GROUP
or width_bucket, and one grouped pass over the log is what keeps them at one query;
tests/boards/test_insights.py checks them against histories whose figures are known.
"""

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.utils import timezone

from boards.models import Category, Project, ProjectDailySnapshot, Task, TaskEvent, TaskStatus

MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 7, 365, 30
# Histogram buckets in days: [0,1) [1,2) [2,3) [3,5) … [89, ∞)
BUCKET_EDGES = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
BUCKET_LABELS = ["<1"] + [f"{a}–{b}" for a, b in zip([1, *BUCKET_EDGES], BUCKET_EDGES, strict=False)][1:] + ["89+"]


class BadRange(ValueError):
    pass


def is_long_range(days: int) -> bool:
    """Whether the page over this many days is a heavy request (boards.web.heavy bounds how many run)."""
    return days > settings.INSIGHTS_HEAVY_DAYS


def parse_days(value) -> int:
    """The ?days= value: a whole number of days from 7 to 365 (absent: 30)."""
    if value in (None, ""):
        return DEFAULT_DAYS
    # ASCII digits only (around spaces): int() would take "+30" and "3_0" and fail on "３０" or "²".
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,6}", value.strip()):
        raise BadRange(f"“{value}” is not a number of days: use a whole number from {MIN_DAYS} to {MAX_DAYS}.")
    days = int(value.strip())
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise BadRange(f"Pick a range from {MIN_DAYS} to {MAX_DAYS} days ({days} is outside it).")
    return days


def live_counts(project: Project) -> dict[str, int]:
    """The project's live cards per category now, from its counts row (a recount without one)."""
    try:
        return project.status_aggregation.as_counts()
    except Project.status_aggregation.RelatedObjectDoesNotExist:
        rows = Task.objects.live().filter(project=project).values_list("task_status__category").annotate(n=Count("id"))
        return {category.value: 0 for category in Category} | dict(rows.order_by())


def cumulative_flow(project: Project, days: int, *, today: dt.date | None = None) -> list[tuple[dt.date, dict]]:
    """Live cards per category at the end of each of the last `days` days (today: now). Two queries.

    A day with a snapshot shows it; a day without is rebuilt from today's counts minus the flow
    of every event after that day, so the event query covers only the days since the first gap.
    """
    today = today or timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    snapshots = {
        snap.date: snap.as_counts()
        for snap in ProjectDailySnapshot.objects.filter(project=project, date__gte=start, date__lt=today)
    }
    missing = [start + dt.timedelta(days=n) for n in range(days - 1) if start + dt.timedelta(days=n) not in snapshots]
    first_gap = missing[0] if missing else today
    since = timezone.make_aware(dt.datetime.combine(first_gap + dt.timedelta(days=1), dt.time.min))
    flow: dict[dt.date, Counter] = {}
    rows = (
        TaskEvent.objects.filter(project=project, at__gte=since)
        .annotate(day=TruncDate("at"))
        .values_list("day", "from_category", "to_category")
        .annotate(n=Sum("task_count"))
        .order_by()
    )
    for day, from_category, to_category, n in rows:
        change = flow.setdefault(day, Counter())
        if from_category:
            change[from_category] -= n
        if to_category:
            change[to_category] += n
    running = Counter(live_counts(project))
    points = []
    for offset in range(days - 1, -1, -1):
        day = start + dt.timedelta(days=offset)
        if day < today:
            running.subtract(flow.get(day + dt.timedelta(days=1), Counter()))
        counts = snapshots.get(day) or {category.value: running[category.value] for category in Category}
        points.append((day, counts))
    points.reverse()
    return points


@dataclass
class Distribution:
    count: int = 0
    median_days: float | None = None
    p85_days: float | None = None
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKET_EDGES) + 1))


@dataclass
class FlowMetrics:
    lead: Distribution
    cycle: Distribution
    weeks: list[tuple[dt.date, int]]


_FLOW_SQL = """
WITH arrivals AS (
    -- The last arrival in done of each card that arrived in the range (the range ends now), read
    -- from the covering index taskevent_arrivals alone.
    SELECT DISTINCT ON (e.task_id) e.task_id, e.seq, e.at AS done_at, e.started_at, e.task_created_at
    FROM boards_taskevent e
    WHERE e.project_id = %(project)s AND e.to_category = 'done' AND e.at >= %(since)s
      AND e.from_category IS DISTINCT FROM 'done' AND e.kind IN ('created', 'moved') AND e.task_id IS NOT NULL
    ORDER BY e.task_id, e.seq DESC
), departures AS (
    -- Cards that left done after arriving: they are not done any more (a deleted card has no id).
    SELECT e.task_id, max(e.seq) AS seq
    FROM boards_taskevent e
    WHERE e.project_id = %(project)s AND e.from_category = 'done' AND e.at >= %(since)s
      AND e.to_category IS DISTINCT FROM 'done' AND e.kind = 'moved' AND e.task_id IS NOT NULL
    GROUP BY e.task_id
), done AS (
    -- Days in float8 (date_part): extract() returns numeric, whose arithmetic on every row took a
    -- third of the query; the two agree to the last binary digit or one unit of it.
    SELECT date_trunc('week', a.done_at AT TIME ZONE %(tz)s)::date AS week,
           date_part('epoch', a.done_at - a.task_created_at) / 86400 AS lead_days,
           date_part('epoch', a.done_at - a.started_at) / 86400 AS cycle_days
    FROM arrivals a LEFT JOIN departures d ON d.task_id = a.task_id
    WHERE d.seq IS NULL OR d.seq < a.seq
)
-- The percentiles once over all rows; the counts per (week, lead bucket, cycle bucket) in one
-- hashed pass, summed per week and per bucket by the caller.
SELECT 'total', NULL::date, NULL::int, NULL::int, count(*),
       percentile_cont(ARRAY[0.5, 0.85]) WITHIN GROUP (ORDER BY lead_days),
       percentile_cont(ARRAY[0.5, 0.85]) WITHIN GROUP (ORDER BY cycle_days),
       count(cycle_days)
FROM done
UNION ALL
SELECT 'group', week, width_bucket(greatest(lead_days, 0), %(edges)s::float8[]),
       width_bucket(greatest(cycle_days, 0), %(edges)s::float8[]), count(*), NULL, NULL, NULL
FROM done GROUP BY 2, 3, 4
"""


def flow_metrics(project: Project, days: int, *, now: dt.datetime | None = None) -> FlowMetrics:
    """Lead time, cycle time and weekly throughput of the cards done in the last `days` days.

    One query.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    since = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time.min))
    lead, cycle, per_week = Distribution(), Distribution(), Counter()
    with connection.cursor() as cursor:
        cursor.execute(
            _FLOW_SQL,
            {"project": project.pk, "since": since, "tz": timezone.get_current_timezone_name(), "edges": BUCKET_EDGES},
        )
        for part, week, lead_bucket, cycle_bucket, n, lead_p, cycle_p, cycle_n in cursor.fetchall():
            if part == "total":
                lead.count, cycle.count = n, cycle_n
                if n:
                    lead.median_days, lead.p85_days = lead_p
                if cycle_n:
                    cycle.median_days, cycle.p85_days = cycle_p
            else:
                per_week[week] += n
                lead.buckets[lead_bucket] += n
                cycle.buckets[cycle_bucket] += n
    first_monday = since.date() - dt.timedelta(days=since.date().weekday())
    weeks = []
    week = first_monday
    while week <= today:
        weeks.append((week, per_week.get(week, 0)))
        week += dt.timedelta(days=7)
    return FlowMetrics(lead=lead, cycle=cycle, weeks=weeks)


_AGE_SQL = """
WITH ages AS (
    -- float8, as in the flow metrics: numeric arithmetic took two fifths of the query.
    SELECT date_part('epoch', %(now)s - t.created_at) / 86400 AS age_days
    FROM boards_task t
    WHERE t.project_id = %(project)s AND t.archived_at IS NULL
      AND t.task_status_id IN (
          SELECT id FROM boards_taskstatus WHERE project_id = %(project)s AND category <> 'done'
      )
)
SELECT NULL::int, count(*), percentile_cont(ARRAY[0.5, 0.85]) WITHIN GROUP (ORDER BY age_days) FROM ages
UNION ALL
SELECT width_bucket(greatest(age_days, 0), %(edges)s::float8[]), count(*), NULL FROM ages GROUP BY 1
"""


def open_ages(project: Project, *, now: dt.datetime | None = None) -> Distribution:
    """How long the open cards have existed, in days. One query."""
    ages = Distribution()
    with connection.cursor() as cursor:
        cursor.execute(_AGE_SQL, {"project": project.pk, "now": now or timezone.now(), "edges": BUCKET_EDGES})
        for bucket, n, percentiles in cursor.fetchall():
            if bucket is None:
                ages.count = n
                if n:
                    ages.median_days, ages.p85_days = percentiles
            else:
                ages.buckets[bucket] += n
    return ages


# The first `limit` cards of each open column by age, read from the head of task_live_age: an
# ORDER BY over all open cards would sort them all (a million-card board: most of a second). The
# ORM has no LATERAL join; tests/boards/test_insights.py holds this equal to the plain ORM read.
_OLDEST_SQL = f"""
SELECT o.id FROM {TaskStatus._meta.db_table} s CROSS JOIN LATERAL (
    SELECT t.id FROM {Task._meta.db_table} t
    WHERE t.project_id = s.project_id AND t.task_status_id = s.id AND t.archived_at IS NULL
    ORDER BY t.created_at, t.id LIMIT %s
) o
WHERE s.project_id = %s AND s.category <> 'done'
"""


def oldest_open(project: Project, limit: int = 5) -> list[Task]:
    """The open cards that have waited longest. One query."""
    heads = RawSQL(_OLDEST_SQL, [limit, project.pk])
    return list(
        Task.objects.live()
        .filter(project=project, pk__in=heads)
        .select_related("task_status")
        .order_by("created_at", "pk")[:limit]
    )
