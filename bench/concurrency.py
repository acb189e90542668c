"""6. Concurrency: client processes doing random moves on one project against daphne."""

import multiprocessing
import os
import time

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.crypto import get_random_string

from aggregates.counts import count_live_tasks, derive_category
from aggregates.models import ProjectTaskStatusAgg
from bench import data, load
from bench.drivers import http_available
from bench.harness import Section, ms, summary
from bench.servers import Server
from boards.models import Project, Task

TITLE = "Concurrency: random moves on one project"
CSRF_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def build(sizes) -> int:
    """One project of max(sizes.board) tasks, its row exact; returns its id."""
    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    [project_id] = data.build_projects(
        application, projects=1, tasks_per_project=max(sizes.board), reporter=user, prefix="C"
    )
    data.fill_aggregates([project_id])
    data.analyze()
    return project_id


def drift(project_id: int) -> dict:
    """The counts row against a recount, and the derived status against the rule."""
    row = ProjectTaskStatusAgg.objects.get(pk=project_id).as_counts()
    recount = count_live_tasks([project_id])[project_id]
    project = Project.objects.select_related("derived_status").get(pk=project_id)
    status = project.derived_status.category if project.derived_status else None
    return {
        "cells": sum(abs(row[c] - recount[c]) for c in recount),
        "row": row,
        "recount": recount,
        "derived_status_ok": status == derive_category(recount),
    }


def drift_detail(after: dict) -> str:
    status = "right" if after["derived_status_ok"] else "WRONG"
    live = sum(after["recount"].values())
    return f"{after['cells']} count(s) off a recount of {live:,} live cards; derived status {status}"


def run_moves(server: Server, project_id: int, *, clients: int, seconds: float) -> dict:
    """`clients` processes POSTing random moves for `seconds`; latencies, throughput, statuses."""
    user = data.bench_user()
    project = Project.objects.get(pk=project_id)
    columns = list(project.task_statuses.values_list("pk", flat=True))
    task_ids = list(Task.objects.live().filter(project_id=project_id).values_list("pk", flat=True))
    path = reverse("card_move", args=[project_id, 0]).replace("/0/", "/{task_id}/")
    start_at = time.time() + 1.0
    jobs = []
    for index in range(clients):
        client = Client()
        client.force_login(user)
        jobs.append(
            {
                "port": server.port,
                "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "csrf": get_random_string(32, CSRF_CHARS),
                "path": path,
                "task_ids": task_ids,
                "columns": columns,
                "seconds": seconds,
                "seed": index,
                "start_at": start_at,
            }
        )
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(load.moves, jobs)
    latencies = [value for result in results for value in result["latencies"]]
    statuses: dict[str, int] = {}
    for result in results:
        for status, n in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    ok = statuses.get("200", 0)
    return {
        "server": server.label,
        "clients": clients,
        "seconds": seconds,
        "requests": len(latencies),
        "throughput": ok / seconds,
        "errors": len(latencies) - ok,
        "statuses": statuses,
        "error_samples": [e for result in results for e in result["errors"]][:5],
        "latencies": latencies,
        **({"latency": summary(latencies)} if latencies else {}),
    }


def row(result: dict, after: dict) -> list:
    latency = result.get("latency", {"median": 0, "p95": 0})
    return [
        result["server"],
        result["clients"],
        f"{result['seconds']:.0f}",
        f"{result['throughput']:,.0f}",
        ms(latency["median"]),
        ms(latency["p95"]),
        result["errors"],
        after["cells"] + (0 if after["derived_status_ok"] else 1),
    ]


# python -m tasktrack.serve, one daphne per core, as README's production start; BENCH_SERVER=daphne
# measures one daphne process.
KIND = os.environ.get("BENCH_SERVER", "daphne-workers")
COLUMNS = ["server", "clients", "seconds", "moves/s", "p50 ms", "p95 ms", "errors", "drift"]


def run(sizes) -> Section:
    section = Section("concurrency", TITLE, COLUMNS)
    if not http_available():
        section.notes.append("Not measured: the board's move endpoint has not landed on main yet.")
        return section
    project_id = build(sizes)
    with Server(KIND) as server:
        result = run_moves(server, project_id, clients=sizes.clients, seconds=sizes.seconds)
    after = drift(project_id)
    section.raw = {"result": {k: v for k, v in result.items() if k != "latencies"}, "drift": after}
    section.rows.append(row(result, after))
    p95 = result.get("latency", {}).get("p95", float("inf"))
    section.check(">= 200 moves/s", result["throughput"] >= 200, f"{result['throughput']:,.0f} moves/s")
    section.check("0 errors", result["errors"] == 0, f"{result['errors']} ({result['statuses']})")
    section.check("0 drift", after["cells"] == 0 and after["derived_status_ok"], drift_detail(after))
    section.check("move p95 under 50 ms", p95 < 50, f"{ms(p95)} ms")
    section.notes.append(
        f"{sizes.clients} client processes (bench/load.py: http.client, one keep-alive connection each, "
        "logged-in sessions, CSRF token) POST random moves (a random live card to the bottom of a random "
        f"column) to the board's move URL on one project of {max(sizes.board):,} cards for "
        f"{sizes.seconds:.0f} s, against {Server(KIND).label} on the bench database with Redis. "
        "Drift: the sum of differences between the counts row and a recount afterwards (plus one if the "
        "derived status is wrong)."
    )
    if result["error_samples"]:
        section.notes.append("Error samples: " + "; ".join(result["error_samples"]))
    return section
