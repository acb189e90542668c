"""Queueing jobs inside the caller's transaction, wherever the caller runs.

procrastinate defers through its app's connector: Django's connection in a web process, but the
worker's own pool inside a worker, where a job queued by a job would commit at once, on another
connection: a worker could take it before the rows it names exist, or keep it after a rollback.
Jobs queued here always go through Django's connection, so they commit or roll back with the
change that queued them (ARCHITECTURE.md, invariant 4). Tasks are named, not imported: the
modules that queue them are imported by the tasks.
"""

import contextlib
import datetime as dt
import functools
from collections.abc import Iterable, Iterator

import psycopg
from django import db
from procrastinate import exceptions, manager
from procrastinate import tasks as procrastinate_tasks
from procrastinate.contrib.django.django_connector import DjangoConnector


@functools.cache
def _jobs_on_django_connection() -> manager.JobManager:
    return manager.JobManager(DjangoConnector())


def defer(
    task_name: str, *, queue: str, schedule_at: dt.datetime | None = None, queueing_lock: str | None = None, **args
) -> int:
    """Queue one job of `task_name` with `args`; its id. With a `queueing_lock`, procrastinate's
    AlreadyEnqueued when a job with that lock is waiting already (call inside a savepoint: the
    refused insert aborts the transaction it runs in)."""
    with _as_database_errors():
        return _deferrer(task_name, queue, schedule_at, queueing_lock).defer(**args)


def defer_each(task_name: str, args: Iterable[dict], *, queue: str, schedule_at: dt.datetime | None = None) -> None:
    """Queue one job of `task_name` per item of `args`, in one statement."""
    args = list(args)
    if args:
        with _as_database_errors():
            _deferrer(task_name, queue, schedule_at).batch_defer(*args)


@contextlib.contextmanager
def _as_database_errors() -> Iterator[None]:
    """procrastinate wraps a lost database connection in its own ConnectorException: give it back
    to Django as the OperationalError it is, so the request answers 503 like any other query that
    met a dead database (tasktrack.middleware), not 500. AlreadyEnqueued and the rest pass on."""
    try:
        yield
    except exceptions.ConnectorException as exc:
        if isinstance(exc.__cause__, psycopg.OperationalError | psycopg.InterfaceError):
            raise db.OperationalError(str(exc.__cause__)) from exc
        raise


def _deferrer(task_name: str, queue: str, schedule_at: dt.datetime | None, queueing_lock: str | None = None):
    return procrastinate_tasks.configure_task(
        name=task_name,
        job_manager=_jobs_on_django_connection(),
        queue=queue,
        schedule_at=schedule_at,
        queueing_lock=queueing_lock,
    )
