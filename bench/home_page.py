"""4. The home page: counts from the counts rows vs COUNT(*) GROUP BY at request time."""

import re

from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench import data, naive
from bench.board_page import _get
from bench.harness import Section, clock, interleave, ms, ratio, since, summary
from boards.web.views import HOME_PAGE_SIZE

TITLE = "Home page: counts rows vs COUNT(*) GROUP BY at request time"
WORKSPACES = 10


def _timed(fn, *args) -> float:
    start = clock()
    fn(*args)
    return since(start)


def _without_tokens(page: bytes) -> bytes:
    return re.sub(rb'(csrfmiddlewaretoken" value=|x-csrftoken": )"[^"]*"', rb"\1", page)


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
    for query in ("", f"?page={per_workspace * WORKSPACES // HOME_PAGE_SIZE + 1}"):  # the first and the last page
        ours_page, naive_page = (_without_tokens(client.get(url + query).content) for url in (ours_url, naive_url))
        assert ours_page == naive_page, f"the baseline's page{query} differs from ours"
    assert naive.stored_counts(user) == naive.counted_counts(user), "the counts rows differ from a recount"
    samples = interleave(
        {"ours": lambda: _get(client, ours_url), "naive": lambda: _get(client, naive_url)},
        {"ours": sizes.reps, "naive": max(2, sizes.reps // 3)},
    )
    data_samples = interleave(
        {"ours": lambda: _timed(naive.stored_counts, user), "naive": lambda: _timed(naive.counted_counts, user)},
        sizes.reps,
    )
    stats = {name: summary(values) for name, values in samples.items()}
    data_stats = {name: summary(values) for name, values in data_samples.items()}
    queries = {}
    for name, url in (("ours", ours_url), ("naive", naive_url)):
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        queries[name] = len(captured.captured_queries)
    section = Section(
        "home",
        TITLE,
        ["measured", "projects", "tasks", "counts from", "p50 ms", "p95 ms", "queries", "ratio"],
        raw={"page": stats, "counts": data_stats, "queries": queries},
    )
    projects, tasks = len(ids), per_project * len(ids)
    labels = (("ours", "counts rows"), ("naive", "COUNT(*) GROUP BY per request"))
    for measured, results, counted in (("counts", data_stats, (1, 2)), ("whole page", stats, None)):
        for index, (name, label) in enumerate(labels):
            section.rows.append(
                [
                    measured,
                    f"{projects:,}",
                    f"{tasks:,}",
                    label,
                    ms(results[name]["median"]),
                    ms(results[name]["p95"]),
                    counted[index] if counted else queries[name],
                    ratio(results[name]["median"], results["ours"]["median"]),
                ]
            )
    speedup = data_stats["naive"]["median"] / data_stats["ours"]["median"]
    page_speedup = stats["naive"]["median"] / stats["ours"]["median"]
    section.check(">= 10x faster than counting at request time (the counts)", speedup >= 10, f"{speedup:.1f}x")
    section.check(
        ">= 10x faster than counting at request time (whole page)", page_speedup >= 10, f"{page_speedup:.1f}x"
    )
    section.notes.append(
        "'counts': the counts of all 500 of the user's projects, read from their counts rows (one query), "
        "against their ids and one COUNT(*) GROUP BY over their live tasks joined to their columns "
        "(bench/naive.py); both "
        "return the same {project: counts}, checked. Loading the projects themselves is left out of both: it "
        "is the same on each side and is not what is compared. 'whole page': the first "
        f"page of the home page ({HOME_PAGE_SIZE} projects a page) through the test client (logged in, full "
        "middleware), both rendering the same template (checked byte for byte on the first and last pages, "
        "CSRF tokens aside); the baseline counts the tasks of the projects on its page, as it would."
    )
    return section
