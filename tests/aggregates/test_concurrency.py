"""Concurrent writers in real OS processes against the pytest test database.

The children (tests/support/workers.py) call django.setup() with DATABASE_URL naming the test database;
transaction=True so what the parent writes is committed and visible to them.
"""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from aggregates import recalc
from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Task
from tests.support import workers
from tests.support.helpers import assert_counts_exact, deadlocks_detected

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


@pytest.fixture
def start_file(tmp_path):
    return str(tmp_path / "start")


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


def drop_row(project):
    ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()


def test_bulk_operation_losing_the_bootstrap_race_keeps_its_delta(project, columns, owner):
    make_tasks(project, 20, columns, owner)
    drop_row(project)
    proc = spawn("hold_create", project_id=project.pk, status_id=columns["todo"].pk, hold=1.5)
    assert workers.read_line(proc) == {"state": "held"}  # its row insert is in, uncommitted
    ids = list(Task.objects.filter(project=project).values_list("pk", flat=True)[:5])
    services.bulk_archive_tasks(project=project, task_ids=ids)  # waits for that row, then adds to it
    assert workers.finish(proc) == {"state": "committed"}
    assert ProjectTaskStatusAgg.objects.get(pk=project.pk).total_tasks == 20 - 5 + 1
    assert_counts_exact(project)


def test_two_processes_create_the_first_task_of_a_big_project(project, columns, owner, start_file):
    make_tasks(project, 10_000, columns, owner)
    drop_row(project)
    procs = [
        spawn("first_tasks", project_id=project.pk, status_id=columns["todo"].pk, start_file=start_file)
        for _ in range(2)
    ]
    start_together(procs, start_file)
    results = [workers.finish(proc) for proc in procs]
    assert [r["errors"] for r in results] == [[], []]
    assert sum(len(r["created"]) for r in results) == 2
    assert ProjectTaskStatusAgg.objects.filter(pk=project.pk).count() == 1
    assert ProjectTaskStatusAgg.objects.get(pk=project.pk).total_tasks == 10_002
    assert_counts_exact(project)


def test_fifty_concurrent_first_tasks(project, columns, owner, start_file):
    make_tasks(project, 500, columns, owner)
    drop_row(project)
    procs = [
        spawn(
            "first_tasks",
            project_id=project.pk,
            status_id=columns["review"].pk,
            threads=10,
            per_thread=1,
            start_file=start_file,
        )
        for _ in range(5)
    ]
    start_together(procs, start_file)
    results = [workers.finish(proc) for proc in procs]
    assert [error for r in results for error in r["errors"]] == []
    assert sum(len(r["created"]) for r in results) == 50
    assert ProjectTaskStatusAgg.objects.filter(pk=project.pk).count() == 1
    assert ProjectTaskStatusAgg.objects.get(pk=project.pk).total_tasks == 550
    assert_counts_exact(project)


def test_hammering_the_same_tasks(project, columns, owner, start_file):
    extra = services.add_column(project=project, name="Doing too", category="active")
    task_ids = [
        services.create_task(project=project, status_id=columns[c].pk, title=c, reporter=owner).pk
        for c in ["todo", "active", "review", "issue", "done", "todo"]
    ]
    status_ids = [column.pk for column in columns.values()] + [extra.pk]
    deadlocks_before = deadlocks_detected()
    procs = [
        spawn(
            "hammer",
            project_id=project.pk,
            status_ids=status_ids,
            task_ids=task_ids,
            seconds=3,
            min_ops=20,
            seed=seed,
            start_file=start_file,
        )
        for seed in range(3)
    ]
    start_together(procs, start_file)
    # Meanwhile the parent rebuilds the row again and again: it locks it, so a writer's delta
    # lands either before its recount or on top of it, never lost or counted twice.
    rebuilds = 0
    while any(proc.poll() is None for proc in procs):
        recalc.rebuild([project.pk])
        rebuilds += 1
        time.sleep(0.05)
    results = [workers.finish(proc, timeout=120) for proc in procs]
    assert rebuilds >= 3
    assert [failure for r in results for failure in r["unexpected"]] == []
    done = sum(n for r in results for n in r["done"].values())
    assert done >= 10, results  # they really ran: each tried at least min_ops operations
    assert_counts_exact(project)
    # Every writer locks columns in id order: PostgreSQL never had to break a deadlock (which the
    # operations would have retried, hiding it from the counts).
    assert deadlocks_detected() == deadlocks_before
    assert_recalc_check_passes()


def assert_recalc_check_passes() -> None:
    """`manage.py recalc_aggregates --check`, as the nightly job runs it, finds no drift."""
    check = subprocess.run(
        [sys.executable, "manage.py", "recalc_aggregates", "--check"],
        cwd=workers.ROOT,
        env={**os.environ, "DATABASE_URL": workers.database_url(settings.DATABASES["default"])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "match a recount" in check.stdout


def test_stale_orm_copies_racing_deletes(project, columns, owner, start_file):
    """Four processes save stale copies, rebuilt copies and deletions of the same cards with the
    plain ORM for ten seconds: no IntegrityError, no deleted card back, counts exact."""
    extra = services.add_column(project=project, name="Doing too", category="active")
    for c in ["todo", "active", "review", "issue", "done", "todo"]:
        services.create_task(project=project, status_id=columns[c].pk, title=c, reporter=owner)
    status_ids = [column.pk for column in columns.values()] + [extra.pk]
    procs = [
        spawn("stale_orm", project_id=project.pk, status_ids=status_ids, seconds=10, seed=seed, start_file=start_file)
        for seed in range(4)
    ]
    start_together(procs, start_file)
    results = [workers.finish(proc, timeout=120) for proc in procs]
    assert [failure for r in results for failure in r["unexpected"]] == []
    done = Counter()
    for r in results:
        done.update(r["done"])
    # They really raced: cards were deleted and saved, and stale saves of deleted cards refused.
    assert done["delete"] >= 4 and done["move"] >= 4 and done["rebuilt"] >= 1, results
    assert sum(r["expected"].get("DoesNotExist", 0) for r in results) >= 1, results
    deleted = [pk for r in results for pk in r["deleted"]]
    assert len(deleted) == len(set(deleted)), "a card was deleted twice: it had come back in between"
    assert not Task.objects.filter(pk__in=deleted).exists()
    assert_counts_exact(project)
    assert_recalc_check_passes()


@pytest.mark.parametrize("operation", ["bulk_archive", "bulk_move"])
def test_bulk_operation_counts_with_the_category_after_a_concurrent_change(project, columns, owner, operation):
    cards = [
        services.create_task(project=project, status_id=columns["todo"].pk, title=f"c{i}", reporter=owner)
        for i in range(3)
    ]
    proc = spawn("hold_recategorise", project_id=project.pk, status_id=columns["todo"].pk, category="issue", hold=1.5)
    assert workers.read_line(proc) == {"state": "held"}  # todo -> issue, uncommitted, column locked
    ids = [card.pk for card in cards[:2]]
    if operation == "bulk_archive":
        services.bulk_archive_tasks(project=project, task_ids=ids)  # must subtract from issue, not todo
    else:
        services.bulk_move_tasks(project=project, task_ids=ids, status_id=columns["done"].pk)
    assert workers.finish(proc) == {"state": "committed"}
    assert_counts_exact(project)
