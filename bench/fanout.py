"""python -m bench.fanout [--sockets 50,200,500] [--moves 40]: one move seen by many sockets.

One board, N authenticated WebSocket connections (N/10 users, one in five a viewer: the cap is
settings.WS_SOCKETS_PER_USER per user) on `python -m tasktrack.serve --workers 2` (a daphne per
core on one port, SO_REUSEPORT spreads the sockets), channels-redis between them. A few more
sockets watch a second board of the same workspace and must hear nothing. The mover (this
process) moves a card over HTTP, one move after another, and for every move and socket we take
the time from the move's HTTP response (and request) to the socket's receipt.

The sockets live in a load client of their own (`--client`, one process, one asyncio loop);
CLOCK_MONOTONIC is shared by every process on the machine. Work per event, over the moves only:
CPU seconds of the two daphne processes, of Redis (a redis-server of this run's own, so no
other traffic is counted; --shared-redis uses REDIS_URL) and of the load client, from
/proc/<pid>/stat; PostgreSQL transactions and rows per event from pg_stat_database of the bench
database, which only this run's servers use (read after PGSTAT_WAIT s: a backend flushes its
counters when idle, at most every 10 s). Results in bench/results/fanout.txt.

    DATABASE_URL=postgres://… python -m bench.fanout --sockets 50,200,500
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fanout.txt"
SEQ = re.compile(r'data-seq="(\d+)"')
SOCKETS_PER_USER = 10  # half the cap: people keep a tab or two per board
VIEWER_EVERY = 5  # every fifth user is a viewer: the event goes out in two renders
OTHER_BOARD_SOCKETS = 10
PGSTAT_WAIT = 11.0  # PostgreSQL 15 backends flush idle counters after PGSTAT_IDLE_INTERVAL (10 s)
TICKS = os.sysconf("SC_CLK_TCK")


# The load client (its own process) ----------------------------------------------------------


async def client_main(config: dict) -> dict:
    """Open every socket, say ready, record every change event until told to stop."""
    from websockets.asyncio.client import connect

    base = config["url"]
    ws_base = base.replace("http://", "ws://")
    sockets = config["sockets"]  # [{"project": id, "session": value, "role": "editor"|"viewer"}]
    arrivals: list[tuple[int, int, float, int]] = []  # (socket, seq, monotonic, crc32 of the text)
    others: list[int] = []  # change events heard on the other board: must stay empty
    hello = [asyncio.Event() for _ in sockets]
    last_message = [time.monotonic()]
    opened = []
    refused = []
    retries = []

    async def session(index: int, spec: dict, gate: asyncio.Semaphore) -> str | None:
        """One connection: None once it was told hello and has closed, else why it failed first."""
        url = f"{ws_base}/ws/projects/{spec['project']}/board/?client=fan-{index}"
        headers = {"Cookie": f"{config['cookie_name']}={spec['session']}"}
        async with gate:
            try:
                socket = await connect(url, origin=base, additional_headers=headers, proxy=None, max_queue=None)
            except Exception as error:  # noqa: BLE001 - retried, then counted and reported
                return f"{type(error).__name__}: {error}"
        opened.append(socket)
        try:
            async for message in socket:
                now = time.monotonic()
                last_message[0] = now
                if 'data-kind="hello"' in message:
                    hello[index].set()
                elif 'data-kind="change"' in message:
                    found = SEQ.search(message)
                    seq = int(found.group(1)) if found else -1
                    if spec["moved"]:
                        arrivals.append((index, seq, now, zlib.crc32(message.encode())))
                    else:
                        others.append(seq)
        except Exception:  # noqa: BLE001, S110 - a socket closed by the server shows as missing deliveries
            pass
        return None if hello[index].is_set() else f"closed {socket.close_code}"

    async def watch(index: int, spec: dict, gate: asyncio.Semaphore):
        """A page's socket: like the page, it tries again when refused with 1013 or not answered."""
        for attempt in range(5):
            failure = await session(index, spec, gate)
            if failure is None:
                return
            retries.append(f"{index}: {failure}")
            if "4403" in failure or "4429" in failure:
                break
            await asyncio.sleep(0.5 * (attempt + 1))
        refused.append(f"{index}: {failure}")
        hello[index].set()

    gate = asyncio.Semaphore(25)  # pages open a few at a time
    tasks = [asyncio.create_task(watch(i, spec, gate)) for i, spec in enumerate(sockets)]
    for event in hello:
        await event.wait()
    while time.monotonic() - last_message[0] < 1.0:  # presence lists of the arrivals settle
        await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": len(opened), "refused": refused, "retries": retries}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    for socket in opened:
        await socket.close()
    for task in tasks:
        task.cancel()
    return {"arrivals": arrivals, "others": others, "refused": refused}


def run_client() -> None:
    config = json.loads(sys.stdin.readline())
    result = asyncio.run(client_main(config))
    print(json.dumps(result), flush=True)


# Measuring ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def pg_counters(conn) -> dict:
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, tup_inserted + tup_updated + tup_deleted"
        " FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    return dict(zip(("xacts", "returned", "fetched", "written"), row, strict=True))


class OwnRedis:
    """A redis-server for this run alone, on a port the kernel picked: its CPU is ours only."""

    def __init__(self):
        from tests.support import ports

        self.port = ports.free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import redis

        while True:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def redis_cpu(url: str) -> float:
    """Redis's own CPU from INFO (for a shared Redis: includes everyone's traffic)."""
    import redis

    info = redis.Redis.from_url(url).info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def make_board(sockets: int, others: int) -> dict:
    """A workspace: the mover, one user per SOCKETS_PER_USER sockets (every VIEWER_EVERY-th a
    viewer), a board with the moving card and a second board; sessions for everyone."""
    import uuid

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from boards import services
    from boards.models import Application, Membership

    tag = uuid.uuid4().hex[:8]
    application = Application.objects.create(name=f"Fan-out bench {tag}")

    def member(index: int, role: str):
        user = get_user_model().objects.create_user(f"fanout-{tag}-{index}", first_name=f"Fan {index}")
        Membership.objects.create(application=application, user=user, role=role)
        client = Client()
        client.force_login(user)
        return user, client.cookies[settings.SESSION_COOKIE_NAME].value

    reporter, mover = member(0, Membership.Role.EDITOR)
    users = -(-(sockets + others) // SOCKETS_PER_USER)
    people = []
    for index in range(1, users + 1):
        role = "viewer" if index % VIEWER_EVERY == 0 else "editor"
        people.append((member(index, role)[1], role))
    project = services.create_project(application=application, name="Fan-out bench", key="FAN")
    other = services.create_project(application=application, name="Elsewhere", key="ELS")
    columns = list(project.task_statuses.order_by("position"))
    task = services.create_task(project=project, status_id=columns[0].pk, title="Moving card", reporter=reporter)
    for index in range(20):  # a board with something on it
        column = columns[index % len(columns)]
        services.create_task(project=project, status_id=column.pk, title=f"Card {index}", reporter=reporter)
    return {
        "application": application,
        "project": project,
        "other": other,
        "task": task,
        "columns": [column.pk for column in columns],
        "mover": mover,
        "people": people,
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "csrf_name": settings.CSRF_COOKIE_NAME,
    }


def socket_specs(board: dict, sockets: int, others: int) -> list[dict]:
    """Sockets spread over the users SOCKETS_PER_USER at a time, as tabs are; then the other board's."""
    specs = []
    for index in range(sockets + others):
        session, role = board["people"][index // SOCKETS_PER_USER]
        moved = index < sockets
        specs.append(
            {
                "project": board["project"].pk if moved else board["other"].pk,
                "session": session,
                "role": role,
                "moved": moved,
            }
        )
    return specs


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def measure_size(server, worker_pids, board, sockets, args, redis_probe) -> dict:
    """One size: open the sockets, move MOVES times, gather arrivals and counters."""
    import psycopg

    from bench.live_latency import Mover
    from bench.servers import database_url
    from boards import history

    specs = socket_specs(board, sockets, OTHER_BOARD_SOCKETS)
    config = {"url": server_url(server), "cookie_name": board["cookie_name"], "sockets": specs}
    client = subprocess.Popen(
        [sys.executable, "-m", "bench.fanout", "--client"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    client.stdin.write(json.dumps(config) + "\n")
    client.stdin.flush()
    ready = json.loads(client.stdout.readline())
    mover = Mover(server_url(server), board)
    project_id = board["project"].pk
    columns = board["columns"]
    turn = [0]

    def move():
        turn[0] += 1
        sent = time.monotonic()
        status = mover.move(columns[turn[0] % len(columns)])
        answered = time.monotonic()
        assert status == 200, status
        return sent, answered

    for _ in range(3):  # warm-up: the servers' first renders, pools, caches
        move()
        time.sleep(args.pause)
    first_seq = history.current_seq(project_id) + 1
    from django.db import connections

    connections.close_all()  # this process stays off the bench database while it is measured
    with psycopg.connect(database_url(), autocommit=True) as pg:
        time.sleep(args.pgstat_wait)
        pg_before = pg_counters(pg)
        cpu_before = {
            "server": [cpu_seconds(pid) for pid in worker_pids],
            "redis": redis_probe(),
            "client": cpu_seconds(client.pid),
            "mover": time.process_time(),
        }
        started = time.monotonic()
        samples = []
        for number in range(args.moves):
            sent, answered = move()
            samples.append((first_seq + number, sent, answered))
            time.sleep(args.pause)
        time.sleep(1.0)  # stragglers
        wall = time.monotonic() - started
        cpu_after = {
            "server": [cpu_seconds(pid) for pid in worker_pids],
            "redis": redis_probe(),
            "client": cpu_seconds(client.pid),
            "mover": time.process_time(),
        }
        time.sleep(args.pgstat_wait)
        pg_after = pg_counters(pg)
    client.stdin.write("stop\n")
    client.stdin.flush()
    heard = json.loads(client.stdout.readline())
    client.wait(30)
    last_seq = history.current_seq(project_id)
    return {
        "sockets": sockets,
        "ready": ready,
        "specs": specs,
        "samples": samples,
        "heard": heard,
        "seq_ok": last_seq == first_seq + args.moves - 1,
        "wall": wall,
        "cpu": {key: _delta(cpu_before[key], cpu_after[key]) for key in cpu_before},
        "pg": {key: pg_after[key] - pg_before[key] for key in pg_before},
    }


def _delta(before, after):
    if isinstance(before, list):
        return [b - a for a, b in zip(before, after, strict=True)]
    return after - before


def server_url(server) -> str:
    return f"http://127.0.0.1:{server.port}"


def analyse(run: dict, moves: int) -> dict:
    """Latencies, missing and duplicate deliveries, leaks and renders per role, work per event."""
    specs, sockets = run["specs"], run["sockets"]
    by_seq: dict[int, list] = {}
    for index, seq, at, crc in run["heard"]["arrivals"]:
        by_seq.setdefault(seq, []).append((index, at, crc))
    from_response, from_request, last = [], [], []
    missing = duplicates = 0
    variants = 0  # most distinct texts one role got for one event (1: rendered once per role)
    for seq, sent, answered in run["samples"]:
        got = by_seq.get(seq, [])
        indices = [index for index, _, _ in got]
        missing += sockets - len(set(indices))
        duplicates += len(indices) - len(set(indices))
        for _, at, _ in got:
            from_response.append((at - answered) * 1000)
            from_request.append((at - sent) * 1000)
        if got:
            last.append((max(at for _, at, _ in got) - answered) * 1000)
        for role in ("editor", "viewer"):
            texts = {crc for index, _, crc in got if specs[index]["role"] == role}
            variants = max(variants, len(texts))
    server = sum(run["cpu"]["server"])
    return {
        "sockets": sockets,
        "users": len({spec["session"] for spec in specs if spec["moved"]}),
        "ready": run["ready"]["ready"],
        "refused": len(run["ready"]["refused"]),
        "reconnects": len(run["ready"]["retries"]),
        "retried": run["ready"]["retries"][:5],
        "deliveries": sockets * moves,
        "missing": missing,
        "duplicates": duplicates,
        "leaked": len(run["heard"]["others"]),
        "variants": variants,
        "seq_ok": run["seq_ok"],
        "resp": [percentile(from_response, p) for p in (50, 95, 99)] + [max(from_response, default=float("nan"))],
        "req": [percentile(from_request, p) for p in (50, 95, 99)],
        "last": [percentile(last, 50), percentile(last, 95)],
        "server_ms": server / moves * 1000,
        "workers_ms": [cpu / moves * 1000 for cpu in run["cpu"]["server"]],
        "redis_ms": run["cpu"]["redis"] / moves * 1000,
        "client_ms": run["cpu"]["client"] / moves * 1000,
        "mover_ms": run["cpu"]["mover"] / moves * 1000,
        "client_share": run["cpu"]["client"] / (run["wall"] * (os.cpu_count() or 1)),
        "client_of_all": run["cpu"]["client"] / max(1e-9, run["cpu"]["client"] + server + run["cpu"]["redis"]),
        "xacts": run["pg"]["xacts"] / moves,
        "fetched": run["pg"]["fetched"] / moves,
        "returned": run["pg"]["returned"] / moves,
        "written": run["pg"]["written"] / moves,
    }


def fit(rows: list[dict]) -> tuple[float, float]:
    """Server CPU per event = a + b * sockets, least squares: (a ms, b µs per socket)."""
    if len(rows) < 2:
        return float("nan"), float("nan")
    xs = [row["sockets"] for row in rows]
    ys = [row["server_ms"] for row in rows]
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope * 1000


def write(rows: list[dict], args, header: dict, out: Path) -> str:
    ours = [row for row in rows if row["variant"] == "ours"]
    base = {row["sockets"]: row for row in rows if row["variant"] == "baseline"}
    fits = {name: fit([row for row in rows if row["variant"] == name]) for name in ("ours", "baseline")}
    biggest = max(ours, key=lambda row: row["sockets"])
    spread = max(row["xacts"] for row in ours) - min(row["xacts"] for row in ours)
    correct = all(
        row["missing"] == 0
        and row["duplicates"] == 0
        and row["leaked"] == 0
        and row["variants"] <= 1
        and row["seq_ok"]
        and row["refused"] == 0
        for row in rows
    )
    xacts = ", ".join(f"{row['xacts']:.1f}" for row in ours)
    baseline = f"; baseline: commit {header['baseline']} (a git worktree)" if header["baseline"] else ""
    lines = [
        f"{header['command']}  at {header['at']}",
        f"interpreter: {sys.executable} (Python {platform.python_version()}); {header['postgres']}; "
        f"{os.cpu_count()} cores; load average at the start {header['load_start']}, at the end {header['load_end']}",
        "server: python -m tasktrack.serve --workers 2 (a daphne per core, one port, SO_REUSEPORT); "
        f"channels-redis on {header['redis']}{baseline}",
        f"{args.moves} moves per size and server, {args.pause} s apart, after 3 warm-up moves; "
        "the two servers take turns size by size",
        "",
        "delivery, ms from the move's HTTP response (request) to each socket's receipt",
        f"{'server':<8} {'sockets':>7} {'users':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'req p95':>8} "
        f"{'last p95':>9} {'missing':>8} {'dup':>4} {'leaked':>6} {'texts/role':>10} {'reconnects':>10}",
    ]
    for row in rows:
        lines.append(
            f"{row['variant']:<8} {row['sockets']:>7} {row['users']:>5} {row['resp'][0]:>7.1f} {row['resp'][1]:>7.1f} "
            f"{row['resp'][2]:>7.1f} {row['resp'][3]:>7.1f} {row['req'][1]:>8.1f} {row['last'][1]:>9.1f} "
            f"{row['missing']:>8} {row['duplicates']:>4} {row['leaked']:>6} {row['variants']:>10} "
            f"{row['reconnects']:>10}"
        )
    lines += [
        "",
        "work per event (one move and its fan-out), over the measured moves",
        f"{'server':<8} {'sockets':>7} {'server CPU ms':>13} {'(worker A, B)':>15} {'Redis CPU ms':>12} "
        f"{'PG xacts':>8} {'rows fetched':>12} {'client CPU ms':>13} {'client share':>12}",
    ]
    for row in rows:
        workers = ", ".join(f"{ms:.1f}" for ms in row["workers_ms"])
        lines.append(
            f"{row['variant']:<8} {row['sockets']:>7} {row['server_ms']:>13.2f} {'(' + workers + ')':>15} "
            f"{row['redis_ms']:>12.2f} {row['xacts']:>8.1f} {row['fetched']:>12.1f} {row['client_ms']:>13.2f} "
            f"{row['client_share'] * 100:>11.1f}%"
        )
    lines.append("")
    for name, (a, b) in fits.items():
        if a == a:  # not nan
            lines.append(f"{name}: server CPU per event = {a:.1f} ms + {b:.0f} µs x sockets (least squares)")
    if base:
        lines.append(
            "ours / baseline, server CPU per event: "
            + ", ".join(
                f"{row['sockets']} sockets {row['server_ms'] / base[row['sockets']]['server_ms']:.2f}x"
                for row in ours
                if row["sockets"] in base
            )
            + "; p95 delivery: "
            + ", ".join(
                f"{row['sockets']} sockets {row['resp'][1]:.0f} vs {base[row['sockets']]['resp'][1]:.0f} ms"
                for row in ours
                if row["sockets"] in base
            )
        )
    lines += [
        "",
        f"target: p95 delivery under 250 ms at {biggest['sockets']} sockets: "
        f"{'met' if biggest['resp'][1] < 250 else 'missed'} ({biggest['resp'][1]:.1f} ms)",
        f"target: database work per event independent of the sockets: {'met' if spread < 2 else 'missed'} "
        f"({xacts} transactions per event at {', '.join(str(row['sockets']) for row in ours)} sockets)",
        f"correctness: every socket got every event once, the other board's {OTHER_BOARD_SOCKETS} sockets nothing, "
        f"one text per role and event: {'yes' if correct else 'NO'}",
        "",
        "What is measured. Each size opens its sockets from a load client of its own (one process, one",
        f"asyncio loop; {SOCKETS_PER_USER} sockets per user, every {VIEWER_EVERY}th user a viewer, so an event",
        "goes out as two texts, the editors' and the viewers'), waits until the presence lists settle, then this",
        "process moves one card over HTTP (urllib, one request at a time, landing on either worker) and",
        "each socket records the monotonic time its change event arrived. 'last p95' is the p95 over the",
        "moves of the slowest socket's delivery. 'reconnects': sockets refused while opening (1013 when",
        "joining the group timed out) and opened again, as the page does. 'texts/role': the most",
        "distinct texts the sockets of one role received for one event (1: every editor got the same",
        "bytes, every viewer the same).",
        "Server CPU: utime+stime of both daphne workers from /proc/<pid>/stat across the measured moves",
        "(the HTTP move itself included). Redis CPU: the server's own redis-server, from /proc.",
        "PG xacts: transactions committed or rolled back in the bench database (a statement outside",
        "atomic() is one, a write's atomic() block one), with rows fetched, per event; only this run's",
        "servers use that database. A socket's cached role is read again after ROLE_TTL (60 s): up to",
        "one read per user and process a minute, whatever the events. Client share: the load client's",
        "CPU over the measured wall time, as a share of all cores.",
        "",
        "Where the work goes. The publisher renders an event once, on commit, in the writing process",
        "(boards.live.fragments.render_change: one text for editors, one for viewers; 3 queries) and",
        "sends it with one group_send; channels-redis 4.3 writes it once per server process, not per",
        "socket (one Redis list per process, the message naming that process's sockets), and each",
        "process hands it to its local consumers. A consumer checks membership against the per-process",
        "role cache (boards.live.sockets, no query) and writes the text to its socket. What grows with",
        "the sockets is each consumer's share: channels-redis's receive loop and channels' dispatch,",
        "then daphne/autobahn writing the WebSocket frame. The baseline's dispatch also closed stale",
        "database connections before every group message (channels' AsyncConsumer.dispatch: a hop",
        "to the one thread-sensitive thread and back per socket per event); ours skips that for group",
        "messages, whose handlers query only through database_sync_to_async.",
    ]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def configure(shared_redis: bool):
    from bench.run import configure_environment, ensure_database

    redis_server = None
    if not shared_redis:
        redis_server = OwnRedis()
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_server.port}/0"
    elif not os.environ.get("REDIS_URL"):
        sys.exit("bench.fanout --shared-redis needs REDIS_URL")
    url = configure_environment()
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    return redis_server


def baseline_tree(commit: str) -> Path:
    """A git worktree of the baseline commit in /tmp (made once, never committed to), its static
    files collected: DEBUG is off, pages need the manifest."""
    resolved = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = Path("/tmp") / f"tasktrack-fanout-baseline-{resolved}"
    if not (tree / "manage.py").exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), resolved], cwd=ROOT, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=tree, env=os.environ, check=True
    )
    return tree


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="50,200,500", help="comma-separated socket counts")
    parser.add_argument("--moves", type=int, default=40, help="measured moves per size")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between moves")
    parser.add_argument("--pgstat-wait", type=float, default=PGSTAT_WAIT)
    parser.add_argument("--baseline", default="0f2074d", help="commit measured side by side ('none': skip)")
    parser.add_argument("--shared-redis", action="store_true", help="use REDIS_URL, not a redis-server of our own")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        run_client()
        return 0
    sizes = [int(size) for size in args.sockets.split(",") if size.strip()]
    if not sizes or min(sizes) < 1:
        parser.error("--sockets takes positive counts")
    command = "python -m bench.fanout " + " ".join(argv if argv is not None else sys.argv[1:])
    load_start = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    redis_server = configure(args.shared_redis)
    from django.db import connection

    from bench.servers import Server

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = f"PostgreSQL {cursor.fetchone()[0]}"
    roots = {"ours": ROOT}
    if args.baseline != "none":
        roots["baseline"] = baseline_tree(args.baseline)
    board = make_board(max(sizes), OTHER_BOARD_SOCKETS)
    rows = []
    redises = {}
    try:
        with contextlib.ExitStack() as stack:
            servers = {}
            for name, root in roots.items():
                # Each server has a Redis of its own, so each one's Redis CPU is its own.
                own = redis_server if name == "ours" or redis_server is None else OwnRedis()
                if own is not None:
                    if own is not redis_server:
                        stack.callback(own.stop)
                    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{own.port}/0"
                    redises[name] = own_probe(own.process.pid)
                else:
                    redises[name] = shared_probe(os.environ["REDIS_URL"])
                server = stack.enter_context(Server("daphne-workers", root=root))
                workers = children(server.process.pid)
                assert len(workers) == 2, workers
                servers[name] = (server, workers)
            for turn, sockets in enumerate(sizes):
                names = list(servers) if turn % 2 == 0 else list(reversed(servers))  # turn by turn
                for name in names:
                    server, workers = servers[name]
                    run = measure_size(server, workers, board, sockets, args, redises[name])
                    row = {"variant": name, **analyse(run, args.moves)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    finally:
        board["application"].delete()
        if redis_server is not None:
            redis_server.stop()
    header = {
        "command": command.strip(),
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "postgres": postgres,
        "redis": "a redis-server of its own per server" if redis_server is not None else "REDIS_URL (shared)",
        "load_start": load_start,
        "load_end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "baseline": None if args.baseline == "none" else args.baseline,
    }
    print(write(rows, args, header, args.out))
    return 0


def own_probe(pid: int):
    return lambda: cpu_seconds(pid)


def shared_probe(url: str):
    return lambda: redis_cpu(url)


if __name__ == "__main__":
    sys.exit(main())
