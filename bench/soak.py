"""python -m bench.soak [--minutes 30]: mixed traffic against the production servers, watched over time.

gunicorn serves HTTP and `python -m tasktrack.serve` (a daphne per core) serves /ws/, as README's
"Running in production" starts them, on ports the kernel picks on 127.0.0.1 (bench/servers.py).
Load workers (tests/reliability/loadgen.py, one process per user) load boards, open and edit cards
(now and then replaying an edit so it is refused as stale: a deliberate 409), move and create
cards, export and open insights, paced by --pause; SOCKETS board sockets (10 per user, several
users, as the per-user socket cap requires) stay open on daphne and record every live event.

Every --slice seconds the report has p50/p95 per operation, errors, PostgreSQL connections of the
bench database by state (pg_stat_activity), the RSS of every server process and the live events
delivered against expected. It ends with the must-holds, written to bench/results/soak.txt:

- 0 errors: any status other than the action's expected one (2xx/3xx; 409 for the deliberate stale
  edit; 429 on exports is counted apart as "throttled": the per-user export limit);
- every live event delivered: each socket gets every sequence number committed on its board
  between its hello and the end of the run (none missed, no socket dropped);
- connections never above the pools' sum (each process's DB_POOL_MAX): no leak;
- memory flat: for each server process and their sum, the mean RSS of the last 5 minutes is within
  10% of the mean over minutes 5-10 (a run shorter than 15 minutes compares its last quarter with
  its second quarter, which shows the rule works but proves little);
- 0 drift: `manage.py recalc_aggregates --check` after the run.

The exit status is 1 when one fails. Runs on its own database (DATABASE_URL's name + `_bench`,
as bench/run.py) and empties its domain tables first. Every loop is bounded in time; servers and
workers are stopped at the end, on error too.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "soak.txt"
PASSWORD = "soak-password-not-secret"
VERSION = r'name="version" value="(\d+)"'
META = re.compile(r'<div id="live-meta"[^>]*>')
ATTR = re.compile(r'data-([a-z-]+)="([^"]*)"')
OPERATIONS = [
    "board",
    "card open",
    "edit",
    "edit (stale copy)",
    "move",
    "create",
    "export tasks",
    "export events",
    "insights",
]
# A page that misses an event notices the gap and re-fetches its board; a miss still counts here.
DELIVERY = "every live event delivered"
SAMPLE_SECONDS = 5  # connections and memory are read this often
OPEN_SECONDS = 180  # for opening every socket
DELIVERY_GRACE = 30  # seconds after the last write for its event to reach every socket


@dataclass
class Plan:
    minutes: float = 30
    slice_seconds: float = 60
    clients: int = 6  # HTTP load workers, one user each
    sockets: int = 200
    sockets_per_user: int = 10  # under the per-user socket cap
    projects: int = 3
    cards: int = 3000  # per project
    pause: float = 0.1  # seconds each worker waits between requests

    @property
    def seconds(self) -> float:
        return self.minutes * 60


@dataclass
class Socket:
    project_id: int
    hello: int | None = None
    seqs: set = field(default_factory=set)
    closed: str | None = None  # why, when the server closed it before the end


# Data -----------------------------------------------------------------------------------------


def build(plan: Plan) -> dict:
    """Users, one workspace, `projects` projects of `cards` cards each, with their `created` events."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from bench import data
    from boards import services
    from boards.models import Membership, Task

    data.reset()
    users = get_user_model()
    password = make_password(PASSWORD)  # one hash for all: hashing each would cost seconds
    socket_users = -(-plan.sockets // plan.sockets_per_user)
    names = [f"soak-{index}" for index in range(plan.clients + socket_users)]
    for name in names:
        user, _ = users.objects.get_or_create(username=name, defaults={"first_name": name.title()})
        user.password = password
        user.save(update_fields=["password"])
    owner = data.bench_user()
    application = data.make_application(owner, name="Soak workspace")
    members = list(users.objects.filter(username__in=names).order_by("pk"))
    Membership.objects.bulk_create(
        [Membership(application=application, user=user, role=Membership.Role.EDITOR) for user in members]
    )
    projects = []
    for index in range(plan.projects):
        project = services.create_project(application=application, name=f"Soak {index + 1}", key=f"SOAK{index + 1}")
        columns = list(project.task_statuses.order_by("position").values_list("pk", flat=True))
        tasks = [
            Task(task_status_id=columns[n % len(columns)], title=f"Soak card {n}", reporter=owner, position=n * 1024.0)
            for n in range(plan.cards)
        ]
        services.bulk_create_tasks(project=project, tasks=tasks, actor=owner)
        task_ids = list(Task.objects.live().filter(project=project).order_by("pk").values_list("pk", flat=True))
        projects.append({"id": project.pk, "columns": columns, "task_ids": task_ids, "url": project.get_absolute_url()})
    data.analyze()
    by_name = {user.username: user for user in members}
    return {
        "projects": projects,
        "workers": names[: plan.clients],
        "socket_users": [by_name[name] for name in names[plan.clients :]],
    }


def actions(board: str) -> list[dict]:
    """What a worker does, weighted roughly as people use a board: mostly looking and moving."""
    card = f"{board}cards/{{task}}/"
    edit = {"title": "Soak edit {n}", "description": "Edited by the soak.", "version": "{version}", "context": "dialog"}
    # Opened to edit, as the Edit button does: only the editor carries the version (and takes the lock).
    opened = {"name": "card open", "url": f"{card}?edit=1", "capture": {"version": VERSION}}
    return [
        {"name": "board", "method": "GET", "url": board, "allowed": [200], "weight": 4},
        {"name": "move", "method": "POST", "url": f"{card}move/", "data": {"status_id": "{column}"}, "htmx": True,
         "allowed": [200], "weight": 6},
        {"name": "edit", "method": "POST", "url": f"{card}edit/", "data": edit, "htmx": True, "open": opened,
         "allowed": [200], "weight": 2},
        # The same edit sent twice: the second names a version that is gone, and must be refused.
        {"name": "edit", "method": "POST", "url": f"{card}edit/", "data": edit, "htmx": True, "open": opened,
         "allowed": [200], "weight": 0.3, "replay": {"name": "edit (stale copy)", "allowed": [409]}},
        {"name": "create", "method": "POST", "url": f"{board}columns/{{column}}/cards/new/",
         "data": {"title": "Soak new card {n}"}, "htmx": True, "allowed": [200], "weight": 1},
        # 429 is the export limit per user (counted as throttled, not an error).
        {"name": "export tasks", "method": "GET", "url": f"{board}export/tasks.csv", "allowed": [200, 429],
         "weight": 0.2},
        {"name": "export events", "method": "GET", "url": f"{board}export/events.csv", "allowed": [200, 429],
         "weight": 0.1},
        {"name": "insights", "method": "GET", "url": f"{board}insights/", "allowed": [200], "weight": 0.5},
    ]  # fmt: skip


def worker_plans(plan: Plan, built: dict, port: int) -> list[dict]:
    """One plan per worker: a project each (round robin) and its own share of that project's cards,
    so no two workers touch one card and a 409 can only be the deliberate one."""
    plans = []
    for index, username in enumerate(built["workers"]):
        project = built["projects"][index % len(built["projects"])]
        sharing = [
            i for i in range(len(built["workers"])) if i % len(built["projects"]) == index % len(built["projects"])
        ]
        share = project["task_ids"][sharing.index(index) :: len(sharing)]
        plans.append(
            {
                "port": port,
                "username": username,
                "password": PASSWORD,
                "seed": index,
                "seconds": plan.seconds,
                "max_requests": int(plan.seconds / max(plan.pause, 0.001)) + 1,
                "pause": plan.pause,
                "record": True,
                "task_ids": share,
                "column_ids": project["columns"],
                "actions": actions(project["url"]),
            }
        )
    return plans


# Watching: processes, connections, sockets ---------------------------------------------------------


def say(text: str) -> None:
    print(f"bench.soak {time.strftime('%H:%M:%S')}: {text}", flush=True)


def descendants(pid: int) -> list[int]:
    """The process and everything under it, from /proc (no third-party package)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents[ppid].append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            parts = [Path(p.decode(errors="replace")).name for p in cmdline.read().split(b"\0") if p]
    except OSError:
        return "?"
    if "gunicorn" in parts[:2]:
        return "gunicorn"
    if "tasktrack.serve" in parts:
        return "serve"
    return "daphne" if "daphne" in parts[:2] else parts[0] if parts else "?"


def connections(url: str, exclude: list[int]) -> dict:
    """The bench database's backends by state (pg_stat_activity), this process's own left out."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT coalesce(state, 'none'), count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND pid <> ALL(%s) GROUP BY 1",
            [exclude],
        ).fetchall()
    return dict(rows)


def missing(socket: Socket, final: dict[int, int]) -> int:
    """How many of its board's numbers, from its hello to `final`, the socket has not had."""
    if socket.hello is None or socket.closed:
        return 0
    wanted = final[socket.project_id] - socket.hello
    return max(0, wanted - sum(1 for seq in socket.seqs if socket.hello < seq <= final[socket.project_id]))


async def sample(at: float, servers, database: str, own: list[int]) -> dict:
    """RSS of every server process (by name and pid) and the database's connections by state."""
    pids = {
        (f"{process_name(pid)} master" if pid == server.process.pid else f"{process_name(pid)} {pid}"): pid
        for server in servers
        for pid in descendants(server.process.pid)
    }
    rss = {name: rss_mb(pid) for name, pid in pids.items()}
    return {"at": at, "rss": rss, "connections": await asyncio.to_thread(connections, database, own)}


def sequences(url: str, projects: list[int]) -> dict[int, int]:
    """Each board's last committed sequence number (boards.history), read outside Django: this
    runs on the event loop's side, where Django's synchronous ORM may not be used."""
    import psycopg

    from boards.models import ProjectSequence

    table = ProjectSequence._meta.db_table
    with psycopg.connect(url, autocommit=True) as conn:
        rows = dict(conn.execute(f"SELECT project_id, last_seq FROM {table} WHERE project_id = ANY(%s)", [projects]))
    return {project: rows.get(project, 0) for project in projects}


def sessions(users) -> list[str]:
    """A Cookie header per socket user, from sessions saved in the database (as a log-in would)."""
    from django.conf import settings
    from django.test import Client

    cookies = []
    for user in users:
        client = Client()
        client.force_login(user)
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}")
    return cookies


def read_meta(message: str) -> dict | None:
    found = META.search(message)
    return dict(ATTR.findall(found.group(0))) if found else None


async def beat(ws) -> None:
    """The page's heartbeat (static/js/live.js): a ping every HEARTBEAT seconds, as a browser sends."""
    from websockets.exceptions import ConnectionClosed

    from boards.live.presence import HEARTBEAT

    try:
        while True:
            await asyncio.sleep(HEARTBEAT)
            await ws.send(json.dumps({"type": "ping"}))
    except ConnectionClosed:
        return  # the reader sees the close and says why


async def watch(
    index: int, socket: Socket, url: str, cookie: str, started: list, ready: asyncio.Event, stop, first_seen
):
    """One board socket: its hello's sequence number, then every change's numbers, until `stop`;
    `first_seen` gets (board, number) -> seconds from the start until a socket first had it."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    ws_url = url.replace("http://", "ws://") + f"/ws/projects/{socket.project_id}/board/?client=soak-{index}"
    heartbeat = None
    try:
        async with connect(
            ws_url, origin=url, additional_headers={"Cookie": cookie}, proxy=None, max_queue=None, open_timeout=30
        ) as ws:
            heartbeat = asyncio.create_task(beat(ws))
            async for message in ws:  # ends quietly on a normal close
                meta = read_meta(message if isinstance(message, str) else message.decode())
                if meta is None or "seq" not in meta:
                    continue
                seq = int(meta["seq"])
                if meta.get("kind") == "hello":
                    socket.hello = seq
                    ready.set()
                    continue
                now = time.monotonic() - started[0] if started else 0.0
                for number in range(int(meta.get("first-seq", seq)), seq + 1):
                    socket.seqs.add(number)
                    first_seen.setdefault((socket.project_id, number), now)
                if stop.is_set():
                    break
            if not stop.is_set():
                socket.closed = f"closed by the server ({ws.close_code})"
    except ConnectionClosed as closed:
        if not stop.is_set():
            socket.closed = f"closed by the server ({closed.rcvd.code if closed.rcvd else 'no close frame'})"
    except (OSError, TimeoutError) as error:
        socket.closed = f"{type(error).__name__}: {error}"
    finally:
        ready.set()
        if heartbeat is not None:
            heartbeat.cancel()


async def drive(plan: Plan, built: dict, http_server, ws_server, database: str) -> dict:
    """Open the sockets, run the workers, sample every few seconds; everything bounded in time."""
    loop = asyncio.get_running_loop()
    ws_url = f"http://127.0.0.1:{ws_server.port}"
    projects = [project["id"] for project in built["projects"]]
    cookies, own = built["cookies"], built["own_backends"]
    sockets = [Socket(project_id=projects[index % len(projects)]) for index in range(plan.sockets)]
    started: list[float] = []
    first_seen: dict[tuple[int, int], float] = {}
    stop = asyncio.Event()
    watchers = []
    opening = time.monotonic() + OPEN_SECONDS
    for index, socket in enumerate(sockets):
        if time.monotonic() > opening:
            break  # the rest count as never opened
        ready = asyncio.Event()
        cookie = cookies[index // plan.sockets_per_user]
        watchers.append(asyncio.create_task(watch(index, socket, ws_url, cookie, started, ready, stop, first_seen)))
        try:
            await asyncio.wait_for(ready.wait(), max(0.1, opening - time.monotonic()))  # one at a time, as pages open
        except TimeoutError:
            break
    not_open = [s for s in sockets if s.hello is None]
    say(f"{plan.sockets - len(not_open)} sockets open; {plan.clients} workers for {plan.seconds:.0f} s")

    code = (
        "import json, sys; from tests.reliability.loadgen import run_worker; "
        "print(json.dumps(run_worker(json.loads(sys.argv[1]))))"
    )
    workers = []
    samples = []
    started.append(time.monotonic())
    try:
        for worker_plan in worker_plans(plan, built, http_server.port):
            command = [sys.executable, "-c", code, json.dumps(worker_plan)]
            workers.append(await asyncio.create_subprocess_exec(*command, cwd=ROOT, stdout=subprocess.PIPE))
        outputs = [asyncio.ensure_future(worker.communicate()) for worker in workers]
        deadline = started[0] + plan.seconds + 120  # a worker's last request may take its timeout
        while not all(output.done() for output in outputs) and time.monotonic() < deadline:
            samples.append(await sample(time.monotonic() - started[0], (http_server, ws_server), database, own))
            await asyncio.wait(outputs, timeout=min(SAMPLE_SECONDS, max(0.5, plan.seconds / 20)))
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
    results = []
    for worker, output in zip(workers, outputs, strict=True):
        stdout, _ = await output
        try:
            results.append(json.loads(stdout.decode().strip().splitlines()[-1]))
        except (ValueError, IndexError):
            results.append({"unexpected": [f"worker exited with {worker.returncode}"], "timings": [], "seen": {}})
    # The events of the last writes may still be on their way: wait (bounded) until every socket
    # has its board's last number; what has not come by then counts as missing.
    final = await loop.run_in_executor(None, sequences, database, projects)
    say("traffic done; waiting for the last events to reach the sockets")
    settle = time.monotonic() + DELIVERY_GRACE
    while time.monotonic() < settle and any(missing(s, final) for s in sockets):
        await asyncio.sleep(1)
    stop.set()
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)
    return {
        "results": results,
        "samples": samples,
        "sockets": sockets,
        "final_seq": final,
        "first_seen": first_seen,
        "not_open": len(not_open),
    }


# Figures --------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    from bench.harness import percentile as nearest_rank

    return nearest_rank(values, q) if values else float("nan")


def window_mean(series: list[tuple[float, float]], start: float, end: float) -> float | None:
    values = [value for at, value in series if start <= at < end and value is not None]
    return statistics.fmean(values) if values else None


def memory_windows(seconds: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """(baseline, final) windows in seconds: minutes 5-10 against the last 5, or quarters when short."""
    if seconds >= 15 * 60:
        return (5 * 60, 10 * 60), (seconds - 5 * 60, seconds + 1)
    return (seconds / 4, seconds / 2), (seconds * 3 / 4, seconds + 1)


def analyse(plan: Plan, run: dict, drift: dict, pool_limit: int) -> dict:
    slices = max(1, int(-(-plan.seconds // plan.slice_seconds)))
    per_slice: list[dict] = [defaultdict(list) for _ in range(slices)]
    statuses: list[Counter] = [Counter() for _ in range(slices)]
    errors: list[list[str]] = [[] for _ in range(slices)]
    allowed = {a["name"]: set(a["allowed"]) for a in actions("/")}
    allowed.update({"card open": {200}, "edit (stale copy)": {409}})
    origin = min((result.get("started_at", 0) for result in run["results"] if result.get("started_at")), default=0)
    for result in run["results"]:
        offset = result.get("started_at", origin) - origin
        for at, name, status, ms in result["timings"]:
            index = min(slices - 1, int((at + offset) // plan.slice_seconds))
            per_slice[index][name].append(ms)
            statuses[index][(name, status)] += 1
            if status not in allowed.get(name, {200}):
                errors[index].append(f"{name} -> {status}")
    unexpected = [line for result in run["results"] for line in result["unexpected"] if "->" not in line]
    # Live events: each socket must have every number its board committed after its hello.
    expected_slice, delivered_slice = [0] * slices, [0] * slices
    missing_total, expected_total = 0, 0
    first_seen = run["first_seen"]
    for socket in run["sockets"]:
        if socket.hello is None:
            continue
        wanted = range(socket.hello + 1, run["final_seq"][socket.project_id] + 1)
        expected_total += len(wanted)
        for seq in wanted:
            at = first_seen.get((socket.project_id, seq), plan.seconds)
            index = min(slices - 1, max(0, int(at // plan.slice_seconds)))
            expected_slice[index] += 1
            if seq in socket.seqs:
                delivered_slice[index] += 1
            else:
                missing_total += 1
    dropped = [socket.closed for socket in run["sockets"] if socket.closed]
    # Connections and memory, per slice.
    conn_slice: list[list[dict]] = [[] for _ in range(slices)]
    rss_series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample in run["samples"]:
        index = min(slices - 1, int(sample["at"] // plan.slice_seconds))
        conn_slice[index].append(sample["connections"])
        for name, value in sample["rss"].items():
            if value is not None:
                rss_series[name].append((sample["at"], value))
        total = sum(v for v in sample["rss"].values() if v is not None)
        rss_series["all server processes"].append((sample["at"], total))
    max_connections = max((sum(c.values()) for s in conn_slice for c in s), default=0)
    baseline, final = memory_windows(plan.seconds)
    memory = {}
    for name, series in rss_series.items():
        before, after = window_mean(series, *baseline), window_mean(series, *final)
        growth = (after / before - 1) if before and after else None
        memory[name] = {"baseline_mb": before, "final_mb": after, "growth": growth}
    throttled = sum(n for counter in statuses for (name, status), n in counter.items() if status == 429)
    conflicts = sum(n for counter in statuses for (name, status), n in counter.items() if name == "edit (stale copy)")
    error_count = sum(len(e) for e in errors) + len(unexpected)
    flat = [name for name, m in memory.items() if m["growth"] is not None and m["growth"] > 0.10]
    unmeasured = [name for name, m in memory.items() if m["growth"] is None]
    checks = [
        ("0 errors", error_count == 0, f"{error_count}" + (
            f" ({'; '.join([str(Counter(e for s in errors for e in s).most_common(5)), *unexpected[:3]])})"
            if error_count else "")),
        (DELIVERY, missing_total == 0 and not dropped and run["not_open"] == 0,
         f"{expected_total - missing_total:,} of {expected_total:,} delivered to {plan.sockets} sockets; "
         f"{len(dropped)} dropped, {run['not_open']} never opened"
         + (f" ({Counter(dropped).most_common(3)})" if dropped else "")),
        ("connections within the pools", max_connections <= pool_limit,
         f"at most {max_connections} of {pool_limit} (sum of DB_POOL_MAX over the server processes)"),
        ("memory flat (last window mean within 10% of baseline)", not flat and not unmeasured,
         ("grew: " + ", ".join(f"{n} {memory[n]['growth']:+.0%}" for n in flat) if flat else "no process grew over 10%")
         + (f"; not measured: {', '.join(unmeasured)}" if unmeasured else "")),
        ("0 drift (recalc_aggregates --check)", drift["ok"], drift["output"]),
    ]  # fmt: skip
    return {
        "slices": slices,
        "latency": per_slice,
        "statuses": statuses,
        "errors": errors,
        "unexpected": unexpected,
        "never_seen": sorted(
            {
                (s.project_id, seq)
                for s in run["sockets"]
                if s.hello is not None
                for seq in range(s.hello + 1, run["final_seq"][s.project_id] + 1)
            }
            - set(first_seen)
        ),
        "live": {"expected": expected_slice, "delivered": delivered_slice},
        "connections": conn_slice,
        "rss": rss_series,
        "memory": memory,
        "windows": {"baseline": baseline, "final": final},
        "throttled": throttled,
        "conflicts": conflicts,
        "checks": checks,
        "ok": all(met for _, met, _ in checks),
    }


def report(plan: Plan, figures: dict, meta: dict) -> str:
    lines = [
        "Soak: mixed traffic against gunicorn (HTTP) and python -m tasktrack.serve (WebSockets)",
        "",
        f"Date: {meta['date']}; duration {plan.minutes:g} min ({plan.seconds:.0f} s); "
        f"slices of {plan.slice_seconds:g} s",
        f"Interpreter: {sys.executable} (Python {platform.python_version()}, {platform.python_implementation()})",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}; load average at start {meta['load_start']}, "
        f"at end {meta['load_end']}; PostgreSQL {meta['postgresql']}",
        f"Servers: {meta['http']} on :{meta['http_port']}; {meta['ws']} on :{meta['ws_port']}",
        f"Traffic: {plan.clients} HTTP workers (one user each, {plan.pause:g} s between requests), "
        f"{plan.sockets} board sockets ({plan.sockets_per_user} per user), {plan.projects} projects of "
        f"{plan.cards:,} cards (and their created events)",
        f"Clients share the machine: the sockets' process (this one) used {meta['client_cpu']}; each worker "
        "opens a connection per request (gunicorn's sync workers close it after each response anyway)",
        "",
        "Must-hold:",
    ]
    for target, met, detail in figures["checks"]:
        lines.append(f"  [{'ok' if met else 'FAILED'}] {target}: {detail}")
    lines += ["", f"Deliberate conflicts (stale edit answered 409): {figures['conflicts']}; "
              f"exports throttled (429, per-user limit): {figures['throttled']}", ""]  # fmt: skip
    names = [n for n in OPERATIONS if any(figures["latency"][i].get(n) for i in range(figures["slices"]))]
    lines.append("Latency per slice, ms (p50/p95, n):")
    header = f"  {'slice':>9} " + "".join(f"{name:>24}" for name in names) + f"{'errors':>8}"
    lines.append(header)
    for index in range(figures["slices"]):
        cells = []
        for name in names:
            values = figures["latency"][index].get(name, [])
            cells.append(
                f"{percentile(values, 50):.0f}/{percentile(values, 95):.0f} ({len(values)})".rjust(24)
                if values
                else "-".rjust(24)
            )
        start = index * plan.slice_seconds
        lines.append(f"  {start:>5.0f}s+ {''.join(cells)}{len(figures['errors'][index]):>8}")
    lines += [
        "",
        "Database connections (pg_stat_activity of the bench database, max per slice by state) and live events:",
    ]
    states = sorted({state for s in figures["connections"] for c in s for state in c})
    lines.append(
        f"  {'slice':>9} " + "".join(f"{state:>22}" for state in states) + f"{'events delivered/expected':>28}"
    )
    for index in range(figures["slices"]):
        cells = [f"{max((c.get(state, 0) for c in figures['connections'][index]), default=0):>22}" for state in states]
        live = f"{figures['live']['delivered'][index]:,}/{figures['live']['expected'][index]:,}"
        lines.append(f"  {index * plan.slice_seconds:>5.0f}s+ {''.join(cells)}{live:>28}")
    lines += ["", "Server memory, RSS MB (mean per slice):"]
    names = sorted(figures["rss"], key=lambda n: (n == "all server processes", n))
    lines.append(f"  {'slice':>9} " + "".join(f"{name[:22]:>24}" for name in names))
    for index in range(figures["slices"]):
        start, end = index * plan.slice_seconds, (index + 1) * plan.slice_seconds
        cells = []
        for name in names:
            mean = window_mean(figures["rss"][name], start, end)
            cells.append(f"{mean:>24.1f}" if mean is not None else f"{'-':>24}")
        lines.append(f"  {start:>5.0f}s+ {''.join(cells)}")
    (b0, b1), (f0, _) = figures["windows"]["baseline"], figures["windows"]["final"]
    lines += ["", f"Memory rule: mean RSS over {f0:.0f}s-end within 10% of the mean over {b0:.0f}s-{b1:.0f}s, "
              "for each process and their sum:"]  # fmt: skip
    for name in names:
        m = figures["memory"][name]
        if m["growth"] is None:
            lines.append(f"  {name}: not sampled in both windows")
        else:
            lines.append(f"  {name}: {m['baseline_mb']:.1f} -> {m['final_mb']:.1f} MB ({m['growth']:+.1%})")
    per_slice = enumerate(figures["errors"])
    samples = [f"{index * plan.slice_seconds:.0f}s+ {error}" for index, errors in per_slice for error in errors][:20]
    if figures["log"]:
        lines += ["", "Server log warnings and errors (expected conflicts and throttling left out):"]
        lines += [f"  {count} x {text}" for text, count in figures["log"].most_common(10)]
    if figures["never_seen"]:
        lines += ["", f"Events no socket received ({len(figures['never_seen'])}, first 20): "
                  + "; ".join(figures["never_seen_kinds"])]  # fmt: skip
    if samples or figures["unexpected"]:
        lines += ["", "Errors (first 20): " + "; ".join(samples + figures["unexpected"][:5])]
    statuses = Counter()
    for counter in figures["statuses"]:
        statuses.update(counter)
    lines += [
        "",
        "Statuses over the run: " + ", ".join(f"{n} {s}: {c}" for (n, s), c in sorted(statuses.items(), key=str)),
    ]
    return "\n".join(lines) + "\n"


# Running ----------------------------------------------------------------------------------------


def event_kinds(keys: list[tuple[int, int]]) -> list[str]:
    """What the events no socket got were (board, number, kind), from the history table."""
    from boards.models import TaskEvent

    kinds = []
    for project_id, seq in keys:
        event = TaskEvent.objects.filter(project_id=project_id, seq=seq).values_list("kind", "task_id").first()
        kinds.append(f"board {project_id} #{seq} {event[0] if event else 'not in the history'}")
    return kinds


LOG_LINE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (\S+): (.*)$")
EXPECTED_LOG = ("Conflict: ", "Too Many Requests: ")  # the deliberate 409 and the export limit's 429


def log_warnings(paths: list[str]) -> Counter:
    """The servers' warnings and errors by logger and message (numbers blanked), expected ones left out."""
    found: Counter = Counter()
    for path in paths:
        with open(path, errors="replace") as log:
            for line in log:
                match = LOG_LINE.match(line.strip())
                if match and not match.group(3).startswith(EXPECTED_LOG):
                    found[f"{match.group(1)} {match.group(2)}: {re.sub(r'[0-9]+', 'N', match.group(3))[:120]}"] += 1
    return found


def check_drift() -> dict:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    try:
        call_command("recalc_aggregates", "--check", stdout=out)
    except CommandError as error:
        return {"ok": False, "output": f"{error} {out.getvalue().strip()[:500]}"}
    return {"ok": True, "output": out.getvalue().strip()}


def soak(plan: Plan, out: Path = RESULTS) -> dict:
    """Build, serve, drive, report; returns the figures. Django must be set up on a bench database."""
    from django.conf import settings
    from django.db import connection

    from bench.servers import Server, database_url, pool_max

    if not settings.REDIS_URL:
        raise RuntimeError("bench.soak needs REDIS_URL: gunicorn and daphne share live events through Redis.")
    cap = getattr(settings, "WS_SOCKETS_PER_USER", None)
    if cap is not None and plan.sockets_per_user > cap:
        raise RuntimeError(f"{plan.sockets_per_user} sockets per user is over the cap of {cap} (WS_SOCKETS_PER_USER)")

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgresql = cursor.fetchone()[0]
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "postgresql": postgresql,
    }
    say(f"building {plan.projects} projects of {plan.cards:,} cards")
    built = build(plan)
    built["cookies"] = sessions(built["socket_users"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        built["own_backends"] = [cursor.fetchone()[0]]
    with Server("gunicorn") as http_server, Server("daphne-workers") as ws_server:
        processes = {
            kind: len(descendants(s.process.pid)) - 1
            for kind, s in (("gunicorn", http_server), ("daphne-workers", ws_server))
        }
        pool_limit = sum(pool_max(kind) * n for kind, n in processes.items())
        say(f"servers up: gunicorn on :{http_server.port}, tasktrack.serve on :{ws_server.port}")
        meta.update(http=http_server.label, http_port=http_server.port, ws=ws_server.label, ws_port=ws_server.port)
        cpu, wall = time.process_time(), time.monotonic()
        run = asyncio.run(drive(plan, built, http_server, ws_server, database_url()))
        meta["client_cpu"] = f"{time.process_time() - cpu:.0f} s CPU in {time.monotonic() - wall:.0f} s"
        logs = [http_server.log.name, ws_server.log.name]
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    say("servers stopped; checking the counts")
    figures = analyse(plan, run, check_drift(), pool_limit)
    figures["never_seen_kinds"] = event_kinds(figures["never_seen"][:20])
    figures["log"] = log_warnings(logs)
    text = report(plan, figures, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    figures["text"] = text
    figures["plan"] = asdict(plan)
    return figures


def plan_for(sizes) -> Plan:
    """The plan for bench/run.py's sizes: the full soak, or a few seconds and a few sockets (smoke test)."""
    if sizes.soak_minutes >= 1:
        return Plan(minutes=sizes.soak_minutes, slice_seconds=min(60, sizes.soak_minutes * 60 / 4))
    return Plan(
        minutes=sizes.soak_minutes,
        slice_seconds=sizes.soak_minutes * 60 / 2,
        clients=2,
        sockets=6,
        sockets_per_user=3,
        projects=1,
        cards=60,
        pause=0.05,
    )


def run(sizes):
    """bench/run.py's section: `python -m bench.run --only soak` (30 minutes with the full sizes)."""
    from bench.harness import Section, ms

    plan = plan_for(sizes)
    out = RESULTS if sizes.soak_minutes >= 30 else RESULTS.parent / "scratch" / "soak.txt"
    figures = soak(plan, out)
    section = Section(
        "soak", f"Soak: {plan.minutes:g} minutes of mixed traffic", ["operation", "n", "p50 ms", "p95 ms"]
    )
    for name in OPERATIONS:
        values = [v for s in figures["latency"] for v in s.get(name, [])]
        if values:
            section.rows.append([name, len(values), ms(percentile(values, 50)), ms(percentile(values, 95))])
    for target, met, detail in figures["checks"]:
        section.check(target, met, detail)
    section.notes.append(f"Per-minute figures in bench/results/{out.relative_to(RESULTS.parent)}.")
    return section


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    defaults = Plan()
    parser.add_argument("--minutes", type=float, default=defaults.minutes)
    parser.add_argument(
        "--slice", type=float, default=None, help="seconds per report line (default 60, or a quarter of a short run)"
    )
    parser.add_argument("--clients", type=int, default=defaults.clients, help="HTTP load workers")
    parser.add_argument("--sockets", type=int, default=defaults.sockets)
    parser.add_argument("--projects", type=int, default=defaults.projects)
    parser.add_argument("--cards", type=int, default=defaults.cards, help="per project")
    parser.add_argument("--pause", type=float, default=defaults.pause, help="seconds between a worker's requests")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.minutes > 24 * 60:
        parser.error("--minutes must be above 0 and at most a day")
    plan = Plan(
        minutes=args.minutes,
        slice_seconds=args.slice or min(60, args.minutes * 60 / 4),
        clients=args.clients,
        sockets=args.sockets,
        projects=args.projects,
        cards=args.cards,
        pause=args.pause,
    )

    def stop(signum, frame):
        raise SystemExit(128 + signum)  # unwinds through the servers' and workers' cleanup

    signal.signal(signal.SIGTERM, stop)
    sys.path.insert(0, str(ROOT))
    from bench import run as bench_run

    if not os.environ.get("REDIS_URL"):
        sys.exit("bench.soak needs REDIS_URL: gunicorn and daphne share live events through Redis.")
    url = bench_run.configure_environment()
    bench_run.ensure_database(url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.conf import settings

    if not settings.DEBUG:
        call_command("collectstatic", verbosity=0, interactive=False)
    figures = soak(plan, args.out)
    print(figures["text"])
    print(f"bench.soak: results in {args.out}")
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
