from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.models import Application, Membership, Project, Task, TaskStatus
from tests.helpers import assert_counts_exact

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
        assert Task.objects.live().count() > 500
        assert_counts_exact()

    def test_the_demo_user_can_open_the_board(self, client):
        seed("--tasks", "30")
        assert client.login(username="demo", password="demo")
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
        assert not Project.objects.exists()


class TestLargeData:
    def test_tasks_spread_over_projects_with_exact_counts(self):
        out = seed("--tasks", "2003", "--projects", "4")
        assert "4 project(s), 2003 card(s)" in out
        per_project = [project.tasks.count() for project in Project.objects.order_by("pk")]
        assert per_project == [501, 501, 501, 500]
        assert_counts_exact()

    def test_inserts_in_bulk(self):
        """The queries do not grow with the number of cards: inserts go in batches."""
        seed("--tasks", "2", "--projects", "2")  # the first run also creates the people
        with CaptureQueriesContext(connection) as few:
            seed("--tasks", "20", "--projects", "2")
        with CaptureQueriesContext(connection) as many:
            seed("--tasks", "2000", "--projects", "2")
        assert len(many) == len(few)
        assert_counts_exact()
