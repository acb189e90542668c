"""python -m bench.search [--cards N]: the search box over N cards (default 1,000,000).

Builds N cards in a database of its own (DATABASE_URL's name + `_bench`, as bench.run): most in
the bench user's workspace, a tenth in a workspace they are not in; titles of 3 to 6 words from a
skewed vocabulary (a few words are in a large part of the cards, most are rare), a third of the
cards with a description, one in ten with comments. Then measures, for a few typical queries, the
p50 of boards.search.search_cards (every query the search view runs for its results) side by side
with a naive baseline in the same run, turn by turn: ILIKE over title and description (and
comments), newest first, with an exact count. Also the whole view through the test client once
per query for its time. Results in bench/results/search.txt.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "search.txt"

WORDS = (  # noqa: SIM905 - a paragraph reads better than 150 quoted words
    "login page checkout payment invoice deploy database server cache queue worker email "
    "report export import dashboard chart filter search index migration schema backup restore "
    "upload download image thumbnail avatar profile account password session token timeout retry "
    "error warning crash memory leak latency throughput release version build pipeline test "
    "flaky browser mobile tablet layout button dialog modal tooltip keyboard shortcut focus "
    "contrast theme dark light font icon logo banner footer header sidebar menu navigation link "
    "redirect permission role owner editor viewer invite member team workspace project board "
    "column card label priority deadline estimate sprint backlog roadmap milestone feedback "
    "customer support ticket refund subscription plan billing tax currency locale translation "
    "timezone calendar reminder notification webhook integration slack github api endpoint "
    "request response header cookie cors proxy certificate domain dns firewall monitoring alert "
    "metric log trace span sampling storage bucket quota limit throttle spam captcha audit policy"
).split()
# Rare words: each in about one card in 50,000.
RARE = [f"zq{n}rare" for n in range(200)]


def configure() -> None:
    from bench.run import setup_standalone

    setup_standalone()


def build(cards: int) -> dict:
    """The cards, comments and indexes; returns what the measurements need."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench import data
    from boards.models import CardNumberSequence, Comment, Task

    data.reset()
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE boards_comment, boards_keyredirect, boards_projectsequence, {CardNumberSequence._meta.db_table} "
            "RESTART IDENTITY CASCADE"
        )
    user = data.bench_user()
    ours = data.make_application(user, "Bench workspace")
    other_user, _ = get_user_model().objects.get_or_create(username="bench-other")
    others = data.make_application(other_user, "Not the bench user's")
    per_project = 10_000
    projects = max(1, cards // per_project)
    theirs = max(1, projects // 10)
    ids = data.build_projects(ours, projects=projects - theirs, tasks_per_project=0, reporter=user, prefix="B")
    ids += data.build_projects(others, projects=theirs, tasks_per_project=0, reporter=user, prefix="X")
    started = time.perf_counter()
    task_table, comment_table = Task._meta.db_table, Comment._meta.db_table
    vocabulary = WORDS
    with connection.cursor() as cursor:
        # Index after the load: building a GIN index once is much faster than a million inserts into it.
        cursor.execute("DROP INDEX IF EXISTS task_search")
        cursor.execute("DROP INDEX IF EXISTS comment_search")
        cursor.execute("SELECT setseed(0.42)")
        # power(random(), 2): the first words of the vocabulary are in many cards, the last in few.
        pick = f"(%(words)s::text[])[1 + floor(power(random(), 2) * {len(vocabulary)})::int]"
        cursor.execute(
            f"INSERT INTO {task_table} (project_id, task_status_id, title, description, assignee_id, reporter_id, "
            "position, archived_at, created_at, updated_at, version, number) "
            "SELECT s.project_id, s.id, "
            f"  (SELECT string_agg({pick}, ' ') FROM generate_series(1, 3 + (g.n + s.id) %% 4) w(i) "
            "    WHERE w.i > 0 AND g.n >= 0) "
            "  || CASE WHEN (g.n * 7919 + s.id) %% 50000 = 0 "
            "     THEN ' ' || (%(rare)s::text[])[1 + g.n %% 200] ELSE '' END, "
            "  CASE WHEN g.n %% 3 = 0 THEN "
            f"    (SELECT string_agg({pick}, ' ') FROM generate_series(1, 20 + g.n %% 40) w(i) WHERE g.n >= 0) "
            "  ELSE '' END, "
            "  CASE WHEN g.n %% 3 = 0 THEN %(user)s END, %(user)s, g.n * 1024.0, "
            "  CASE WHEN g.n %% 50 = 49 THEN now() END, now() - (g.n || ' seconds')::interval, now(), 1, "
            "  g.n * 5 + s.position + 1 "
            "FROM boards_taskstatus s CROSS JOIN LATERAL generate_series(0, %(per_column)s - 1) g(n) "
            "WHERE s.project_id = ANY(%(ids)s)",
            {
                "words": vocabulary,
                "rare": RARE,
                "user": user.pk,
                "per_column": per_project // 5,
                "ids": ids,
            },
        )
        cursor.execute(
            f"INSERT INTO {comment_table} (task_id, author_id, body, body_html, created_at) "
            f"SELECT t.id, %(user)s, (SELECT string_agg({pick}, ' ') FROM generate_series(1, 10 + c.k * 7) w(i) "
            "  WHERE t.id > 0) || CASE WHEN t.id %% 40000 = 11 THEN ' zqcommentonly' ELSE '' END, '', now() "
            f"FROM {task_table} t CROSS JOIN LATERAL generate_series(1, 1 + t.id %% 3) c(k) WHERE t.id %% 10 = 1",
            {"words": vocabulary, "user": user.pk},
        )
        cursor.execute(
            f"UPDATE {task_table} t SET comment_count = c.n FROM (SELECT task_id, count(*) n FROM {comment_table} "
            "GROUP BY task_id) c WHERE c.task_id = t.id"
        )
        cursor.execute(
            f"INSERT INTO {CardNumberSequence._meta.db_table} (project_id, last_number) "
            "SELECT p, %s FROM unnest(%s::int[]) p "
            "ON CONFLICT (project_id) DO UPDATE SET last_number = EXCLUDED.last_number",
            [per_project, ids],
        )
        cursor.execute(f"CREATE INDEX task_search ON {task_table} USING gin (search)")
        cursor.execute(f"CREATE INDEX comment_search ON {comment_table} USING gin (search)")
        cursor.execute(f"ANALYZE {task_table}, {comment_table}, boards_project, boards_membership")
        cursor.execute(f"SELECT count(*) FROM {task_table}")
        total = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM {comment_table}")
        comments = cursor.fetchone()[0]
    data.fill_aggregates(ids)
    return {"user": user, "cards": total, "comments": comments, "build_s": time.perf_counter() - started}


def naive(user, text: str) -> tuple[int, list]:
    """What a first version would do: ILIKE over the text, newest first, and an exact count."""
    from django.db.models import Exists, OuterRef, Q

    from boards.models import Comment, Project, Task

    visible = Project.objects.filter(application__memberships__user=user).values("pk")
    in_comments = Comment.objects.filter(task=OuterRef("pk"), body__icontains=text)
    found = Task.objects.filter(project__in=visible).filter(
        Q(title__icontains=text) | Q(description__icontains=text) | Exists(in_comments)
    )
    count = found.count()
    page = list(found.select_related("project", "task_status").order_by("-updated_at", "-pk")[:20])
    return count, page


def measure(user, reps: int) -> list[dict]:
    from django.test import Client
    from django.urls import reverse

    from bench.harness import clock, interleave, since, summary
    from boards import search
    from boards.models import Task

    key_task = Task.objects.filter(project__key="B1").order_by("number").values_list("number", flat=True)[1234]
    queries = [
        ("common word", WORDS[0], WORDS[0]),
        ("mid word", WORDS[25], WORDS[25]),
        ("two words", f"{WORDS[3]} {WORDS[8]}", WORDS[3]),
        ("phrase", f'"{WORDS[0]} {WORDS[1]}"', f"{WORDS[0]} {WORDS[1]}"),
        ("rare word", RARE[3], RARE[3]),
        ("word in comments only", "zqcommentonly", "zqcommentonly"),
        ("no match", "nosuchwordanywhere", "nosuchwordanywhere"),
        ("key", f"b1-{key_task}", f"b1-{key_task}"),
    ]
    client = Client()
    client.force_login(user)
    rows = []
    for label, q, plain in queries:
        results = search.search_cards(user, q)

        def ours(q=q):
            start = clock()
            search.search_cards(user, q)
            return since(start)

        def baseline(plain=plain):
            start = clock()
            naive(user, plain)
            return since(start)

        def view(q=q):
            start = clock()
            response = client.get(reverse("search"), {"q": q})
            assert response.status_code == 200, response.status_code
            return since(start)

        naive_reps = 3  # seconds each at a million cards
        samples = interleave(
            {"ours": ours, "view": view, "naive": baseline}, {"ours": reps, "view": reps, "naive": naive_reps}
        )
        stats = {name: summary(values) for name, values in samples.items()}
        rows.append(
            {
                "label": label,
                "q": q,
                "found": f"{search.CANDIDATES:,}+" if results.more else str(results.count),
                "naive_found": naive(user, plain)[0],
                **{f"{name}_p50": stats[name]["median"] for name in stats},
                **{f"{name}_p95": stats[name]["p95"] for name in stats},
            }
        )
        print(
            f"  {label}: ours p50 {stats['ours']['median']:.1f} ms, view {stats['view']['median']:.1f} ms, "
            f"naive {stats['naive']['median']:.1f} ms",
            flush=True,
        )
    return rows


def write(built: dict, rows: list[dict], cards_asked: int) -> str:
    from django.db import connection

    from boards.search import CANDIDATES

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    lines = [
        f"python -m bench.search --cards {cards_asked}  at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"interpreter: {sys.executable} (Python {platform.python_version()}); PostgreSQL {server}; "
        f"{os.cpu_count()} cores; load average at the end {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"data: {built['cards']:,} cards ({built['comments']:,} comments), built in {built['build_s']:.0f} s; "
        "the bench user sees 9 in 10 of them (the rest are in a workspace they are not in)",
        "",
        f"{'query':24} {'q':28} {'found':>8} {'ours p50':>9} {'p95':>7} {'view p50':>9} {'naive p50':>10} "
        f"{'naive found':>11} {'ratio':>6}",
    ]
    for row in rows:
        lines.append(
            f"{row['label']:24} {row['q'][:28]:28} {row['found']:>8} {row['ours_p50']:>9.1f} {row['ours_p95']:>7.1f} "
            f"{row['view_p50']:>9.1f} {row['naive_p50']:>10.1f} {row['naive_found']:>11,} "
            f"{row['naive_p50'] / row['ours_p50']:>5.0f}x"
        )
    worst = max(row["ours_p50"] for row in rows)
    lines += [
        "",
        f"target: p50 under 50 ms for every query above: {'met' if worst < 50 else 'NOT met'} "
        f"(worst p50 {worst:.1f} ms)",
        "",
        "ours: boards.search.search_cards, every query the search view runs for its results (the user's",
        "projects, the key's card, the bounded count, the ranked page with highlighted title and snippet, the",
        "comment snippets). view: GET /search/?q= through the test client (session, user, template).",
        "naive: ILIKE over title, description and comments, newest first, with an exact count.",
        f"ours ranks at most {2 * CANDIDATES:,} candidates ({CANDIDATES:,} from the cards, {CANDIDATES:,} from the",
        f"comments) and counts no further (shown as {CANDIDATES:,}+); p50 is the median of the runs, interleaved",
        "with the baseline.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=25)
    parser.add_argument("--reuse", action="store_true", help="measure the data already built")
    args = parser.parse_args()
    configure()
    from bench import data

    if args.reuse:
        from boards.models import Comment, Task

        built = {
            "user": data.bench_user(),
            "cards": Task.objects.count(),
            "comments": Comment.objects.count(),
            "build_s": 0,
        }
    else:
        print(f"building {args.cards:,} cards…", flush=True)
        built = build(args.cards)
        print(f"built {built['cards']:,} cards in {built['build_s']:.0f} s", flush=True)
    rows = measure(built["user"], args.reps)
    print(write(built, rows, args.cards))


if __name__ == "__main__":
    main()
