"""Time the insights page on a project of 100,000 cards with a year of history.

    env -u REDIS_URL DATABASE_URL=postgres://…/tasktrack_bench python bench/insights.py [--tasks 100000]

Seeds one project (cards through boards.services.bulk_create_tasks, so the `created` events are
the real ones; the year of moves is then written with set-based SQL, the counts row recounted and
the daily snapshots filled, leaving the last week to be rebuilt from the log), then renders
/projects/<id>/insights/ through the Django test client and reports the median of the runs.
Writes bench/results/insights.txt (with --out DIR, DIR/insights.txt). Uses the database it is given:
never point it at real data.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from boards import insights, services  # noqa: E402
from boards.models import Membership, Project, ProjectDailySnapshot, Task, TaskEvent  # noqa: E402
from tests.factories import ApplicationFactory, MembershipFactory  # noqa: E402

LIFE_SQL = """
CREATE TEMP TABLE life AS
SELECT id, created,
       CASE WHEN r < 0.1 THEN 0 WHEN r < 0.2 THEN 1 WHEN r < 0.3 THEN 2 ELSE 3 END AS stage,
       created + interval '1 day' * (random() * 5) AS t1
FROM (SELECT id, now() - interval '1 day' * (12 + random() * 353) AS created, random() AS r
      FROM boards_task WHERE project_id = %(p)s) s;
ALTER TABLE life ADD COLUMN t2 timestamptz, ADD COLUMN t3 timestamptz;
UPDATE life SET t2 = t1 + interval '1 day' * (random() * 4);
UPDATE life SET t3 = t2 + interval '1 day' * (random() * 3);
"""

MOVES_SQL = """
WITH cols AS (SELECT category, id, name FROM boards_taskstatus WHERE project_id = %(p)s),
moves AS (
    SELECT l.id, l.t1 AS at, 'todo' AS src, 'active' AS dst, NULL::timestamptz AS started FROM life l WHERE stage >= 1
    UNION ALL SELECT l.id, l.t2, 'active', 'review', NULL FROM life l WHERE stage >= 2
    UNION ALL SELECT l.id, l.t3, 'review', 'done', l.t1 FROM life l WHERE stage >= 3
)
INSERT INTO boards_taskevent (project_id, seq, task_id, task_title, at, kind, from_category, to_category,
                              task_count, started_at, task_created_at, data)
SELECT %(p)s, -1000000000 - row_number() OVER (ORDER BY m.at, m.id), m.id, 'Card', m.at, 'moved', m.src, m.dst, 1,
       m.started, CASE WHEN m.dst = 'done' THEN l.created END,
       jsonb_build_object('from', jsonb_build_object('id', f.id, 'name', f.name, 'category', f.category),
                          'to', jsonb_build_object('id', t.id, 'name', t.name, 'category', t.category))
FROM moves m JOIN life l ON l.id = m.id JOIN cols f ON f.category = m.src JOIN cols t ON t.category = m.dst
"""

FINISH_SQL = """
UPDATE boards_taskevent e SET at = l.created FROM life l WHERE e.task_id = l.id AND e.kind = 'created';
UPDATE boards_task t SET created_at = l.created, updated_at = l.created FROM life l WHERE t.id = l.id;
UPDATE boards_task t SET task_status_id = s.id
FROM life l, boards_taskstatus s
WHERE t.id = l.id AND s.project_id = %(p)s
  AND s.category = (ARRAY['todo', 'active', 'review', 'done'])[l.stage + 1];
UPDATE boards_taskevent SET seq = -seq WHERE project_id = %(p)s AND seq > 0;
UPDATE boards_taskevent e SET seq = n.rn
FROM (SELECT id, row_number() OVER (ORDER BY at, id) AS rn FROM boards_taskevent WHERE project_id = %(p)s) n
WHERE e.id = n.id;
UPDATE boards_projectsequence SET last_seq = (SELECT max(seq) FROM boards_taskevent WHERE project_id = %(p)s)
WHERE project_id = %(p)s;
UPDATE aggregates_projecttaskstatusagg a SET
    todo_tasks = c.todo, active_tasks = c.active, review_tasks = c.review, issue_tasks = 0, done_tasks = c.done,
    total_tasks = c.todo + c.active + c.review + c.done
FROM (SELECT count(*) FILTER (WHERE stage = 0) AS todo, count(*) FILTER (WHERE stage = 1) AS active,
             count(*) FILTER (WHERE stage = 2) AS review, count(*) FILTER (WHERE stage = 3) AS done
      FROM life) c
WHERE a.project_id = %(p)s;
DROP TABLE life;
"""


def seed(n_tasks: int) -> tuple[Project, object]:
    application = ApplicationFactory(name="Bench")
    user = MembershipFactory(application=application, role=Membership.Role.VIEWER).user
    project = services.create_project(application=application, name="Big board", key="BIG")
    todo = project.task_statuses.get(category="todo")
    started = time.perf_counter()
    services.bulk_create_tasks(
        project=project,
        tasks=[Task(task_status_id=todo.pk, title=f"Card {n}", position=n) for n in range(n_tasks)],
        actor=user,
    )
    print(f"bulk_create_tasks with {n_tasks} created events: {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute(LIFE_SQL, {"p": project.pk})
        cursor.execute(MOVES_SQL, {"p": project.pk})
        cursor.execute(FINISH_SQL, {"p": project.pk})
        cursor.execute("VACUUM ANALYZE boards_task")
        cursor.execute("VACUUM ANALYZE boards_taskevent")
    # Snapshots for every day of the year but the last week, as the daily command would have
    # left them; built here from the log itself.
    project = Project.objects.select_related("status_aggregation").get(pk=project.pk)
    today = timezone.localdate()
    now = timezone.now()
    ProjectDailySnapshot.objects.bulk_create(
        ProjectDailySnapshot(project=project, date=day, taken_at=now, **{f"{c}_tasks": v for c, v in counts.items()})
        for day, counts in insights.cumulative_flow(project, 365)
        if (today - day).days >= 7
    )
    return project, user


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="directory for insights.txt")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    project = Project.objects.filter(key="BIG").first()
    if project and project.tasks.count() == args.tasks:  # seeded by an earlier run
        user = Membership.objects.filter(application=project.application).first().user
    else:
        project, user = seed(args.tasks)
    events = TaskEvent.objects.filter(project=project).count()
    client = Client()
    client.force_login(user)
    lines = [f"project: {args.tasks} cards, {events} events over a year, snapshots for all but the last 7 days"]
    for days in (30, 90, 365):
        url = f"/projects/{project.pk}/insights/?days={days}"
        assert client.get(url).status_code == 200  # warm the connection and the templates
        for label, clear in (("cold (metrics computed)", True), ("warm (metrics cached)", False)):
            timings = []
            for _ in range(args.runs):
                if clear:
                    cache.clear()  # run without REDIS_URL: the in-process cache
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            if clear:
                cache.clear()
            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            per_query = ", ".join(
                f"{float(q['time']) * 1000:.0f} ms {' '.join(q['sql'].split())[:24]}…" for q in ctx.captured_queries
            )
            lines.append(
                f"days={days} {label}: median {statistics.median(timings):.0f} ms, min {min(timings):.0f} ms, "
                f"max {max(timings):.0f} ms over {args.runs} runs; {len(ctx.captured_queries)} queries: {per_query}"
            )
    lines.append(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    report = "\n".join(lines)
    print(report)
    out = args.out / "insights.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")


if __name__ == "__main__":
    main()
