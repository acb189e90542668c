"""python -m bench.million [--cards N] [--reuse]: one project of N cards (default 1,000,000).

Builds, with set-based SQL, one project of N dressed cards (three labels, a priority, a due date,
checklist progress, comment and attachment counts on every face; titles of 3 to 6 words from
bench.search's vocabulary, a tenth with a description; 1 in 50 archived) and a year of history:
each card's `created` event and its moves through todo -> active -> review -> done (10% stay in
todo, 10% in active, 10% in review, 70% reach done), an `archived` event for the archived ones,
the daily snapshots of every day but the last week, the counts row and the card numbers. The
build runs once; --reuse measures the data already there (a second run takes minutes less).

Then measures, each side by side with its baseline in the same run, turn by turn:
- board: the board page (GET, test client, logged in) against the predecessor's every-card board
  (bench/naive.py board);
- first task: the first write to the project with its counts row missing (one GROUP BY) against
  the audit's load-every-task recount (bench/naive.py audit_first_task);
- recalc: `recalc_aggregates --project ID` (and --check) against the per-project loop of
  bench/recalc.py;
- search: boards.search.search_cards against bench/search.py's ILIKE baseline;
- insights: the insights page's first view (no cached metrics) against the same figures computed
  in Python from the events and cards loaded (bench/naive.py insights).
Baselines that take seconds at a million run once (the table says how many times each ran).
Results in bench/results/million.txt (with --out DIR, DIR/million.txt).
"""

import argparse
import os
import platform
import sys
import time
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
KEY = "M"  # the project's key: M1

TARGETS = {  # measurement: (target in ms, what)
    "board": (100, "board page p50 under 100 ms"),
    "first_task": (1000, "first task with no counts row under 1 s"),
    "recalc": (2000, "recalc of that project under 2 s"),
    "search": (50, "search by word p50 under 50 ms"),
    "insights": (500, "insights first view under 500 ms"),
}

LIFE_SQL = """
CREATE TEMP TABLE life AS
SELECT g, created, stage, t1, t2, t3, g %% 50 = 49 AS archived,
       (CASE stage WHEN 0 THEN created WHEN 1 THEN t1 WHEN 2 THEN t2 ELSE t3 END) AS last
FROM (
    SELECT g, c AS created,
           CASE WHEN r < 0.1 THEN 0 WHEN r < 0.2 THEN 1 WHEN r < 0.3 THEN 2 ELSE 3 END AS stage,
           c + interval '1 day' * a AS t1, c + interval '1 day' * (a + b) AS t2,
           c + interval '1 day' * (a + b + d) AS t3
    FROM (SELECT g, now() - interval '1 day' * (12 + random() * 353) AS c, random() AS r,
                 random() * 5 AS a, random() * 4 AS b, random() * 3 AS d
          FROM generate_series(1, %(n)s) g) s
) l
"""

STAGES = "(ARRAY['todo', 'active', 'review', 'done'])"

TASKS_SQL = """
INSERT INTO boards_task (project_id, task_status_id, title, description, assignee_id, reporter_id, position,
                         archived_at, created_at, updated_at, version, number, {face_columns})
SELECT %(p)s, s.id,
       (SELECT string_agg({pick}, ' ') FROM generate_series(1, 3 + l.g %% 4) w(i) WHERE l.g > 0)
       || CASE WHEN l.g %% 50000 = 0 THEN ' ' || (%(rare)s::text[])[1 + (l.g / 50000) %% 200] ELSE '' END,
       CASE WHEN l.g %% 10 = 0
            THEN (SELECT string_agg({pick}, ' ') FROM generate_series(1, 20) w(i) WHERE l.g > 0) ELSE '' END,
       CASE WHEN l.g %% 3 = 0 THEN %(user)s END, %(user)s, l.g * 1024.0,
       CASE WHEN l.archived THEN l.last + interval '1 hour' END, l.created, l.last, 1, l.g,
       {face_values}
FROM life l
JOIN boards_taskstatus s ON s.project_id = %(p)s AND s.category = {stages}[l.stage + 1]
CROSS JOIN ({label_ids}) lab
"""

EVENTS_SQL = """
WITH cols AS (SELECT category, jsonb_build_object('id', id, 'name', name, 'category', category) AS col
              FROM boards_taskstatus WHERE project_id = %(p)s),
ev AS (
    SELECT g, created AS at, 0 AS step, 'created' AS kind, NULL AS src, 'todo' AS dst,
           NULL::timestamptz AS started FROM life
    UNION ALL SELECT g, t1, 1, 'moved', 'todo', 'active', NULL FROM life WHERE stage >= 1
    UNION ALL SELECT g, t2, 2, 'moved', 'active', 'review', NULL FROM life WHERE stage >= 2
    UNION ALL SELECT g, t3, 3, 'moved', 'review', 'done', t1 FROM life WHERE stage >= 3
    UNION ALL SELECT g, last + interval '1 hour', 4, 'archived', {stages}[stage + 1], NULL, NULL
              FROM life WHERE archived
)
INSERT INTO boards_taskevent (project_id, seq, task_id, task_title, at, kind, from_category, to_category,
                              task_count, started_at, task_created_at, data)
SELECT %(p)s, row_number() OVER (ORDER BY e.at, e.g, e.step), t.id, left(t.title, 200), e.at, e.kind, e.src, e.dst,
       1, e.started, CASE WHEN e.dst = 'done' THEN t.created_at END,
       CASE e.kind WHEN 'created' THEN jsonb_build_object('to', c.col)
                   WHEN 'moved' THEN jsonb_build_object('from', f.col, 'to', c.col)
                   ELSE jsonb_build_object('column', f.col) END
FROM ev e
JOIN boards_task t ON t.project_id = %(p)s AND t.number = e.g
LEFT JOIN cols f ON f.category = e.src
LEFT JOIN cols c ON c.category = e.dst
"""


def configure() -> None:
    from bench.search import configure as configure_search

    configure_search()


@contextmanager
def indexes_dropped(cursor, table: str):
    """The table's indexes (bar its primary key and constraints) dropped for a bulk load and built
    again after it: one build is much faster than a million inserts into each."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        [table],
    )
    definitions = cursor.fetchall()
    for name, _ in definitions:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    cursor.execute("SET maintenance_work_mem = '256MB'")
    for _, definition in definitions:
        cursor.execute(definition)


def build(cards: int) -> dict:
    """The project, its cards, history, snapshots and counts row. Returns what the measurements need."""
    from django.db import connection
    from django.utils import timezone

    from bench import data
    from bench.search import RARE, WORDS
    from boards import insights
    from boards.models import CardNumberSequence, Project, ProjectDailySnapshot, Task, TaskEvent

    started = time.perf_counter()
    data.reset()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE boards_comment, boards_keyredirect, boards_projectsequence, boards_taskevent, "
            f"boards_projectdailysnapshot, {CardNumberSequence._meta.db_table} RESTART IDENTITY CASCADE"
        )
    user = data.bench_user()
    application = data.make_application(user, "Million")
    project_id = data.build_projects(application, projects=1, tasks_per_project=0, reporter=user, prefix=KEY)[0]
    data.make_labels([project_id])
    task_table, event_table = Task._meta.db_table, TaskEvent._meta.db_table
    pick = f"(%(words)s::text[])[1 + floor(power(random(), 2) * {len(WORDS)})::int]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CardNumberSequence._meta.db_table} SET last_number = %s WHERE project_id = %s",
            [cards, project_id],
        )
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(LIFE_SQL, {"n": cards})
        with indexes_dropped(cursor, task_table):
            cursor.execute(
                TASKS_SQL.format(
                    face_columns=data.FACE_COLUMNS,
                    face_values=data.face_values("l.g", "lab.ids"),
                    pick=pick,
                    stages=STAGES,
                    label_ids=data.LABEL_IDS_SQL.replace("%s", "ARRAY[%(p)s]"),
                ),
                {"p": project_id, "words": WORDS, "rare": RARE, "user": user.pk},
            )
        print(f"  cards written in {time.perf_counter() - started:.0f} s", flush=True)
        with indexes_dropped(cursor, event_table):
            cursor.execute(EVENTS_SQL.format(stages=STAGES), {"p": project_id})
        cursor.execute(
            "INSERT INTO boards_projectsequence (project_id, last_seq) "
            f"SELECT %(p)s, coalesce(max(seq), 0) FROM {event_table} WHERE project_id = %(p)s "
            "ON CONFLICT (project_id) DO UPDATE SET last_seq = EXCLUDED.last_seq",
            {"p": project_id},
        )
        cursor.execute("DROP TABLE life")
        print(f"  history written in {time.perf_counter() - started:.0f} s", flush=True)
        cursor.execute(f"VACUUM ANALYZE {task_table}")
        cursor.execute(f"VACUUM ANALYZE {event_table}")
    data.fill_aggregates([project_id])
    data.analyze()
    # The daily snapshots the nightly command would have left, for every day of the year but the last week.
    project = Project.objects.select_related("status_aggregation").get(pk=project_id)
    today, now = timezone.localdate(), timezone.now()
    ProjectDailySnapshot.objects.bulk_create(
        ProjectDailySnapshot(project=project, date=day, taken_at=now, **{f"{c}_tasks": v for c, v in counts.items()})
        for day, counts in insights.cumulative_flow(project, insights.MAX_DAYS)
        if (today - day).days >= 7
    )
    return {"user": user, "project_id": project_id, "build_s": time.perf_counter() - started}


def existing(cards: int) -> dict | None:
    """The project an earlier build left, if it holds `cards` cards."""
    from bench import data
    from boards.models import Project, Task

    project = Project.objects.filter(key=f"{KEY}1", name=f"Bench {KEY} 1").first()
    if project is None or Task.objects.filter(project=project).count() != cards:
        return None
    return {"user": data.bench_user(), "project_id": project.pk, "build_s": 0.0}


def describe(project_id: int) -> dict:
    from django.db.models import Count, Q

    from boards.models import ProjectDailySnapshot, Task, TaskEvent

    cards = Task.objects.filter(project_id=project_id).aggregate(
        n=Count("pk"), live=Count("pk", filter=Q(archived_at__isnull=True))
    )
    return {
        "cards": cards["n"],
        "live": cards["live"],
        "events": TaskEvent.objects.filter(project_id=project_id).count(),
        "snapshots": ProjectDailySnapshot.objects.filter(project_id=project_id).count(),
    }


# -- the measurements ---------------------------------------------------------------------------


def _get(client, url: str) -> tuple[float, object]:
    from bench.harness import clock, since

    start = clock()
    response = client.get(url)
    elapsed = since(start)
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    return elapsed, response


def _queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def measure_board(client, project_id: int, reps: int, naive_reps: int) -> dict:
    from django.test import override_settings
    from django.urls import reverse

    from bench.harness import interleave, summary

    with override_settings(ROOT_URLCONF="bench.urls"):
        ours_url = reverse("board", args=[project_id])
        naive_url = reverse("bench_naive_board", args=[project_id])
        _get(client, ours_url)  # templates and connection warm, as on a running server
        html = _get(client, ours_url)[1].content.decode()
        # Every card on the page wears the full face.
        assert html.count('class="card"') > 0 and html.count("label label-") >= 3 * html.count('class="card"')
        variants = {"ours": lambda: _get(client, ours_url)[0]}
        counts = {"ours": reps}
        if naive_reps:
            variants["naive"] = lambda: _get(client, naive_url)[0]
            counts["naive"] = naive_reps
        samples = interleave(variants, counts)
        queries = _queries(client, ours_url)
        naive_queries = _queries(client, naive_url) if naive_reps and naive_reps > 1 else None
    return {
        "stats": {name: summary(values) for name, values in samples.items()},
        "queries": queries,
        "naive_queries": naive_queries,
        "page_kb": len(html) / 1024,
    }


def _undo_tasks(project_id: int, task_ids: list[int], last_seq: int) -> None:
    """Take back what a measured write left: its cards, their events and the sequence number."""
    from django.db import connection

    from bench import data

    data.delete_tasks(task_ids)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM boards_taskevent WHERE project_id = %s AND seq > %s", [project_id, last_seq])
        cursor.execute("UPDATE boards_projectsequence SET last_seq = %s WHERE project_id = %s", [last_seq, project_id])


def measure_first_task(user, project_id: int, reps: int, naive_reps: int) -> dict:
    from django.core.cache import cache

    from aggregates import counts
    from bench import data, naive
    from bench.harness import clock, interleave, since, summary
    from boards import history, services
    from boards.models import Project

    project = Project.objects.get(pk=project_id)
    status_id = data.columns_of(project_id)[0].pk
    expected = counts.count_live_tasks([project_id])[project_id]
    key = counts.INIT_KEY.format(project_id=project_id)
    last_seq = history.current_seq(project_id)

    def first_task(audit: bool = False) -> float:
        data.drop_aggregate(project_id)
        cache.delete(key)
        start = clock()
        if audit:
            task = naive.audit_first_task(project=project, status_id=status_id, reporter=user)
        else:
            task = services.create_task(project=project, status_id=status_id, title="First", reporter=user)
        elapsed = since(start)
        row = counts.ProjectTaskStatusAgg.objects.get(pk=project_id).as_counts()
        assert row == {**expected, "todo": expected["todo"] + 1}, f"wrong counts after the first task: {row}"
        _undo_tasks(project_id, [task.pk], last_seq)
        return elapsed

    variants, counts_ = {"ours": first_task}, {"ours": reps}
    if naive_reps:
        variants["naive"], counts_["naive"] = (lambda: first_task(audit=True)), naive_reps
    try:
        samples = interleave(variants, counts_)
    finally:
        data.fill_aggregates([project_id])  # leave the project as it should be
    return {"stats": {name: summary(values) for name, values in samples.items()}}


def measure_recalc(project_id: int, reps: int) -> dict:
    from contextlib import suppress
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django.db import connection

    from aggregates.counts import count_live_tasks
    from aggregates.models import COUNT_FIELDS, ProjectTaskStatusAgg
    from bench import recalc as bench_recalc
    from bench.harness import clock, interleave, since, summary

    def damage() -> None:
        with connection.cursor() as cursor:
            zero = ", ".join(f"{field} = 0" for field in ["total_tasks", *COUNT_FIELDS.values()])
            cursor.execute(
                f"UPDATE {ProjectTaskStatusAgg._meta.db_table} SET {zero} WHERE project_id = %s", [project_id]
            )

    def command(*args) -> float:
        start = clock()
        with suppress(SystemExit, CommandError):  # --check reports drift by failing
            call_command("recalc_aggregates", "--project", str(project_id), *args, stdout=StringIO(), stderr=StringIO())
        return since(start)

    def rebuild() -> float:
        damage()
        return command()

    def naive_rebuild() -> float:
        damage()
        start = clock()
        bench_recalc.naive_recalc([project_id], check=False)
        return since(start)

    def naive_check() -> float:
        start = clock()
        bench_recalc.naive_recalc([project_id], check=True)
        return since(start)

    samples = interleave(
        {"ours": rebuild, "ours check": lambda: command("--check"), "naive": naive_rebuild, "naive check": naive_check},
        reps,
    )
    damage()
    command()
    stored = ProjectTaskStatusAgg.objects.get(pk=project_id).as_counts()
    assert stored == count_live_tasks([project_id])[project_id], "recalc_aggregates left a row off a recount"
    return {"stats": {name: summary(values) for name, values in samples.items()}}


def measure_search(user, reps: int, naive_reps: int) -> dict:
    from bench import search as bench_search
    from bench.harness import clock, interleave, since, summary
    from boards import search
    from boards.models import Task

    words = bench_search.WORDS
    rare = Task.objects.filter(title__contains="zq").values_list("title", flat=True).first()
    rare_word = rare.split()[-1] if rare else bench_search.RARE[3]
    queries = [
        ("common word", words[0], words[0]),
        ("mid word", words[25], words[25]),
        ("two words", f"{words[3]} {words[8]}", words[3]),
        ("phrase", f'"{words[0]} {words[1]}"', f"{words[0]} {words[1]}"),
        ("rare word", rare_word, rare_word),
        ("no match", "nosuchwordanywhere", "nosuchwordanywhere"),
        ("key", f"{KEY.lower()}1-1234", f"{KEY.lower()}1-1234"),
    ]
    rows = []
    for label, q, plain in queries:
        results = search.search_cards(user, q)

        def ours(q=q):
            start = clock()
            search.search_cards(user, q)
            return since(start)

        def naive(plain=plain):
            start = clock()
            bench_search.naive(user, plain)
            return since(start)

        variants, counts = {"ours": ours}, {"ours": reps}
        if naive_reps:
            variants["naive"], counts["naive"] = naive, naive_reps
        samples = interleave(variants, counts)
        found = f"{search.CANDIDATES:,}+" if results.more else str(results.count)
        rows.append({"label": label, "q": q, "found": found, **{k: summary(v) for k, v in samples.items()}})
    return {"rows": rows}


def measure_insights(client, project_id: int, reps: int, naive_reps: int) -> dict:
    from django.core.cache import cache
    from django.urls import reverse
    from django.utils import timezone

    from bench import naive
    from bench.harness import clock, interleave, since, summary
    from boards.models import Project

    url = reverse("project_insights", args=[project_id])
    project = Project.objects.select_related("status_aggregation").get(pk=project_id)

    def first_view() -> float:
        cache.clear()  # no cached metrics: the first view after the data was written
        return _get(client, url)[0]

    def warm() -> float:
        return _get(client, url)[0]

    def baseline() -> float:
        start = clock()
        naive.insights(project, 30, now=timezone.now())
        return since(start)

    variants, counts = {"ours": first_view, "warm": warm}, {"ours": reps, "warm": reps}
    if naive_reps:
        variants["naive"], counts["naive"] = baseline, naive_reps
    samples = interleave(variants, counts)
    cache.clear()
    queries = _queries(client, url)
    return {"stats": {name: summary(values) for name, values in samples.items()}, "queries": queries}


# -- the report ---------------------------------------------------------------------------------


def _ms(value: float) -> str:
    from bench.harness import ms

    return ms(value)


def report(meta: dict, figures: dict) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    shape = meta["shape"]
    lines = [
        f"{meta['command']}  at {meta['started']}",
        f"interpreter: {sys.executable} (Python {platform.python_version()}); PostgreSQL {server}; "
        f"{os.cpu_count()} cores; load average at the start {meta['load_start']}, at the end "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"data: one project of {shape['cards']:,} cards ({shape['live']:,} live), {shape['events']:,} events over a "
        f"year, {shape['snapshots']} daily snapshots; "
        + (f"built in {meta['build_s']:.0f} s" if meta["build_s"] else "built by an earlier run (--reuse)"),
        "",
        f"{'measurement':34} {'ours p50':>9} {'p95':>8} {'n':>3} {'baseline p50':>13} {'n':>3} {'ratio':>7} "
        f"{'target':>8}  met",
    ]
    checks = []

    def row(label, ours, naive, target_ms=None):
        base = (
            f"{_ms(naive['median']):>13} {naive['n']:>3} {naive['median'] / ours['median']:>6.1f}x"
            if naive
            else (f"{'-':>13} {'':>3} {'':>7}")
        )
        met = "" if target_ms is None else ("yes" if ours["median"] < target_ms else "NO")
        target = "" if target_ms is None else f"< {target_ms:,}"
        lines.append(
            f"{label:34} {_ms(ours['median']):>9} {_ms(ours['p95']):>8} {ours['n']:>3} {base} {target:>8}  {met}"
        )

    if "board" in figures:
        f = figures["board"]
        row("board page", f["stats"]["ours"], f["stats"].get("naive"), TARGETS["board"][0])
        checks.append(("board", f["stats"]["ours"]["median"]))
    if "first_task" in figures:
        f = figures["first_task"]
        row("first task, no counts row", f["stats"]["ours"], f["stats"].get("naive"), TARGETS["first_task"][0])
        checks.append(("first_task", f["stats"]["ours"]["median"]))
    if "recalc" in figures:
        f = figures["recalc"]["stats"]
        row("recalc_aggregates --project", f["ours"], f["naive"], TARGETS["recalc"][0])
        row("recalc_aggregates --project --check", f["ours check"], f["naive check"], TARGETS["recalc"][0])
        checks.append(("recalc", max(f["ours"]["median"], f["ours check"]["median"])))
    if "insights" in figures:
        f = figures["insights"]["stats"]
        row("insights, first view (30 days)", f["ours"], f.get("naive"), TARGETS["insights"][0])
        row("insights, cached metrics", f["warm"], None)
        checks.append(("insights", f["ours"]["median"]))
    if "search" in figures:
        for r in figures["search"]["rows"]:
            row(f"search: {r['label']} ({r['found']})", r["ours"], r.get("naive"), TARGETS["search"][0])
        checks.append(("search", max(r["ours"]["median"] for r in figures["search"]["rows"])))
    lines += ["", "targets:"]
    for name, worst in checks:
        target, what = TARGETS[name]
        lines.append(f"- {what}: {'met' if worst < target else 'NOT met'} ({_ms(worst)} ms)")
    lines += [""]
    if "board" in figures:
        f = figures["board"]
        lines.append(
            f"board: {f['queries']} queries, {f['page_kb']:,.0f} KB; the baseline (every live card with its status, "
            f"assignee and reporter, rendered) "
            + (f"{f['naive_queries']} queries." if f["naive_queries"] else "ran once.")
        )
    if "insights" in figures:
        lines.append(f"insights first view: {figures['insights']['queries']} queries.")
    lines += [
        "",
        "Times in ms: p50 the median of the runs, n how many ran; ours and its baseline interleaved turn by turn.",
        "board: GET /projects/<id>/ through the test client (logged in, full middleware, DEBUG off); baseline",
        "bench/naive.py board, every live card loaded and rendered. first task: services.create_task in a project",
        "whose counts row is missing and not cached (the bootstrap's GROUP BY), committed; baseline the audit's",
        "recount (every live card loaded with its column, counted in Python). recalc: call_command",
        "recalc_aggregates --project ID after zeroing the row (and --check); baseline bench/recalc.py's loop,",
        "one GROUP BY per project (here one). search: boards.search.search_cards over the project; baseline",
        "bench/search.py's ILIKE with an exact count. insights: GET /projects/<id>/insights/ (30 days) with",
        "the cache emptied first (first view) and again with the metrics cached; baseline bench/naive.py",
        "insights: the same figures computed in Python from the range's events and the open cards, loaded.",
    ]
    return "\n".join(lines) + "\n"


def run(args) -> str:
    """Build (or reuse) the data, measure, write million.txt; returns the report."""
    from django.test import Client

    load_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    built = existing(args.cards) if args.reuse else None
    if built is None:
        print(f"building {args.cards:,} cards…", flush=True)
        built = build(args.cards)
        print(f"built in {built['build_s']:.0f} s", flush=True)
    user, project_id = built["user"], built["project_id"]
    client = Client()
    client.force_login(user)
    once = 1 if args.cards >= 100_000 else 2  # the baselines that take seconds each at this size
    figures = {}
    only = set(args.only or ["board", "first_task", "recalc", "search", "insights"])
    # Insights first: the first request after the data is written.
    steps = [
        ("insights", lambda: measure_insights(client, project_id, args.reps, once)),
        ("board", lambda: measure_board(client, project_id, args.reps, 0 if args.skip_naive_board else once)),
        ("first_task", lambda: measure_first_task(user, project_id, max(3, args.reps // 3), once)),
        ("recalc", lambda: measure_recalc(project_id, max(2, min(5, args.reps // 3)))),
        ("search", lambda: measure_search(user, args.reps, once)),
    ]
    for name, step in steps:
        if name in only:
            t0 = time.perf_counter()
            figures[name] = step()
            print(f"  {name} measured in {time.perf_counter() - t0:.0f} s", flush=True)
    command = f"python -m bench.million --cards {args.cards} --reps {args.reps}" + (" --reuse" if args.reuse else "")
    meta = {
        "command": command,
        "started": started,
        "load_start": load_start,
        "build_s": built["build_s"],
        "shape": describe(project_id),
    }
    text = report(meta, figures)
    out = args.out / "million.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + features_appendix(args.out))
    return text


def features_appendix(out: Path) -> str:
    """Item 6's summary (bench/results/features.txt), appended when it exists."""
    path = out / "features.txt"
    return "\n" + path.read_text() if path.exists() else ""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.million", description=__doc__.splitlines()[0])
    p.add_argument("--cards", type=int, default=1_000_000)
    p.add_argument("--reps", type=int, default=15, help="runs of each fast measurement")
    p.add_argument("--reuse", action="store_true", help="measure the project an earlier run built, if it is there")
    p.add_argument("--skip-naive-board", action="store_true", help="leave out the every-card board (GBs at 1M)")
    p.add_argument("--only", action="append", choices=list(TARGETS), help="only these measurements")
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for million.txt")
    return p


def main() -> None:
    args = parser().parse_args()
    configure()
    print(run(args))


if __name__ == "__main__":
    main()
