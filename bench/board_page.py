"""3. The board page at 100, 1,000 and 10,000 tasks: time and queries."""

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench import data
from bench.harness import Section, clock, interleave, ms, ratio, since, summary

TITLE = "Board page"


def _get(client: Client, url: str) -> float:
    start = clock()
    response = client.get(url)
    elapsed = since(start)
    if response.status_code != 200:
        raise AssertionError(f"GET {url} answered {response.status_code}")
    return elapsed


@override_settings(ROOT_URLCONF="bench.urls")
def run(sizes) -> Section:
    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    built = {
        n: data.build_projects(application, projects=1, tasks_per_project=n, reporter=user, prefix=f"B{n}")[0]
        for n in sizes.board
    }
    data.fill_aggregates(list(built.values()))
    data.dress_cards(list(built.values()))  # every face shows labels, due date, priority, counts
    data.analyze()
    client = Client()
    client.force_login(user)
    section = Section(
        "board",
        TITLE,
        ["tasks", "p50 ms", "p95 ms", "queries", "page KB", "every card p50 ms", "every card queries", "ratio"],
    )
    query_counts, p50s = {}, {}
    for n, project_id in built.items():
        ours_url = reverse("board", args=[project_id])
        naive_url = reverse("bench_naive_board", args=[project_id])
        samples = interleave(
            {"ours": lambda u=ours_url: _get(client, u), "naive": lambda u=naive_url: _get(client, u)}, sizes.reps
        )
        stats = {name: summary(values) for name, values in samples.items()}
        with CaptureQueriesContext(connection) as ours_q:
            size_kb = len(client.get(ours_url).content) / 1024
        with CaptureQueriesContext(connection) as naive_q:
            client.get(naive_url)
        query_counts[n] = len(ours_q.captured_queries)
        p50s[n] = stats["ours"]["median"]
        section.raw[str(n)] = {**stats, "queries": query_counts[n], "naive_queries": len(naive_q.captured_queries)}
        section.rows.append(
            [
                f"{n:,}",
                ms(stats["ours"]["median"]),
                ms(stats["ours"]["p95"]),
                query_counts[n],
                f"{size_kb:,.0f}",
                ms(stats["naive"]["median"]),
                len(naive_q.captured_queries),
                ratio(stats["naive"]["median"], stats["ours"]["median"]),
            ]
        )
    smallest, largest = min(sizes.board), max(sizes.board)
    section.check("same query count at every size", len(set(query_counts.values())) == 1, str(query_counts))
    growth = p50s[largest] / p50s[smallest]
    section.check(
        f"time grows far slower than tasks ({largest // smallest}x tasks)",
        growth < (largest / smallest) / 10,
        f"{growth:.1f}x time",
    )
    section.check(f"p50 under 100 ms at {largest:,} tasks", p50s[largest] < 100, f"{ms(p50s[largest])} ms")
    section.notes.append(
        "The real board page through the test client (logged in, full middleware), every card carrying "
        "three labels, a priority, a due date, checklist progress and comment and attachment counts. "
        "'every card' is the "
        "predecessor's board in bench/naive.py: every live card loaded with its status, assignee and "
        "reporter joined and rendered in one page."
    )
    return section
