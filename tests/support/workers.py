"""Real OS processes for the concurrency tests: `python -m tests.support.workers SCENARIO JSON`.

Each child calls django.setup() against the test database the parent names in DATABASE_URL,
prints JSON lines on stdout ("ready", then its result) and exits 0. A start file given by the
parent lines the children up so they begin at the same moment.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def database_url(settings_dict: dict) -> str:
    """The postgres:// URL of a DATABASES entry (the pytest test database)."""
    user = settings_dict["USER"] or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    host = settings_dict["HOST"] or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{settings_dict['NAME']}"


def spawn(scenario: str, args: dict, *, database: dict) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(database), "DJANGO_SETTINGS_MODULE": "tasktrack.settings"}
    env["DB_POOL_MAX"] = str(args.get("threads", 1) + 2)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.workers", scenario, json.dumps(args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(proc: subprocess.Popen) -> dict:
    """The child's next JSON line; fails with its stderr when it died instead."""
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise AssertionError(f"worker exited {proc.returncode} without output:\n{proc.stderr.read()}")
    return json.loads(line)


def finish(proc: subprocess.Popen, timeout: float = 60) -> dict:
    """Wait for the child; its last JSON line, or an AssertionError with its stderr."""
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.strip()]
    assert proc.returncode == 0, f"worker exited {proc.returncode}:\n{err}"
    assert lines, f"worker printed nothing:\n{err}"
    return json.loads(lines[-1])


def wait_for_start(start_file: str | None) -> None:
    if not start_file:
        return
    deadline = time.monotonic() + 60
    while not os.path.exists(start_file):
        if time.monotonic() > deadline:
            raise TimeoutError("no start signal")
        time.sleep(0.002)


def emit(**data) -> None:
    print(json.dumps(data), flush=True)


# Scenarios. Imports of Django code happen after django.setup().


def hold_move(args: dict) -> dict:
    """Move a task inside a transaction and keep it open, so the parent's write must wait."""
    from django.db import transaction

    from boards import services
    from boards.models import Project

    project = Project.objects.get(pk=args["project_id"])
    with transaction.atomic():
        services.move_task(project=project, task_id=args["task_id"], status_id=args["status_id"])
        emit(state="held")
        time.sleep(args.get("hold", 1.5))
    return {"state": "committed"}


def hold_recategorise(args: dict) -> dict:
    """Change a column's category inside a transaction and keep it open (the column locked)."""
    from django.db import transaction

    from boards import services
    from boards.models import Project

    project = Project.objects.get(pk=args["project_id"])
    with transaction.atomic():
        column = project.task_statuses.get(pk=args["status_id"])
        services.update_column(project=project, status_id=column.pk, name=column.name, category=args["category"])
        emit(state="held")
        time.sleep(args.get("hold", 1.5))
    return {"state": "committed"}


def hold_create(args: dict) -> dict:
    """Create a task inside a transaction and keep it open (its bootstrap insert uncommitted)."""
    from django.db import transaction

    from boards import services
    from boards.models import Project

    project = Project.objects.get(pk=args["project_id"])
    with transaction.atomic():
        services.create_task(project=project, status_id=args["status_id"], title="held", reporter=None)
        emit(state="held")
        time.sleep(args.get("hold", 1.5))
    return {"state": "committed"}


def hold_unique(args: dict) -> dict:
    """Create a project (key) or add a column (name) inside a transaction and keep it open: its
    row is inserted, uncommitted, so a concurrent insert of the same key waits on the unique index."""
    from django.db import transaction

    from boards import services
    from boards.models import Application, Project

    with transaction.atomic():
        if args["kind"] == "project":
            application = Application.objects.get(pk=args["application_id"])
            services.create_project(application=application, name="Held", key=args["key"])
        else:
            project = Project.objects.get(pk=args["project_id"])
            services.add_column(project=project, name=args["name"], category="todo")
        emit(state="held")
        time.sleep(args.get("hold", 1.5))
    return {"state": "committed"}


def first_tasks(args: dict) -> dict:
    """`threads` threads each create `per_thread` tasks in one column, all starting together."""
    from django.db import connection

    from boards import services
    from boards.models import Project

    project = Project.objects.get(pk=args["project_id"])
    threads = args.get("threads", 1)
    barrier = threading.Barrier(threads)
    created, errors = [], []

    def run(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=60)
            for n in range(args.get("per_thread", 1)):
                task = services.create_task(
                    project=project,
                    status_id=args["status_id"],
                    title=f"first {os.getpid()}-{index}-{n}",
                    reporter=None,
                )
                created.append(task.pk)
        except Exception:  # noqa: BLE001 - reported to the parent, which fails the test
            errors.append(traceback.format_exc())
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    emit(state="ready")
    wait_for_start(args.get("start_file"))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"created": created, "errors": errors}


EXPECTED = ("DoesNotExist", "ValidationError", "WipLimitReached", "StaleVersion")


def hammer(args: dict) -> dict:
    """Random operations on a few tasks for `seconds`; counts expected domain errors apart."""
    from django.core.exceptions import ValidationError

    from boards import services
    from boards.models import Category, Project, Task

    rng = random.Random(args["seed"])
    project = Project.objects.get(pk=args["project_id"])
    columns = args["status_ids"]
    task_ids = list(args["task_ids"])
    done: Counter = Counter()
    expected: Counter = Counter()
    unexpected: list[str] = []
    # Warm up (imports, templates, connections) before the start, so the timed part writes.
    services.move_task(project=project, task_id=task_ids[0], status_id=columns[0])
    emit(state="ready")
    wait_for_start(args.get("start_file"))
    start = time.monotonic()
    # About `seconds`, but on a loaded machine keep on until `min_ops` operations were tried.
    while time.monotonic() < start + args["seconds"] or (
        sum(done.values()) + sum(expected.values()) + len(unexpected) < args.get("min_ops", 0)
        and time.monotonic() < start + 30
    ):
        op = rng.choice(["move", "move", "move", "archive", "unarchive", "create", "delete", "recategorise", "bulk"])
        task_id = rng.choice(task_ids)
        try:
            if op == "move":
                services.move_task(project=project, task_id=task_id, status_id=rng.choice(columns))
            elif op == "archive":
                services.archive_task(project=project, task_id=task_id)
            elif op == "unarchive":
                services.unarchive_task(project=project, task_id=task_id)
            elif op == "create":
                task = services.create_task(project=project, status_id=rng.choice(columns), title="new", reporter=None)
                task_ids.append(task.pk)
            elif op == "delete":
                services.delete_task(project=project, task_id=task_id)
            elif op == "recategorise":
                status_id = rng.choice(columns)
                column = project.task_statuses.get(pk=status_id)
                services.update_column(
                    project=project,
                    status_id=status_id,
                    name=column.name,
                    category=rng.choice(Category.values),
                    wip_limit=column.wip_limit,
                )
            else:
                ids = rng.sample(task_ids, min(3, len(task_ids)))
                if rng.random() < 0.5:
                    services.bulk_move_tasks(project=project, task_ids=ids, status_id=rng.choice(columns))
                else:
                    services.bulk_archive_tasks(project=project, task_ids=ids)
            done[op] += 1
        except (Task.DoesNotExist, ValidationError, services.Conflict) as error:
            expected[type(error).__name__] += 1
        except Exception:  # noqa: BLE001 - reported to the parent, which fails the test
            unexpected.append(f"{op}: {traceback.format_exc()}")
    return {"done": dict(done), "expected": dict(expected), "unexpected": unexpected}


def stale_orm(args: dict) -> dict:
    """Plain ORM writes on stale copies, as a shell or the admin makes them, for `seconds`.

    Loads the project's cards once (and again now and then), then saves moved, archived or
    unarchived copies, deletes copies, saves copies rebuilt by hand from their id, and creates
    cards, never refreshing a copy first. Reports the ids it deleted."""
    from django.utils import timezone

    from boards.models import Project, Task

    rng = random.Random(args["seed"])
    project = Project.objects.get(pk=args["project_id"])
    columns = args["status_ids"]

    def load() -> list:
        return list(Task.objects.filter(project=project).order_by("?")[: args.get("cards", 6)])

    copies = load()
    done: Counter = Counter()
    expected: Counter = Counter()
    unexpected: list[str] = []
    deleted: list[int] = []
    emit(state="ready")
    wait_for_start(args.get("start_file"))
    start = time.monotonic()
    while time.monotonic() < start + args["seconds"]:
        op = rng.choice(["move", "move", "archive", "unarchive", "delete", "delete", "create", "rebuilt", "title"])
        if rng.random() < 0.1 or not copies:
            copies = load() or copies
        copy = rng.choice(copies) if copies else None
        try:
            if op == "create" or copy is None:
                op = "create"
                task = Task(project=project, task_status_id=rng.choice(columns), title="new")
                task.save()
                copies.append(task)
            elif op == "move":
                copy.task_status_id = rng.choice(columns)
                copy.save()
            elif op == "archive":
                copy.archived_at = timezone.now()
                copy.save()
            elif op == "unarchive":
                copy.archived_at = None
                copy.save()
            elif op == "delete":
                pk = copy.pk
                if pk is None:  # deleted by this process already
                    continue
                count, _ = copy.delete()
                if count:
                    deleted.append(pk)
                copies.remove(copy)
            elif op == "rebuilt":  # a copy built from a cached payload: _state.adding is true
                payload = {field.attname: getattr(copy, field.attname) for field in Task._meta.concrete_fields}
                Task(**{**payload, "task_status_id": rng.choice(columns), "title": "rebuilt"}).save()
            else:
                copy.title = f"title {rng.random():.3f}"
                copy.save(update_fields=["title", "updated_at"])
            done[op] += 1
        except Task.DoesNotExist:
            expected["DoesNotExist"] += 1
        except Exception:  # noqa: BLE001 - an IntegrityError above all: reported to the parent, which fails
            unexpected.append(f"{op}: {traceback.format_exc()}")
    return {"done": dict(done), "expected": dict(expected), "unexpected": unexpected, "deleted": deleted}


SCENARIOS = {
    "hold_move": hold_move,
    "hold_recategorise": hold_recategorise,
    "hold_create": hold_create,
    "hold_unique": hold_unique,
    "first_tasks": first_tasks,
    "hammer": hammer,
    "stale_orm": stale_orm,
}


def main() -> None:
    import django

    django.setup()
    scenario, args = sys.argv[1], json.loads(sys.argv[2])
    emit(**SCENARIOS[scenario](args))


if __name__ == "__main__":
    main()
