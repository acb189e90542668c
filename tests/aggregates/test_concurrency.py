"""Concurrent writers in real OS processes against the pytest test database.

The children (tests/workers.py) call django.setup() with DATABASE_URL naming the test database;
transaction=True so what the parent writes is committed and visible to them.
"""

from pathlib import Path

import pytest
from django.conf import settings

from boards import services
from boards.models import Task
from tests import workers
from tests.helpers import assert_counts_exact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def spawn(scenario, **args):
    return workers.spawn(scenario, args, database=settings.DATABASES["default"])


def make_tasks(project, n, columns, owner):
    column_ids = [column.pk for column in columns.values()]
    tasks = [
        Task(title=f"old {i}", task_status_id=column_ids[i % len(column_ids)], reporter=owner, position=float(i))
        for i in range(n)
    ]
    services.bulk_create_tasks(project=project, tasks=tasks)


def start_together(procs, start_file):
    """Wait until every child is ready, then release them at once through the start file."""
    for proc in procs:
        assert workers.read_line(proc) == {"state": "ready"}
    Path(start_file).touch()


class TestWaitingForAMovedTask:
    """A writer that waits for the lock of a task someone else is moving sees the move."""

    @pytest.fixture
    def held(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["issue"].pk, title="moving", reporter=owner)
        services.create_task(project=project, status_id=columns["done"].pk, title="done", reporter=owner)
        proc = spawn("hold_move", project_id=project.pk, task_id=task.pk, status_id=columns["done"].pk, hold=1.5)
        assert workers.read_line(proc) == {"state": "held"}
        yield task
        assert workers.finish(proc) == {"state": "committed"}

    def test_service_operation_does_not_report_the_card_gone(self, project, held):
        archived = services.archive_task(project=project, task_id=held.pk)
        assert archived.is_archived
        assert_counts_exact(project)

    def test_direct_delete_subtracts_the_moved_card(self, project, held):
        Task.objects.get(pk=held.pk).delete()  # as the admin does: no service lock first
        assert_counts_exact(project)

    def test_direct_save_of_stale_copy_counts_once(self, project, held):
        stale = Task.objects.get(pk=held.pk)
        stale.title = "edited"
        stale.save()  # a full save writes the stale column back: a move done -> issue
        assert_counts_exact(project)

    def test_column_change_rederives_from_committed_counts(self, project, columns, held):
        # The mover turns the last issue card into done. Making the empty first column an issue
        # column re-derives the status: from the counts after that commit, not the ones before.
        services.update_column(project=project, status_id=columns["todo"].pk, name="Blocked", category="issue")
        assert_counts_exact(project)
