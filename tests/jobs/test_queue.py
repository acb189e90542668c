"""The queue on the real thing: procrastinate's jobs in PostgreSQL, run by its own worker."""

import datetime as dt
import re
import signal
import subprocess
import sys
import time

import pytest
from django.db import transaction
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from boards import services
from boards.models import ProjectDailySnapshot, TaskEvent
from jobs import fanout, tasks
from tests.support.live_support import ROOT, server_env
from tests.support.queue import queued, run_queued_jobs

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def fan_out_args() -> list[dict]:
    return [job.args for job in queued("jobs.fan_out")]


class TestQueuedWithTheChange:
    def test_a_write_queues_one_job_naming_its_events(self, project, columns, editor):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk, actor=editor)
        seqs = list(TaskEvent.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
        assert fan_out_args() == [{"project_id": project.pk, "first_seq": seq, "last_seq": seq} for seq in seqs]

    def test_a_bulk_write_queues_one_job_for_all_its_events(self, project, columns, editor):
        cards = [
            services.create_task(project=project, status_id=columns["todo"].pk, title=f"Card {n}", reporter=editor)
            for n in range(3)
        ]
        before = len(fan_out_args())
        services.bulk_move_tasks(
            project=project, task_ids=[card.pk for card in cards], status_id=columns["done"].pk, actor=editor
        )
        jobs = fan_out_args()[before:]
        assert len(jobs) == 1
        assert jobs[0]["last_seq"] - jobs[0]["first_seq"] == 2

    def test_a_rolled_back_change_leaves_no_job(self, project, columns, editor):
        with pytest.raises(Boom), transaction.atomic():
            services.create_task(project=project, status_id=columns["todo"].pk, title="Gone", reporter=editor)
            assert len(fan_out_args()) == 1  # queued inside the transaction...
            raise Boom
        assert fan_out_args() == []  # ...and gone with it
        assert not TaskEvent.objects.filter(project=project).exists()

    def test_inside_a_worker_the_job_still_goes_with_the_change(self, project, columns, editor):
        """In a worker procrastinate's app writes through the worker's own pool: a change made by a
        job (an import) must still queue its job on its own connection, inside its transaction."""
        with app.replace_connector(app.connector.get_worker_connector()):
            with pytest.raises(Boom), transaction.atomic():
                services.create_task(project=project, status_id=columns["todo"].pk, title="Gone", reporter=editor)
                raise Boom
            assert fan_out_args() == []
            services.create_task(project=project, status_id=columns["todo"].pk, title="Kept", reporter=editor)
        assert len(fan_out_args()) == 1


class TestTheWorker:
    def test_a_worker_hands_the_events_to_every_consumer(self, project, columns, editor, monkeypatch):
        seen = []
        monkeypatch.setattr(fanout, "CONSUMERS", (lambda events: seen.append([e.kind for e in events]),))
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        services.archive_task(project=project, task_id=task.pk, actor=editor)
        run_queued_jobs()
        assert seen == [[TaskEvent.Kind.CREATED], [TaskEvent.Kind.ARCHIVED]]
        assert queued() == []  # done, and deleted as the settings ask

    def test_a_failing_consumer_is_tried_again_later(self, project, columns, editor, monkeypatch):
        def fail(events):
            raise Boom("the mail server is down")

        monkeypatch.setattr(fanout, "CONSUMERS", (fail,))
        services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        run_queued_jobs()
        (job,) = queued("jobs.fan_out")
        assert job.attempts == 1
        assert job.scheduled_at is not None  # waits before the next try

    def test_events_of_a_deleted_project_are_nothing_to_do(self, project, columns, editor):
        services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        (args,) = fan_out_args()
        assert fanout.fan_out(**args) == 1
        assert fanout.fan_out(project_id=args["project_id"] + 1000, first_seq=1, last_seq=1) == 0


class TestDailySnapshot:
    def test_it_is_a_periodic_task_run_late_each_day(self):
        (periodic,) = [p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == "jobs.daily_snapshot"]
        assert periodic.cron == "55 23 * * *"

    def test_it_files_the_counts_under_the_day_it_was_due(self, project, columns, editor):
        services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        due = dt.datetime(2026, 12, 2, 23, 55, tzinfo=dt.UTC)
        tasks.daily_snapshot.defer(timestamp=int(due.timestamp()))
        run_queued_jobs(queues=["periodic"])
        snapshot = ProjectDailySnapshot.objects.get(project=project)
        assert (snapshot.date, snapshot.todo_tasks) == (dt.date(2026, 12, 2), 1)


def test_workers_started_by_the_command_share_the_queue(project, columns, editor, monkeypatch):
    """Two `manage.py procrastinate worker` processes, as on two machines: every job runs once."""
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "--name", f"w{n}"],
            cwd=ROOT,
            env=server_env(LOG_LEVEL="INFO"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    try:
        for n in range(20):
            services.create_task(project=project, status_id=columns["todo"].pk, title=f"Card {n}", reporter=editor)
        deadline = time.monotonic() + 60
        while ProcrastinateJob.objects.filter(task_name="jobs.fan_out").exists():
            assert time.monotonic() < deadline, "the workers did not empty the queue within 60 s"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        logs = [worker.communicate(timeout=30)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], logs
    # Deleted once done (PROCRASTINATE_WORKER_DEFAULTS), each by one worker: 20 successes in all.
    started = [job for log in logs for job in re.findall(r"Starting job jobs\.fan_out\[(\d+)\]", log)]
    assert len(started) == len(set(started)) == 20, logs  # each job run once, by one worker
    assert sum(log.count("ended with status: Success") for log in logs) == 20, logs


def test_a_lost_database_connection_is_djangos_operational_error():
    """So a write that meets a dead database answers 503 (tasktrack.middleware), not 500."""
    import psycopg
    from django.db import OperationalError, connection

    from tasktrack import queue
    from tests.support.workers import database_url

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        with pytest.raises(OperationalError):
            queue.defer("jobs.fan_out", queue="events", project_id=1, first_seq=1, last_seq=1)
    finally:
        connection.close()
