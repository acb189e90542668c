import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import insights
from boards.models import Application, Membership, Project, Task, TaskEvent, TaskStatus
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


class TestDemo:
    def test_builds_the_demo_workspace(self):
        out = seed()
        assert "log in as demo / demo" in out
        demo = get_user_model().objects.get(username="demo")
        assert demo.check_password("demo")
        application = Application.objects.get()
        assert Membership.objects.get(application=application, user=demo).role == Membership.Role.OWNER
        assert Project.objects.filter(application=application).count() == 3
        assert Task.objects.count() == 600
        # Cards in every column of every project, some assigned, some not, some archived.
        assert not TaskStatus.objects.filter(tasks__isnull=True).exists()
        assert Task.objects.filter(assignee__isnull=True).exists()
        assert Task.objects.filter(assignee=demo).exists()
        assert Task.objects.filter(assignee__username="ana").exists()
        assert Task.objects.archived().exists()
        assert Task.objects.live().count() > 400
        assert_counts_exact()
        assert seed_check() == ""

    def test_plays_ninety_days_of_history_through_the_services(self):
        seed()
        now = timezone.now()
        project = Project.objects.get(key="WEB")
        created = Task.objects.filter(project=project).values_list("created_at", flat=True)
        assert now - min(created) > dt.timedelta(days=80) and now - max(created) < dt.timedelta(days=7)
        events = TaskEvent.objects.filter(project=project)
        days = {timezone.localdate(at) for at in events.values_list("at", flat=True)}
        assert len(days) > 45  # most working days of the last ninety, not one spike
        assert max(events.values_list("at", flat=True)) <= now
        # Every column's category has had arrivals, and every card's events are in time order.
        assert set(events.values_list("to_category", flat=True)) >= {"todo", "active", "review", "issue", "done"}
        for task_id, ats in _event_times(events).items():
            assert ats == sorted(ats), task_id
        # The sequence is gapless; counts are exact (the recount check, as on the command line).
        seqs = sorted(events.values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
        assert seed_check() == ""
        # Every chart of the insights page has a story: flow over the days, done cards with lead
        # and cycle times, throughput in most weeks.
        flow = insights.cumulative_flow(project, 60)
        assert flow[0][1] != flow[-1][1]
        assert flow[0][1]["done"] < flow[-1][1]["done"]
        metrics = insights.flow_metrics(project, 90)
        assert metrics.lead.count > 20 and metrics.cycle.count > 20
        assert metrics.lead.median_days > metrics.cycle.median_days > 0
        assert sum(1 for _, done in metrics.weeks if done) >= len(metrics.weeks) - 3

    def test_the_same_history_whatever_the_backlog(self):
        """The played part is fixed by the seed; only the backlog grows, inserted in bulk."""
        seed("--tasks", "1", "--history-days", "0")  # the first run also creates the people
        with CaptureQueriesContext(connection) as few:
            seed("--tasks", "210", "--projects", "1")
        with CaptureQueriesContext(connection) as many:
            seed("--tasks", "3000", "--projects", "1")
        assert len(many) == len(few)
        assert Task.objects.filter(created_at__lte=timezone.now() - dt.timedelta(days=90)).count() == 10 + 2800
        assert seed_check() == ""

    def test_the_demo_user_can_open_the_board(self, client):
        seed("--tasks", "30")
        # Through the log-in page: axes' backend checks every authenticate() for a request.
        assert client.post("/login/", {"username": "demo", "password": "demo"}).status_code == 302
        project = Project.objects.get(key="WEB")
        assert client.get(project.get_absolute_url()).status_code == 200

    def test_second_run_adds_a_second_workspace(self):
        seed("--tasks", "60")
        out = seed("--tasks", "60")
        assert "log in as demo / demo" not in out
        assert "Demo workspace 2" in out
        assert sorted(Application.objects.values_list("name", flat=True)) == ["Demo workspace", "Demo workspace 2"]
        assert Project.objects.count() == 6
        assert Task.objects.count() == 120
        assert get_user_model().objects.filter(username="demo").count() == 1
        assert_counts_exact()

    def test_if_empty_leaves_existing_data_alone(self):
        seed("--tasks", "30", "--if-empty")
        out = seed("--if-empty")
        assert "leaves them alone" in out
        assert Application.objects.count() == 1
        assert Task.objects.count() == 30

    def test_refuses_nonsense(self):
        with pytest.raises(CommandError):
            seed("--projects", "0")
        with pytest.raises(CommandError):
            seed("--tasks", "-1")
        with pytest.raises(CommandError):
            seed("--history-days", "-1")
        assert not Project.objects.exists()


def _event_times(events) -> dict[int, list]:
    times: dict[int, list] = {}
    for task_id, at in events.order_by("seq").values_list("task_id", "at"):
        times.setdefault(task_id, []).append(at)
    return times


def seed_check() -> str:
    """What `recalc_aggregates --check` finds different: nothing when every count is exact."""
    out = StringIO()
    call_command("recalc_aggregates", "--check", stdout=out)
    return "" if "match" in out.getvalue() else out.getvalue()


class TestLargeData:
    def test_tasks_spread_over_projects_with_exact_counts(self):
        out = seed("--tasks", "2003", "--projects", "4", "--history-days", "0")
        assert "4 project(s), 2003 card(s)" in out
        per_project = [project.tasks.count() for project in Project.objects.order_by("pk")]
        assert per_project == [501, 501, 501, 500]
        assert_counts_exact()

    def test_inserts_in_bulk(self):
        """The queries do not grow with the number of cards: inserts go in batches."""
        seed("--tasks", "2", "--projects", "2", "--history-days", "0")  # the first run also creates the people
        with CaptureQueriesContext(connection) as few:
            seed("--tasks", "20", "--projects", "2", "--history-days", "0")
        with CaptureQueriesContext(connection) as many:
            seed("--tasks", "2000", "--projects", "2", "--history-days", "0")
        assert len(many) == len(few)
        assert_counts_exact()
