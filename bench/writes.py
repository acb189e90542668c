"""python -m bench.writes [--cards N] [--seconds S] [--rounds R] [--scaleout] [--profile]: card
writes through gunicorn, ours against the code before this round, side by side.

One project of N cards (default 100,000) in a database of its own (DATABASE_URL's name + `_bench`,
as bench.run). Two gunicorns (README "Running in production": sync workers, 2 per core) run at once
on that database: this checkout, and a `git worktree` of BASELINE (the code before issue 18's write
work) in /tmp. They take turns, round by round, the first to go alternating:

- one client (keep-alive, the headers htmx sends) creating cards, then moving random cards to the
  bottom of random columns: p50 and p95 of each;
- 8 client processes moving random cards for S seconds: moves/s, p50, p95, errors, and where the
  CPU went (the server's processes, this database's PostgreSQL backends, the load clients: all from
  /proc and the clients' own process times).

Afterwards the counts row against a recount (drift). Results in bench/results/writes.txt.

--scaleout: the same 8-client move workload on ours alone with 1, 2 and 4 gunicorn sync workers
behind one port (gunicorn's own: one listening socket the workers share), round by round; with
PostgreSQL, server and loader CPU from /proc, lock waits sampled from pg_stat_activity/pg_locks,
deadlocks from pg_stat_database. Results in bench/results/scaleout.txt.

--profile: each server's workers under cProfile (their 5th request to worker_exit) for one
8-client move run; the costs summed by whose code they are in: bench/results/writes-profile.txt.
"""

import argparse
import http.client
import multiprocessing
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SCRATCH = RESULTS / "scratch"
BASELINE = "0f2074d"  # main before issue 18's write work
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def configure() -> None:
    from bench.run import setup_standalone

    setup_standalone()


def baseline_tree(commit: str = BASELINE) -> Path:
    """A worktree of `commit` in /tmp (made once, reused): the baseline server's code."""
    path = Path("/tmp") / f"tasktrack-writes-baseline-{commit}"
    if not (path / "manage.py").exists():
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(
            ["git", "worktree", "add", "--force", "--detach", str(path), commit],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return path


def build(cards: int) -> int:
    """One project of `cards` cards, its counts row exact; returns its id."""
    from bench import data

    data.reset()
    user = data.bench_user()
    application = data.make_application(user)
    [project_id] = data.build_projects(application, projects=1, tasks_per_project=cards, reporter=user, prefix="W")
    data.fill_aggregates([project_id])
    data.analyze()
    return project_id


# -- servers -----------------------------------------------------------------------------------


class Gunicorn:
    """gunicorn serving the code in `root` on the bench database, on a port the kernel picked."""

    def __init__(self, root: Path, label: str, *, workers: int, profile_dir: Path | None = None):
        self.root, self.label, self.workers, self.profile_dir = root, label, workers, profile_dir
        self.port = 0
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Gunicorn":
        from bench.servers import _answers, database_url
        from tests.support import ports

        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "2",
            "STATIC_ROOT": str(ROOT / "staticfiles"),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(self.workers),
            "--no-control-socket",
            "--chdir",
            str(self.root),
        ]
        if self.profile_dir:
            env["WRITES_PROFILE_DIR"] = str(self.profile_dir)
            command += ["--config", str(ROOT / "bench" / "writes_profile.py")]
        SCRATCH.mkdir(parents=True, exist_ok=True)
        with ports.listening_socket() as listener:
            self.port, fd = listener.getsockname()[1], listener.fileno()
            self.log = open(SCRATCH / f"writes-gunicorn-{self.port}.log", "w")  # noqa: SIM115
            self.process = subprocess.Popen(
                [*command, "--bind", f"fd://{fd}", "tasktrack.wsgi:application"],
                cwd=self.root,
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=[fd],
            )
        deadline = time.monotonic() + 60
        while not _answers(self.port, path="/login/"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn ({self.label}) did not start; see {self.log.name}")
            time.sleep(0.2)
        return self

    def pids(self) -> list[int]:
        return [self.process.pid, *children(self.process.pid)]

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)  # the session this server started
            self.process.wait()
        self.log.close()


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pids) -> dict[int, float]:
    """utime + stime of each process still there, in seconds (from /proc/<pid>/stat)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLOCK_TICKS, sum(values[:8]) / CLOCK_TICKS


# -- load --------------------------------------------------------------------------------------


def client(job: dict) -> dict:
    """One client on one keep-alive connection: `count` requests, or until `deadline` (wall clock).
    kind "move": a random card to the bottom of a random column; "create": a new card at the top
    of a random column. Returns latencies (ms), statuses, error samples and its own CPU seconds."""
    rng = random.Random(job["seed"])
    connection = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
    headers = {
        "Cookie": f"sessionid={job['session']}; csrftoken={job['csrf']}",
        "X-CSRFToken": job["csrf"],
        "HX-Request": "true",
        "HX-Current-URL": f"http://127.0.0.1:{job['port']}{job['board']}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "*/*",
    }
    while time.time() < job.get("start_at", 0):
        time.sleep(0.005)
    deadline = job.get("start_at", 0) + job.get("seconds", 0)
    latencies, statuses, errors = [], {}, []
    cpu = time.process_time()
    n = 0
    while (job.get("count") and n < job["count"]) or (not job.get("count") and time.time() < deadline):
        n += 1
        column = rng.choice(job["columns"])
        if job["kind"] == "create":
            path = job["create"].format(status_id=column)
            body = urlencode({"title": f"Bench write {job['seed']}-{n}"})
        else:
            path = job["move"].format(task_id=rng.choice(job["task_ids"]))
            body = urlencode({"status_id": column})
        start = time.perf_counter()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", job["port"], timeout=30)
        latencies.append((time.perf_counter() - start) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if status != "200" and len(errors) < 5:
            errors.append(f"{status} on {path}")
    connection.close()
    return {"latencies": latencies, "statuses": statuses, "errors": errors, "cpu": time.process_time() - cpu}


class Workload:
    """What every client needs: the project's URLs, cards, columns and a logged-in session."""

    def __init__(self, project_id: int):
        from django.conf import settings
        from django.test import Client
        from django.urls import reverse
        from django.utils.crypto import get_random_string

        from bench import data
        from boards.models import Project, Task

        project = Project.objects.get(pk=project_id)
        self.project_id = project_id
        self.columns = list(project.task_statuses.values_list("pk", flat=True))
        self.task_ids = list(Task.objects.live().filter(project_id=project_id).values_list("pk", flat=True))
        self.move = reverse("card_move", args=[project_id, 0]).replace("/0/", "/{task_id}/")
        self.create = reverse("card_create", args=[project_id, 0]).replace("/0/", "/{status_id}/")
        self.board = reverse("board", args=[project_id])
        browser = Client()
        browser.force_login(data.bench_user())
        self.session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        self.csrf = get_random_string(32)

    def job(self, port: int, seed: int, **more) -> dict:
        return {
            "port": port,
            "seed": seed,
            "session": self.session,
            "csrf": self.csrf,
            "columns": self.columns,
            "task_ids": self.task_ids,
            "move": self.move,
            "create": self.create,
            "board": self.board,
            **more,
        }


def summary(latencies: list[float]) -> dict:
    from bench.harness import percentile

    if not latencies:
        return {"n": 0, "p50": float("nan"), "p95": float("nan")}
    return {"n": len(latencies), "p50": statistics.median(latencies), "p95": percentile(latencies, 95)}


def single(work: Workload, server: Gunicorn, kind: str, count: int, seed: int) -> dict:
    client(work.job(server.port, seed, kind=kind, count=3))  # the workers' first request of a kind
    return client(work.job(server.port, seed + 1, kind=kind, count=count))


def database_pids() -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row[0] for row in cursor.fetchall()]


def deadlocks() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


class LockSampler(threading.Thread):
    """Every 20 ms: how many of this database's backends wait on a lock (pg_stat_activity), and how
    many lock requests are not granted (pg_locks)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[int, int, int]] = []  # (active, waiting on a lock, locks not granted)
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        from bench.servers import database_url

        with psycopg.connect(database_url(), autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'), "
                    "count(*) FILTER (WHERE wait_event_type = 'Lock'), "
                    # Row locks wait on a transaction id, a lock with no database: by backend.
                    "(SELECT count(*) FROM pg_locks l JOIN pg_stat_activity w ON w.pid = l.pid "
                    "WHERE NOT l.granted AND w.datname = current_database()) "
                    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                self.samples.append(row)
                self.stop.wait(0.02)

    def result(self) -> dict:
        n = len(self.samples) or 1
        return {
            "samples": len(self.samples),
            "active_mean": sum(s[0] for s in self.samples) / n,
            "lock_waiting_mean": sum(s[1] for s in self.samples) / n,
            "lock_waiting_share": sum(1 for s in self.samples if s[1]) / n,
            "not_granted_max": max((s[2] for s in self.samples), default=0),
        }


def many(work: Workload, server: Gunicorn, *, clients: int, seconds: float, seed: int, locks: bool = False) -> dict:
    """`clients` processes moving cards for `seconds`; throughput, latency, CPU by party."""
    start_at = time.time() + 1.0
    jobs = [work.job(server.port, seed + i, kind="move", start_at=start_at, seconds=seconds) for i in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        pending = pool.map_async(client, jobs)
        while time.time() < start_at:
            time.sleep(0.002)
        server_pids, pg_pids = server.pids(), database_pids()
        server_cpu, pg_cpu, machine = cpu_seconds(server_pids), cpu_seconds(pg_pids), machine_busy()
        dead = deadlocks()
        sampler = LockSampler() if locks else None
        if sampler:
            sampler.start()
        time.sleep(seconds)
        server_after = cpu_seconds(server.pids())
        pg_after = cpu_seconds(set(pg_pids) | set(database_pids()))
        machine_after = machine_busy()
        if sampler:
            sampler.stop.set()
            sampler.join()
        results = pending.get()
    latencies = [v for r in results for v in r["latencies"]]
    statuses: dict[str, int] = {}
    for r in results:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    ok = statuses.get("200", 0)

    def used(before, after):
        return sum(after[p] - before.get(p, 0.0) for p in after)

    return {
        "label": server.label,
        "workers": server.workers,
        "seconds": seconds,
        "moves_per_s": ok / seconds,
        "errors": len(latencies) - ok,
        "statuses": statuses,
        "error_samples": [e for r in results for e in r["errors"]][:5],
        "latencies": latencies,
        "cpu": {
            "server": used(server_cpu, server_after),
            "postgres": used(pg_cpu, pg_after),
            "loaders": sum(r["cpu"] for r in results),
            "machine_busy": machine_after[0] - machine[0],
            "machine_total": machine_after[1] - machine[1],
        },
        "deadlocks": deadlocks() - dead,
        **({"locks": sampler.result()} if sampler else {}),
    }


def drift(project_id: int) -> int:
    from bench.concurrency import drift as concurrency_drift

    after = concurrency_drift(project_id)
    return after["cells"] + (0 if after["derived_status_ok"] else 1)


def merge(runs: list[dict]) -> dict:
    """Several turns of one server as one: throughput over all seconds, latencies pooled."""
    seconds = sum(r["seconds"] for r in runs)
    cpu = {key: sum(r["cpu"][key] for r in runs) for key in runs[0]["cpu"]}
    latencies = [v for r in runs for v in r["latencies"]]
    statuses: dict[str, int] = {}
    for r in runs:
        for status, n in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    merged = {
        "label": runs[0]["label"],
        "workers": runs[0]["workers"],
        "seconds": seconds,
        "moves_per_s": sum(r["moves_per_s"] * r["seconds"] for r in runs) / seconds,
        "per_turn": [round(r["moves_per_s"]) for r in runs],
        "errors": sum(r["errors"] for r in runs),
        "statuses": statuses,
        "error_samples": [e for r in runs for e in r["error_samples"]][:5],
        "latency": summary(latencies),
        "cpu": cpu,
        "deadlocks": sum(r["deadlocks"] for r in runs),
    }
    if "locks" in runs[0]:
        n = len(runs)
        merged["locks"] = {
            key: (max if key == "not_granted_max" else sum)(r["locks"][key] for r in runs)
            / (1 if key in ("not_granted_max", "samples") else n)
            for key in runs[0]["locks"]
        }
    return merged


def cpu_per_move(result: dict) -> dict:
    """Milliseconds of CPU per move for each party, and the rest of the machine (other helpers)."""
    moves = result["moves_per_s"] * result["seconds"] or 1
    cpu = result["cpu"]
    others = cpu["machine_busy"] - cpu["server"] - cpu["postgres"] - cpu["loaders"]
    return {
        "server": cpu["server"] / moves * 1000,
        "postgres": cpu["postgres"] / moves * 1000,
        "loaders": cpu["loaders"] / moves * 1000,
        "others": max(0.0, others) / moves * 1000,
        "machine_busy_pct": cpu["machine_busy"] / (cpu["machine_total"] or 1) * 100,
        "loader_share_pct": cpu["loaders"] / (cpu["machine_busy"] or 1) * 100,
    }


# -- the report --------------------------------------------------------------------------------


def header(command: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"{command}  at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"interpreter: {sys.executable} (Python {platform.python_version()}); PostgreSQL {server}; "
        f"{os.cpu_count()} cores; load average at the end {load}",
    ]


def f(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def measure(args) -> str:
    from bench.servers import gunicorn_workers

    print(f"building {args.cards:,} cards…", flush=True)
    project_id = build(args.cards)
    work = Workload(project_id)
    base_root = baseline_tree()
    workers = gunicorn_workers()
    ours = Gunicorn(ROOT, "ours", workers=workers)
    base = Gunicorn(base_root, f"baseline ({BASELINE})", workers=workers)
    singles: dict[str, dict[str, list]] = {s.label: {"create": [], "move": []} for s in (ours, base)}
    multi: dict[str, list[dict]] = {ours.label: [], base.label: []}
    with ours, base:
        for turn in range(args.rounds):
            order = [ours, base] if turn % 2 == 0 else [base, ours]
            for server in order:
                for kind in ("create", "move"):
                    r = single(work, server, kind, args.single, seed=1000 * turn + 10)
                    singles[server.label][kind] += r["latencies"]
                    bad = sum(n for s, n in r["statuses"].items() if s != "200")
                    if bad:
                        singles[server.label].setdefault("errors", []).extend(r["errors"] or [f"{bad} failed"])
            for server in order:
                r = many(work, server, clients=args.clients, seconds=args.seconds, seed=1000 * turn + 100)
                multi[server.label].append(r)
                print(
                    f"  turn {turn + 1} {server.label}: {r['moves_per_s']:.0f} moves/s, "
                    f"p95 {summary(r['latencies'])['p95']:.1f} ms, errors {r['errors']}",
                    flush=True,
                )
    off = drift(project_id)
    merged = {label: merge(runs) for label, runs in multi.items()}
    lines = header(f"python -m bench.writes --cards {args.cards} --seconds {args.seconds:g} --rounds {args.rounds}")
    lines += [
        f"data: one project of {args.cards:,} cards (5 columns, 1 in 50 archived); servers: gunicorn, "
        f"{workers} sync workers each (README 'Running in production'), DEBUG off, Redis on, "
        f"both up for the whole run on the same database; baseline = git worktree of {BASELINE} in "
        f"{base_root}",
        "",
        "1. One client (keep-alive connection, htmx headers), each request waiting for the one before",
        "",
        f"{'operation':10} {'server':24} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}   {'ratio p50':>9}",
    ]
    for kind in ("create", "move"):
        for label in (ours.label, base.label):
            s = summary(singles[label][kind])
            ratio = summary(singles[base.label][kind])["p50"] / s["p50"]
            lines.append(f"{kind:10} {label:24} {s['n']:>5} {s['p50']:>8.2f} {s['p95']:>8.2f}   {ratio:>8.2f}x")
    lines += [
        "",
        f"2. {args.clients} client processes moving random cards, {args.rounds} turns of {args.seconds:g} s each",
        "",
        f"{'server':24} {'moves/s':>8} {'per turn':>18} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} "
        f"{'CPU ms/move: server':>20} {'postgres':>8} {'loaders':>8} {'others':>7} {'busy%':>6} {'loaders%':>8}",
    ]
    for label in (ours.label, base.label):
        m = merged[label]
        c = cpu_per_move(m)
        lines.append(
            f"{label:24} {m['moves_per_s']:>8,.0f} {' '.join(map(str, m['per_turn'])):>18} "
            f"{m['latency']['p50']:>7.1f} {m['latency']['p95']:>7.1f} {m['errors']:>6} "
            f"{c['server']:>20.2f} {c['postgres']:>8.2f} {c['loaders']:>8.2f} {c['others']:>7.2f} "
            f"{c['machine_busy_pct']:>6.0f} {c['loader_share_pct']:>8.0f}"
        )
    ours_m, base_m = merged[ours.label], merged[base.label]
    ours_create = summary(singles[ours.label]["create"])
    ours_move = summary(singles[ours.label]["move"])
    errors = ours_m["errors"] + base_m["errors"] + len(singles[ours.label].get("errors", []))
    lines += [
        "",
        f"drift after every turn of both servers: {off} (counts row against a recount, plus 1 if the "
        "derived status is wrong)",
        "",
        "targets (ours):",
        f"  create p50 under 10 ms: {'met' if ours_create['p50'] < 10 else 'NOT met'} ({ours_create['p50']:.2f} ms)",
        f"  move p50 under 10 ms: {'met' if ours_move['p50'] < 10 else 'NOT met'} ({ours_move['p50']:.2f} ms)",
        f"  250 moves/s from {args.clients} clients: {'met' if ours_m['moves_per_s'] >= 250 else 'NOT met'} "
        f"({ours_m['moves_per_s']:.0f}; baseline {base_m['moves_per_s']:.0f}, "
        f"{ours_m['moves_per_s'] / base_m['moves_per_s']:.2f}x)",
        f"  move p95 under 50 ms: {'met' if ours_m['latency']['p95'] < 50 else 'NOT met'} "
        f"({ours_m['latency']['p95']:.1f} ms; baseline {base_m['latency']['p95']:.1f} ms)",
        f"  0 errors: {'met' if errors == 0 else 'NOT met'} ({errors}; "
        f"{ours_m['error_samples'] + base_m['error_samples'] + singles[ours.label].get('errors', [])[:3]})",
        f"  0 drift: {'met' if off == 0 else 'NOT met'} ({off})",
        "",
        "CPU ms/move: CPU seconds over the run divided by the moves answered 200. server: gunicorn's master",
        "and workers (/proc/<pid>/stat); postgres: the backends connected to this database",
        "(pg_stat_activity, /proc); loaders: the client processes' own process_time(); others: the rest",
        "of the machine's busy time (/proc/stat) in the same seconds, i.e. the other jobs sharing the",
        "machine. busy%: the machine's busy share of its cores; loaders%: the loaders' share of that.",
        "Throughput with 8 clients that each wait for their answer is 8 / mean latency (Little's law).",
    ]
    text = "\n".join(lines) + "\n"
    (args.out / "writes.txt").write_text(text)
    return text


def scaleout(args) -> str:
    print(f"building {args.cards:,} cards…", flush=True)
    project_id = build(args.cards)
    work = Workload(project_id)
    counts = [int(n) for n in args.workers.split(",")]
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    for turn in range(args.rounds):
        for n in counts if turn % 2 == 0 else list(reversed(counts)):
            with Gunicorn(ROOT, f"{n} workers", workers=n) as server:
                single(work, server, "move", 10, seed=7)  # every worker up and connected
                r = many(work, server, clients=args.clients, seconds=args.seconds, seed=1000 * turn, locks=True)
            runs[n].append(r)
            print(f"  turn {turn + 1}, {n} workers: {r['moves_per_s']:.0f} moves/s", flush=True)
    off = drift(project_id)
    merged = {n: merge(rs) for n, rs in runs.items()}
    lines = header(
        f"python -m bench.writes --scaleout --workers {args.workers} --cards {args.cards} "
        f"--seconds {args.seconds:g} --rounds {args.rounds}"
    )
    lines += [
        f"data: one project of {args.cards:,} cards; {args.clients} client processes moving random cards; "
        "the server: gunicorn with N sync workers behind one port (the master's listening socket, shared "
        f"by its workers), DEBUG off, Redis on; {args.rounds} turns of {args.seconds:g} s per N, N alternating",
        "",
        f"{'workers':>7} {'moves/s':>8} {'per turn':>14} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} "
        f"{'CPU ms/move: server':>20} {'postgres':>8} {'loaders':>8} {'others':>7} {'busy%':>6} "
        f"{'active':>6} {'lock-wait':>9} {'not granted':>11} {'deadlocks':>9}",
    ]
    for n in counts:
        m = merged[n]
        c = cpu_per_move(m)
        lk = m["locks"]
        lines.append(
            f"{n:>7} {m['moves_per_s']:>8,.0f} {' '.join(map(str, m['per_turn'])):>14} {m['latency']['p50']:>7.1f} "
            f"{m['latency']['p95']:>7.1f} {m['errors']:>6} {c['server']:>20.2f} {c['postgres']:>8.2f} "
            f"{c['loaders']:>8.2f} {c['others']:>7.2f} {c['machine_busy_pct']:>6.0f} {lk['active_mean']:>6.2f} "
            f"{lk['lock_waiting_share'] * 100:>8.1f}% {lk['not_granted_max']:>11.0f} {m['deadlocks']:>9}"
        )
    lines += [
        "",
        f"drift after every run: {off}",
        "",
        "CPU ms/move as in writes.txt (server: gunicorn master and workers; postgres: this database's",
        "backends; loaders: the clients; others: the rest of the machine's busy time, other jobs on it).",
        "busy%: the machine's busy share of its cores. active: mean number of this database's backends",
        "running a statement (pg_stat_activity sampled every 20 ms); lock-wait: share of samples in which",
        "at least one backend waited on a lock (wait_event_type = 'Lock'); not granted: most lock requests",
        "waiting at once (pg_locks); deadlocks: pg_stat_database.deadlocks during the run.",
    ]
    text = "\n".join(lines) + "\n"
    (args.out / "scaleout.txt").write_text(text)
    return text


def profile(args) -> str:
    from bench import writes_profile
    from bench.servers import gunicorn_workers

    print(f"building {args.cards:,} cards…", flush=True)
    project_id = build(args.cards)
    work = Workload(project_id)
    sections = []
    for root, label in ((baseline_tree(), f"baseline ({BASELINE})"), (ROOT, "ours")):
        out = SCRATCH / f"writes-profile-{label.split()[0]}"
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.pstats"):
            old.unlink()
        with Gunicorn(root, label, workers=gunicorn_workers(), profile_dir=out) as server:
            r = many(work, server, clients=args.clients, seconds=args.seconds, seed=5)
        stats = pstats.Stats(*[str(p) for p in out.glob("*.pstats")])
        sections.append(
            f"{label}: {r['moves_per_s']:.0f} moves/s under the profiler, p95 {summary(r['latencies'])['p95']:.0f} ms\n"
            + writes_profile.summarise(stats, label=label, root=root)
        )
    text = "\n".join(
        header(f"python -m bench.writes --profile --cards {args.cards} --seconds {args.seconds:g}")
        + [
            f"data: one project of {args.cards:,} cards; {args.clients} clients moving random cards for "
            f"{args.seconds:g} s against gunicorn ({gunicorn_workers()} sync workers) with every worker "
            "under cProfile from its 5th request to worker_exit (bench/writes_profile.py). cProfile",
            "slows Python calls several times over, so read the shares, not the milliseconds.",
            "",
        ]
        + sections
    )
    (args.out / "writes-profile.txt").write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10, help="per 8-client run")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each server")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--single", type=int, default=100, help="single-client requests per turn and kind")
    parser.add_argument("--scaleout", action="store_true", help="1, 2 and 4 workers: bench/results/scaleout.txt")
    parser.add_argument("--workers", default="1,2,4", help="with --scaleout: the worker counts")
    parser.add_argument("--profile", action="store_true", help="cProfile the workers: writes-profile.txt")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench.writes needs REDIS_URL (production settings: cache and live events in Redis).")
    configure()
    if args.profile:
        print(profile(args))
    elif args.scaleout:
        print(scaleout(args))
    else:
        print(measure(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
