"""Queueing jobs inside the caller's transaction, wherever the caller runs.

procrastinate defers through its app's connector: Django's connection in a web process, but the
worker's own pool inside a worker, where a job queued by a job would commit at once, on another
connection: a worker could take it before the rows it names exist, or keep it after a rollback.
Jobs queued here always go through Django's connection, so they commit or roll back with the
change that queued them (ARCHITECTURE.md, invariant 4). Tasks are named, not imported: the
modules that queue them are imported by the tasks.
"""

import datetime as dt
import functools
from collections.abc import Iterable

from procrastinate import manager
from procrastinate import tasks as procrastinate_tasks
from procrastinate.contrib.django.django_connector import DjangoConnector


@functools.cache
def _jobs_on_django_connection() -> manager.JobManager:
    return manager.JobManager(DjangoConnector())


def defer(task_name: str, *, queue: str, schedule_at: dt.datetime | None = None, **args) -> int:
    """Queue one job of `task_name` with `args`; its id."""
    return _deferrer(task_name, queue, schedule_at).defer(**args)


def defer_each(task_name: str, args: Iterable[dict], *, queue: str, schedule_at: dt.datetime | None = None) -> None:
    """Queue one job of `task_name` per item of `args`, in one statement."""
    args = list(args)
    if args:
        _deferrer(task_name, queue, schedule_at).batch_defer(*args)


def _deferrer(task_name: str, queue: str, schedule_at: dt.datetime | None):
    return procrastinate_tasks.configure_task(
        name=task_name, job_manager=_jobs_on_django_connection(), queue=queue, schedule_at=schedule_at
    )
