"""The real queue in tests: jobs waiting in PostgreSQL, run by procrastinate's own worker."""

from django.db import connection
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob


def empty_queue() -> None:
    """Remove every job: the queue's tables are procrastinate's, which a test's flush leaves alone."""
    ProcrastinateJob.objects.all()._raw_delete(ProcrastinateJob.objects.db)


def queued(task_name: str | None = None, status: str = "todo") -> list[ProcrastinateJob]:
    jobs = ProcrastinateJob.objects.filter(status=status).order_by("id")
    return list(jobs.filter(task_name=task_name) if task_name else jobs)


def run_queued_jobs(queues: list[str] | None = None) -> None:
    """Run every waiting job with a worker on its own connection, until none is left.

    The jobs must be committed (a transactional test, django_db(transaction=True)): the worker
    does not see the test's connection.
    """
    assert not connection.in_atomic_block, "commit first: the worker cannot see uncommitted jobs"
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(queues=queues, wait=False, install_signal_handlers=False, listen_notify=False)
