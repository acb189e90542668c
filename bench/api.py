"""python -m bench.api [--cards N ...] [--reps R]: the REST API's card writes next to the page's.

In a database of its own (DATABASE_URL's name + `_bench`, as bench.run), with production-like
settings (DEBUG off), one project of N cards per size. For each write, the same operation the
board's htmx request makes (bench.drivers.HttpDriver: logged-in test client, HX-Request) and the
API's JSON request with a write token, turn by turn in the same run (bench.harness.interleave),
so machine noise hits both alike: p50 and p95 of the whole request, and its SQL queries (session
and user for the page, token with its user for the API, included). The API's rate limit is lifted
for the run (API_RATE_WRITE), as the page has none. Results in bench/results/api.txt.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "api.txt"
OPERATIONS = ["create", "move across columns", "move within a column", "edit"]


def configure() -> None:
    from bench.run import setup_standalone

    os.environ["API_RATE_WRITE"] = os.environ["API_RATE_READ"] = str(10**9)
    setup_standalone()


class PageDriver:
    """The board's htmx requests (bench.drivers.HttpDriver), with the card editor's save as "edit"."""

    def __init__(self, project, user):
        from bench.drivers import HttpDriver

        self.http = HttpDriver(project, user)
        self.project = project

    def create(self, status_id):
        self.http.create(status_id)

    def move(self, task_id, status_id, after_id):
        self.http.move(task_id, status_id, after_id)

    def edit(self, task_id, version):
        from django.urls import reverse

        url = reverse("card_update", args=[self.project.pk, task_id])
        self.http._post(url, {"title": f"Edited {version}", "description": "", "version": version})


class ApiDriver:
    """The same writes as JSON requests with a write token."""

    def __init__(self, project, user):
        from django.test import Client

        from api import services

        _, text = services.create_token(user=user, name=f"bench {time.time()}", scope="write")
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {text}"}
        self.project = project

    def _send(self, method, url, body, expected):
        response = getattr(self.client, method)(url, body, content_type="application/json", headers=self.headers)
        if response.status_code != expected:
            raise AssertionError(f"{method} {url} {body} answered {response.status_code}: {response.content[:300]!r}")

    def create(self, status_id):
        from django.urls import reverse

        self._send(
            "post", reverse("api_cards", args=[self.project.pk]), {"column_id": status_id, "title": "Bench"}, 201
        )

    def move(self, task_id, status_id, after_id):
        from django.urls import reverse

        body = {"column_id": status_id, **({"after_id": after_id} if after_id else {})}
        self._send("post", reverse("api_card_move", args=[self.project.pk, task_id]), body, 200)

    def edit(self, task_id, version):
        from django.urls import reverse

        body = {"version": version, "title": f"Edited {version}"}
        self._send("patch", reverse("api_card", args=[self.project.pk, task_id]), body, 200)


def _actions(driver, picker):
    """Each operation as a callable that picks its target (untimed) and returns the timed call."""
    from boards.models import Task

    def create():
        status_id = picker.rng.choice(picker.columns)
        return lambda: driver.create(status_id)

    def move_across():
        task_id, status_id = picker.live_task()
        target = picker.other_column(status_id)
        after_id, _ = picker.live_task(target)
        return lambda: driver.move(task_id, target, after_id)

    def move_within():
        task_id, status_id = picker.live_task()
        after_id = task_id
        while after_id == task_id:
            after_id, _ = picker.live_task(status_id)
        return lambda: driver.move(task_id, status_id, after_id)

    def edit():
        task_id, _ = picker.live_task()
        version = Task.objects.filter(pk=task_id).values_list("version", flat=True).get()
        return lambda: driver.edit(task_id, version)

    return dict(zip(OPERATIONS, [create, move_across, move_within, edit], strict=True))


def measure(sizes: list[int], reps: int) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench import data
    from bench.drivers import Picker
    from bench.harness import clock, interleave, since, summary
    from boards.models import Project

    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    rows = []
    for n in sizes:
        project_id = data.build_projects(application, projects=1, tasks_per_project=n, reporter=user, prefix=f"A{n}")[0]
        data.fill_aggregates([project_id])
        data.analyze()
        project = Project.objects.get(pk=project_id)
        drivers = {"page": PageDriver(project, user), "api": ApiDriver(project, user)}
        picker = Picker(project_id, seed=n)
        actions = {name: _actions(driver, picker) for name, driver in drivers.items()}
        for op in OPERATIONS:
            queries = {}
            for name in drivers:  # untimed: what each sends to the database
                call = actions[name][op]()
                with CaptureQueriesContext(connection) as captured:
                    call()
                queries[name] = len(captured.captured_queries)

            def timed(name, op=op, actions=actions):
                call = actions[name][op]()
                start = clock()
                call()
                return since(start)

            samples = interleave({name: (lambda name=name: timed(name)) for name in drivers}, reps)
            stats = {name: summary(values) for name, values in samples.items()}
            row = {"op": op, "cards": n, **{f"{k}_queries": v for k, v in queries.items()}}
            for name in drivers:
                row[f"{name}_p50"], row[f"{name}_p95"] = stats[name]["median"], stats[name]["p95"]
            rows.append(row)
            print(
                f"  {n:>7,} cards  {op:22} page p50 {row['page_p50']:.2f} ms ({queries['page']} q)  "
                f"api p50 {row['api_p50']:.2f} ms ({queries['api']} q)",
                flush=True,
            )
    return rows


def write(rows: list[dict], command: str, started_load: tuple) -> str:
    import rest_framework
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    lines = [
        f"{command}  at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"interpreter: {sys.executable} (Python {platform.python_version()}, {platform.python_implementation()}); "
        f"Django REST framework {rest_framework.VERSION}; PostgreSQL {server}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores; load average at the start "
        f"{', '.join(f'{x:.2f}' for x in started_load)} (a shared machine: compare the columns, not runs)",
        "",
        f"{'operation':24} {'cards':>8} {'page p50':>9} {'p95':>7} {'queries':>8} {'api p50':>9} {'p95':>7} "
        f"{'queries':>8} {'api/page':>9}",
    ]
    for row in rows:
        lines.append(
            f"{row['op']:24} {row['cards']:>8,} {row['page_p50']:>9.2f} {row['page_p95']:>7.2f} "
            f"{row['page_queries']:>8} {row['api_p50']:>9.2f} {row['api_p95']:>7.2f} {row['api_queries']:>8} "
            f"{row['api_p50'] / row['page_p50']:>8.2f}x"
        )
    lines += [
        "",
        "page: the board's htmx request through the Django test client, logged in (session and user read",
        "from the database), answered with the fragments the board swaps in (card, counts, derived status).",
        "api: the same write as JSON with `Authorization: Bearer tt_…` (the token with its user in one query;",
        "last_used_at written at most once a minute), answered with the card as JSON. Same services, same",
        "transaction. Times in ms per request, p50 and p95 of interleaved runs; queries of one request.",
        "edit: the card editor's save (page) and PATCH with the version (api): title only.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--reps", type=int, default=200)
    args = parser.parse_args()
    load = os.getloadavg()
    configure()
    rows = measure(args.cards, args.reps)
    command = "python -m bench.api " + " ".join(sys.argv[1:])
    print(write(rows, command.strip(), load))


if __name__ == "__main__":
    main()
