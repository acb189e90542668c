"""4. The home page: counts from the counts rows vs COUNT(*) GROUP BY at request time."""

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench import data
from bench.board_page import _get
from bench.harness import Section, interleave, ms, ratio, summary

TITLE = "Home page: counts rows vs COUNT(*) GROUP BY at request time"
WORKSPACES = 10


@override_settings(ROOT_URLCONF="bench.urls")
def run(sizes) -> Section:
    data.reset()
    user = data.bench_user()
    per_workspace = max(1, sizes.home_projects // WORKSPACES)
    per_project = sizes.home_tasks // (per_workspace * WORKSPACES)
    ids = []
    for index in range(WORKSPACES):
        application = data.make_application(user, name=f"Bench workspace {index + 1}")
        ids += data.build_projects(
            application, projects=per_workspace, tasks_per_project=per_project, reporter=user, prefix=f"H{index}x"
        )
    data.fill_aggregates(ids)
    data.analyze()
    client = Client()
    client.force_login(user)
    ours_url, naive_url = reverse("home"), reverse("bench_naive_home")
    ours_page, naive_page = client.get(ours_url).content, client.get(naive_url).content
    assert ours_page.count(b"<li") == naive_page.count(b"<li"), "the two pages list different projects"
    samples = interleave(
        {"ours": lambda: _get(client, ours_url), "naive": lambda: _get(client, naive_url)},
        {"ours": sizes.reps, "naive": max(2, sizes.reps // 3)},
    )
    stats = {name: summary(values) for name, values in samples.items()}
    queries = {}
    for name, url in (("ours", ours_url), ("naive", naive_url)):
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries[name] = len(captured.captured_queries)
    section = Section(
        "home",
        TITLE,
        ["projects", "tasks", "variant", "p50 ms", "p95 ms", "queries", "ratio"],
        raw={**stats, "queries": queries},
    )
    projects, tasks = len(ids), per_project * len(ids)
    speedup = stats["naive"]["median"] / stats["ours"]["median"]
    for name, label in (("ours", "ours: counts rows"), ("naive", "COUNT(*) GROUP BY per request")):
        section.rows.append(
            [
                f"{projects:,}",
                f"{tasks:,}",
                label,
                ms(stats[name]["median"]),
                ms(stats[name]["p95"]),
                queries[name],
                ratio(stats[name]["median"], stats["ours"]["median"]),
            ]
        )
    section.check(">= 10x faster than counting at request time", speedup >= 10, f"{speedup:.1f}x")
    section.notes.append(
        "Both pages through the test client (logged in, full middleware), rendering the same template; "
        "the baseline (bench/naive.py) replaces the counts rows with one GROUP BY over the user's projects' "
        "live tasks joined to their columns, as the page would without stored counts."
    )
    return section
