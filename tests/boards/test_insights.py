import bisect
import datetime as dt
import math
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Case, F, Value, When
from django.urls import reverse
from django.utils import timezone

from aggregates.snapshots import take_daily_snapshots
from boards import history, insights, services
from boards.models import Project, ProjectDailySnapshot, Task, TaskEvent
from tests.factories import make_project

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)  # a Wednesday
TODAY = NOW.date()


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


class Board:
    """Runs operations through the services and dates each one's event (and a new card) by hand."""

    def __init__(self, project, columns, actor):
        self.project, self.columns, self.actor = project, columns, actor

    def _stamp(self, when, task=None):
        # An arrival in done that started with itself carries the same instant: date both.
        TaskEvent.objects.filter(project=self.project, seq=history.current_seq(self.project.pk)).update(
            at=when, started_at=Case(When(started_at=F("at"), then=Value(when)), default=F("started_at"))
        )
        if task is not None:
            Task.objects.filter(pk=task.pk).update(created_at=when)
            TaskEvent.objects.filter(task=task, task_created_at__isnull=False).update(task_created_at=when)

    def create(self, title, column, when):
        task = services.create_task(
            project=self.project, status_id=self.columns[column].pk, title=title, reporter=self.actor
        )
        self._stamp(when, task)
        return task

    def move(self, task, column, when):
        services.move_task(project=self.project, task_id=task.pk, status_id=self.columns[column].pk)
        self._stamp(when)

    def archive(self, task, when):
        services.archive_task(project=self.project, task_id=task.pk)
        self._stamp(when)


@pytest.fixture
def board(project, columns, owner):
    return Board(project, columns, owner)


class TestParseDays:
    @pytest.mark.parametrize(("value", "days"), [(None, 30), ("", 30), ("7", 7), ("365", 365), (" 90", 90)])
    def test_good(self, value, days):
        assert insights.parse_days(value) == days

    @pytest.mark.parametrize("value", ["6", "366", "-5", "abc", "1e3", "30.5"])
    def test_bad(self, value):
        with pytest.raises(insights.BadRange):
            insights.parse_days(value)


class TestFlowMetrics:
    def test_hand_computed(self, board, project):
        a = board.create("A", "todo", ago(10))
        board.move(a, "active", ago(8))
        board.move(a, "done", ago(4))  # lead 6, cycle 4
        b = board.create("B", "todo", ago(20))
        board.move(b, "active", ago(15))
        board.move(b, "done", ago(12))
        board.move(b, "active", ago(9))  # back from done: only the last arrival counts
        board.move(b, "done", ago(2))  # lead 18, cycle 13
        c = board.create("C", "active", ago(5))
        board.move(c, "done", ago(1))  # lead 4, cycle 4
        d = board.create("D", "todo", ago(3))
        board.move(d, "active", ago(2))
        board.move(d, "done", ago(1))
        board.move(d, "review", ago(0.5))  # not done any more
        e = board.create("E", "todo", ago(100))
        board.move(e, "done", ago(50))  # done before the range
        board.create("F", "todo", ago(7))
        g = board.create("G", "todo", ago(40))
        board.archive(g, ago(1))

        flow = insights.flow_metrics(project, 30, now=NOW)
        assert flow.lead.count == 3
        assert flow.lead.median_days == pytest.approx(6)
        assert flow.lead.p85_days == pytest.approx(14.4)  # 6 + 0.7 × (18 − 6)
        assert flow.cycle.count == 3
        assert flow.cycle.median_days == pytest.approx(4)
        assert flow.cycle.p85_days == pytest.approx(10.3)  # 4 + 0.7 × (13 − 4)
        assert flow.lead.buckets == [0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0]  # 4 → 3–5, 6 → 5–8, 18 → 13–21
        assert flow.cycle.buckets == [0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0]
        assert flow.weeks == [
            (dt.date(2026, 5, 11), 0),
            (dt.date(2026, 5, 18), 0),
            (dt.date(2026, 5, 25), 0),
            (dt.date(2026, 6, 1), 1),  # A, Saturday June 6
            (dt.date(2026, 6, 8), 2),  # B and C
        ]

        ages = insights.open_ages(project, now=NOW)
        assert ages.count == 2  # D (3 days) and F (7 days); G is archived, the rest done
        assert ages.median_days == pytest.approx(5)
        assert ages.p85_days == pytest.approx(6.4)
        assert ages.buckets == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
        assert [t.title for t in insights.oldest_open(project)] == ["F", "D"]

        # A longer range reaches E: lead 50, cycle 0 (straight from todo to done).
        flow = insights.flow_metrics(project, 120, now=NOW)
        assert flow.lead.count == 4
        assert flow.lead.buckets[8] == 1  # 50 → 34–55
        assert flow.cycle.buckets[0] == 1

    def test_empty_project(self, project):
        flow = insights.flow_metrics(project, 7, now=NOW)
        assert (flow.lead.count, flow.lead.median_days, flow.cycle.p85_days) == (0, None, None)
        assert sum(n for _, n in flow.weeks) == 0
        assert insights.open_ages(project, now=NOW).count == 0

    def test_one_query(self, board, project, django_assert_num_queries):
        for n in range(5):
            board.move(board.create(f"T{n}", "todo", ago(10 + n)), "done", ago(n))
        with django_assert_num_queries(1):
            insights.flow_metrics(project, 365, now=NOW)

    def test_agrees_with_the_definition_on_a_crafted_history(self, board, project, columns):
        board.columns["shipped"] = services.add_column(project=project, name="Shipped", category="done")
        a = board.create("A", "todo", ago(30.25))
        board.move(a, "active", ago(20.5))
        board.move(a, "done", ago(5.1))
        b = board.create("B", "todo", ago(25))
        board.move(b, "done", ago(12.3))
        board.move(b, "active", ago(9))
        board.move(b, "done", ago(2.7))  # the last arrival counts
        c = board.create("C", "active", ago(15))
        board.move(c, "done", ago(10.2))
        board.move(c, "review", ago(3))  # left done
        board.create("D", "done", ago(6.6))  # created in done: cycle 0
        e = board.create("E", "todo", ago(19))
        board.move(e, "done", ago(8.8))
        board.move(e, "shipped", ago(4))  # done to done: neither a departure nor an arrival
        f = board.create("F", "todo", ago(60))
        board.move(f, "done", ago(40))
        board.move(f, "active", ago(35))
        board.move(f, "done", ago(20.05))  # back in done within 30 days, first arrival outside
        g = board.create("G", "review", ago(9))
        board.move(g, "done", ago(3.3))
        board.archive(g, ago(1))  # archived, still done
        h = board.create("H", "todo", ago(7))
        board.move(h, "done", ago(4.4))
        services.delete_task(project=project, task_id=h.pk)  # deleted: the log has no card to count
        k = board.create("K", "todo", ago(14))
        board.move(k, "done", ago(9.5))
        board.move(k, "todo", ago(0.5))  # left done: not done in any range, even one without its arrival

        for days, done in [(7, 3), (30, 6), (90, 6)]:  # A B G in the week; D E F in the month too
            flow = insights.flow_metrics(project, days, now=NOW)
            lead, cycle, weeks = flow_by_definition(project, days)
            assert len(lead) == done
            assert (flow.lead.count, flow.cycle.count) == (len(lead), len(cycle))
            assert (flow.lead.median_days, flow.lead.p85_days) == pytest.approx(
                (percentile(lead, 0.5), percentile(lead, 0.85)), rel=1e-12
            )
            assert (flow.cycle.median_days, flow.cycle.p85_days) == pytest.approx(
                (percentile(cycle, 0.5), percentile(cycle, 0.85)), rel=1e-12
            )
            assert flow.lead.buckets == buckets(lead)
            assert flow.cycle.buckets == buckets(cycle)
            assert {week: n for week, n in flow.weeks if n} == weeks

    def test_ages_one_query(self, board, project, django_assert_num_queries):
        for n in range(5):
            board.create(f"T{n}", "todo", ago(n * 1.5))
        with django_assert_num_queries(1):
            ages = insights.open_ages(project, now=NOW)
        assert (ages.count, ages.median_days, ages.p85_days) == (5, pytest.approx(3), pytest.approx(5.1))
        assert ages.buckets == [1, 1, 0, 2, 1, 0, 0, 0, 0, 0, 0]  # 0, 1.5, 3, 4.5, 6

    def test_arrivals_are_read_from_the_covering_index(self, project):
        # The partial index serves the query only if the query's WHERE implies its condition.
        since = NOW - dt.timedelta(days=365)
        params = {"project": project.pk, "since": since, "tz": "UTC", "edges": insights.BUCKET_EDGES}
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + insights._FLOW_SQL, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "using taskevent_arrivals on boards_taskevent" in plan


def flow_by_definition(project, days):
    """Lead and cycle days and weekly counts read from the log card by card, as the page defines them."""
    since = timezone.make_aware(dt.datetime.combine(TODAY - dt.timedelta(days=days - 1), dt.time.min))
    last = {}
    for event in TaskEvent.objects.filter(project=project, at__gte=since, task__isnull=False).order_by("seq"):
        if event.kind in ("created", "moved") and event.to_category == "done" != event.from_category:
            last[event.task_id] = event
        elif event.kind == "moved" and event.from_category == "done" != event.to_category:
            last[event.task_id] = None
    done = [event for event in last.values() if event is not None]
    lead = sorted((event.at - event.task_created_at) / dt.timedelta(days=1) for event in done)
    cycle = sorted((event.at - event.started_at) / dt.timedelta(days=1) for event in done)
    weeks = Counter(event.at.date() - dt.timedelta(days=event.at.weekday()) for event in done)
    return lead, cycle, dict(weeks)


def percentile(values, fraction):
    """PostgreSQL's percentile_cont over sorted values."""
    position = fraction * (len(values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (position - low) * (values[high] - values[low])


def buckets(values):
    counts = [0] * (len(insights.BUCKET_EDGES) + 1)
    for value in values:
        counts[bisect.bisect_right(insights.BUCKET_EDGES, max(value, 0))] += 1
    return counts


def counts(todo=0, active=0, review=0, issue=0, done=0):
    return {"todo": todo, "active": active, "review": review, "issue": issue, "done": done}


class TestOldestOpen:
    """oldest_open reads the head of each open column (raw SQL, LATERAL): held equal to the plain ORM read."""

    @staticmethod
    def by_orm(project, limit):
        return list(
            Task.objects.live()
            .filter(project=project)
            .exclude(task_status__category="done")
            .order_by("created_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )

    def test_equal_to_the_orm_read(self, board, project, columns, owner):
        second_todo = services.add_column(project=project, name="Later", category="todo")
        board.columns = {**board.columns, "later": second_todo}
        cards = []
        for n in range(40):
            column = ["todo", "active", "review", "issue", "done", "later"][n % 6]
            # Ties on the instant (every fourth pair) are broken by id, as the ORM orders them.
            cards.append(board.create(f"C{n}", column, ago(100 - (n // 2) * 2)))
        for task in cards[::7]:
            board.archive(task, ago(0.5))
        for limit in (1, 5, 12, 50):
            assert [t.pk for t in insights.oldest_open(project, limit)] == self.by_orm(project, limit), limit
        assert all(t.task_status.category != "done" for t in insights.oldest_open(project))

    def test_one_query_and_the_age_index(self, board, project, django_assert_num_queries):
        board.create("A", "todo", ago(3))
        with django_assert_num_queries(1):
            assert [t.title for t in insights.oldest_open(project)] == ["A"]
        # The ages are read from task_live_age alone (an index-only scan), not from the table.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("EXPLAIN " + insights._AGE_SQL, {"project": project.pk, "now": NOW, "edges": [1, 2]})
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Index Only Scan using task_live_age" in plan


class TestCumulativeFlow:
    @pytest.fixture
    def history_of_four_days(self, board):
        t1 = board.create("T1", "todo", ago(3))
        t2 = board.create("T2", "todo", ago(3))
        board.move(t1, "active", ago(2))
        board.move(t2, "done", ago(1))
        t3 = board.create("T3", "todo", ago(1))
        board.move(t1, "done", NOW)
        board.archive(t3, NOW)

    def test_rebuilt_from_the_event_log(self, history_of_four_days, project):
        points = insights.cumulative_flow(project, 7, today=TODAY)
        assert [day for day, _ in points] == [TODAY - dt.timedelta(days=n) for n in range(6, -1, -1)]
        assert [c for _, c in points] == [
            counts(),
            counts(),
            counts(),
            counts(todo=2),
            counts(todo=1, active=1),
            counts(todo=1, active=1, done=1),
            counts(done=2),
        ]

    def test_snapshots_win_and_gaps_are_filled(self, history_of_four_days, project):
        ProjectDailySnapshot.objects.create(
            project=project, date=TODAY - dt.timedelta(days=2), todo_tasks=5, taken_at=NOW
        )
        points = insights.cumulative_flow(project, 7, today=TODAY)
        assert points[4][1] == counts(todo=5)
        assert points[3][1] == counts(todo=2)
        assert points[5][1] == counts(todo=1, active=1, done=1)

    def test_complete_snapshots_two_queries(self, history_of_four_days, project, django_assert_num_queries):
        for n in range(1, 7):
            ProjectDailySnapshot.objects.create(
                project=project, date=TODAY - dt.timedelta(days=n), done_tasks=n, taken_at=NOW
            )
        project = Project.objects.select_related("status_aggregation").get(pk=project.pk)  # as the page has it
        with django_assert_num_queries(2):
            points = insights.cumulative_flow(project, 7, today=TODAY)
        assert [c["done"] for _, c in points] == [6, 5, 4, 3, 2, 1, 2]

    def test_category_change_of_a_column_is_in_the_flow(self, board, project, columns):
        for n in range(3):
            board.create(f"R{n}", "review", ago(1))
        services.update_column(project=project, status_id=columns["review"].pk, name="Shipped", category="done")
        TaskEvent.objects.filter(kind="column_category").update(at=NOW)
        points = insights.cumulative_flow(project, 7, today=TODAY)
        assert points[-2][1] == counts(review=3)
        assert points[-1][1] == counts(done=3)


class TestSnapshotCommand:
    def test_upserts_todays_counts_from_the_counts_rows(self, board, project, application):
        other = make_project(application, name="Other", key="OTH")
        board.create("One", "todo", NOW)
        call_command("snapshot_aggregates", "--date", "2026-06-10")
        snap = ProjectDailySnapshot.objects.get(project=project, date=TODAY)
        assert (snap.as_counts(), snap.seq) == (counts(todo=1), 1)
        board.create("Two", "active", NOW)
        assert take_daily_snapshots(TODAY) == ProjectDailySnapshot.objects.filter(date=TODAY).count()
        snap.refresh_from_db()
        assert (snap.as_counts(), snap.seq) == (counts(todo=1, active=1), 2)
        assert ProjectDailySnapshot.objects.filter(project=other, date=TODAY).count() == 1


class TestInsightsPage:
    def url(self, project, **query):
        url = reverse("project_insights", args=[project.pk])
        return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

    def test_non_member_gets_404(self, client, outsider, project):
        client.force_login(outsider)
        assert client.get(self.url(project)).status_code == 404
        assert client.get(reverse("project_insights", args=[999999])).status_code == 404

    def test_anonymous_is_sent_to_login(self, client, project):
        response = client.get(self.url(project))
        assert response.status_code == 302 and "/login/" in response["Location"]

    def test_viewer_reads_charts(self, client, viewer, board, project):
        board.create("One", "todo", timezone.now())
        client.force_login(viewer)
        response = client.get(self.url(project, days=90))
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('<svg class="chart') == 5
        assert "Cumulative flow, last 90 days" in html and "<polygon" in html
        assert "Lead time" in html and "Throughput per week" in html and "Age of open cards" in html
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
        assert reverse("export_tasks", args=[project.pk]) in html

    @pytest.mark.parametrize("days", ["0", "400", "lots"])
    def test_bad_range_gets_a_clear_message(self, client, viewer, project, days):
        client.force_login(viewer)
        response = client.get(self.url(project, days=days))
        assert response.status_code == 400
        assert 'role="alert"' in response.content.decode()
        assert "7 to 365" in response.content.decode()

    def test_fixed_number_of_queries(self, client, owner, board, project, django_assert_num_queries):
        client.force_login(owner)
        client.get(self.url(project))  # warm the session
        # user, project with role and counts, snapshots, event flow, sequence number;
        # on a cache miss also the metrics, the ages and the oldest cards.
        with django_assert_num_queries(8):
            client.get(self.url(project, days=365))
        for n in range(20):
            task = board.create(f"T{n}", "todo", ago(n))
            board.move(task, "done" if n % 2 else "active", ago(n / 2))
        with django_assert_num_queries(8):
            response = client.get(self.url(project, days=365))
        assert response.status_code == 200
        with django_assert_num_queries(5):  # the same board again: metrics from the cache
            cached = client.get(self.url(project, days=365))

        def body(r):
            return r.content.decode().split('<div class="insights board-page">')[1]  # after the per-request CSRF token

        assert body(cached) == body(response)

    def test_a_change_refreshes_the_metrics(self, client, owner, board, project):
        client.force_login(owner)
        board.create("A", "todo", ago(3))
        assert "0 cards done" in client.get(self.url(project)).content.decode()
        services.move_task(project=project, task_id=Task.objects.get(title="A").pk, status_id=board.columns["done"].pk)
        assert "1 card done" in client.get(self.url(project)).content.decode()
