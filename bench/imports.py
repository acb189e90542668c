"""Importing a Trello board of 10,000 cards: the upload's check and the worker's import, timed.

A generated export (lists, labels, checklists on every fifth card, comments on every tenth, due
dates, archived cards) goes through what the pages and the worker run: the upload form's parse
(UploadForm's check), the preview's confirmation (services.queue_import), and the job itself
(services.run_import, called directly: the worker adds only its polling). Afterwards the counts are
compared with a recount and `recalc_aggregates --check` runs; then the workspace is deleted.

    DATABASE_URL=... python -m bench.imports [--cards 10000] [--out PATH]

Writes bench/results/imports.txt.
"""

import argparse
import json
import os
import platform
import sys
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "imports.txt"
LISTS = ["Backlog", "Next", "Doing", "Review", "Blocked", "Done"]
COLOURS = ["green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black"]


def export(cards: int) -> str:
    """A Trello-shaped export of `cards` cards (written here, not taken from any board)."""
    lists = [{"id": f"L{i}", "name": name, "closed": False, "pos": i * 1000} for i, name in enumerate(LISTS)]
    labels = [{"id": f"l{i}", "name": f"Label {i}", "color": colour} for i, colour in enumerate(COLOURS)]
    board_cards, checklists, actions = [], [], []
    for n in range(cards):
        card = {
            "id": f"c{n}",
            "name": f"Card {n}: something to do about part {n % 97}",
            "desc": f"Some **Markdown** for card {n}.\n\n- one point\n- another, with `code`" if n % 3 else "",
            "closed": n % 50 == 0,
            "idList": f"L{n % len(LISTS)}",
            "pos": float(cards - n),
            "due": f"2027-0{1 + n % 9}-1{n % 10}T09:00:00.000Z" if n % 4 == 0 else None,
            "idLabels": [f"l{n % 10}", f"l{(n * 7) % 10}"] if n % 2 else [],
            "idMembers": [],
        }
        board_cards.append(card)
        if n % 5 == 0:
            items = [
                {"id": f"i{n}-{k}", "name": f"Step {k}", "state": "complete" if k < 2 else "incomplete", "pos": k}
                for k in range(4)
            ]
            checklists.append({"id": f"k{n}", "idCard": f"c{n}", "name": "Checklist", "pos": 1, "checkItems": items})
        if n % 10 == 0:
            actions.append(
                {
                    "id": f"a{n}",
                    "type": "commentCard",
                    "date": "2026-11-01T10:00:00.000Z",
                    "data": {"text": f"A comment on card {n}.", "card": {"id": f"c{n}"}},
                    "memberCreator": {"id": "m1", "username": "someone", "fullName": "Some One"},
                }
            )
    return json.dumps(
        {
            "name": "Bench board",
            "lists": lists,
            "labels": labels,
            "cards": board_cards,
            "checklists": checklists,
            "actions": actions,
        }
    )


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local process (the PostgreSQL backend); None when not local."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cards: int, out: Path) -> str:
    """Import a generated board of `cards` cards into a new workspace; write and return the report."""
    from collections import Counter

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from aggregates.models import ProjectTaskStatusAgg
    from boards import services as boards_services
    from boards.models import Application, Membership, Task
    from imports import parsers, services
    from imports.models import ImportJob

    text = export(cards)
    owner = get_user_model().objects.create_user(f"bench-import-{time.time_ns()}")
    application = Application.objects.create(name="Bench imports")
    Membership.objects.create(application=application, user=owner, role=Membership.Role.OWNER)
    try:
        started = time.perf_counter()
        board = parsers.parse_trello(text)
        parse_s = time.perf_counter() - started
        job = services.start_import(
            application=application, actor=owner, kind=ImportJob.Kind.TRELLO, file_name="bench.json", source=text
        )
        started = time.perf_counter()
        services.queue_import(job=job, actor=owner, name="Bench import", key="BENCH", options={})
        queue_s = time.perf_counter() - started
        backend = backend_pid()
        started, cpu, db_cpu = time.perf_counter(), time.process_time(), cpu_seconds(backend)
        services.run_import(job.pk)
        import_s, import_cpu = time.perf_counter() - started, time.process_time() - cpu
        db_cpu = cpu_seconds(backend) - db_cpu if db_cpu is not None else None
        job.refresh_from_db()
        assert job.status == ImportJob.Status.DONE, job.error
        project = job.project
        live = Counter(Task.objects.live().filter(project=project).values_list("task_status__category", flat=True))
        row = ProjectTaskStatusAgg.objects.get(project=project)
        exact = row.total_tasks == sum(live.values()) and all(
            getattr(row, f"{category}_tasks") == live[category]
            for category in ("todo", "active", "review", "issue", "done")
        )
        call_command("recalc_aggregates", "--check", stdout=StringIO())  # raises on any drift
        stored = Task.objects.filter(project=project).count()
        boards_services.delete_project(project=project, actor=owner)
    finally:
        # The job queue_import queued, which run_import (called directly) has made a no-op.
        from procrastinate.contrib.django.models import ProcrastinateJob

        jobs = ProcrastinateJob.objects.filter(task_name="imports.import_board", args__job_id=job.pk)
        jobs._raw_delete(jobs.db)
        application.delete()
        owner.delete()
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    report = "\n".join(
        [
            f"Importing a generated Trello export of {cards:,} cards (bench/imports.py): wall seconds.",
            f"interpreter: {sys.executable} — Python {platform.python_version()} ({platform.python_implementation()})",
            f"machine: {platform.machine()}, {os.cpu_count()} cores, load average at the end {load} (a shared machine)",
            f"file: {len(text) / 1024 / 1024:.1f} MB, {len(board.columns)} columns, {len(board.labels)} labels, "
            f"{board.checklists:,} checklist items, {board.comments:,} comments, "
            f"{board.archived_cards:,} archived cards",
            "",
            f"upload check (parse and validate):          {parse_s:8.2f} s",
            f"preview confirmation (parse again, queue):  {queue_s:8.2f} s",
            f"import job (one transaction):               {import_s:8.2f} s",
            f"  CPU spent on it: {import_cpu:.2f} s in this process, "
            + (f"{db_cpu:.2f} s in its PostgreSQL backend" if db_cpu is not None else "PostgreSQL's not measured")
            + " (what an idle machine would need, about)",
            f"cards stored: {stored:,}; counts equal a recount: {'yes' if exact else 'NO'}; "
            "recalc_aggregates --check: passed",
            "",
        ]
    )
    out.write_text(report)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
    import django

    django.setup()
    print(run(args.cards, args.out), end="")


if __name__ == "__main__":
    main()
