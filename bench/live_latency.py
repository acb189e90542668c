"""Live push latency across two daphne processes: from a move's HTTP response to the others' sockets.

Two daphne processes share PostgreSQL and Redis. SOCKETS WebSocket clients watch one board, half
on each process; a separate page moves a card through process A (an htmx POST with its client
id), MOVES times, one after another. For every move and every watching socket we record when the
event carrying that move's sequence number arrived, measured from the HTTP response and from the
request, and write p50/p95/max to bench/results/live_latency.json.

    DATABASE_URL=… REDIS_URL=redis://127.0.0.1:6379/5 python -m bench.live_latency [--moves 200]
"""

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

from tests.support import ports

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "live_latency.json"
# Under pytest (the bench smoke test) a short run that leaves the recorded result alone.
SMOKE = bool(os.environ.get("PYTEST_VERSION"))
SMOKE_RESULTS = ROOT / "bench" / "results" / "scratch" / "live_latency.json"
SEQ = re.compile(r'data-seq="(\d+)"')


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tasktrack.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def make_board(watchers: int):
    """A workspace with a mover, `watchers` members and a project with two cards."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from boards import services
    from boards.models import Application, Membership

    tag = uuid.uuid4().hex[:8]
    application = Application.objects.create(name=f"Live bench {tag}")
    users = []
    for index in range(watchers + 1):
        user = get_user_model().objects.create_user(f"livebench-{tag}-{index}", first_name=f"Bench {index}")
        Membership.objects.create(application=application, user=user, role=Membership.Role.EDITOR)
        users.append(user)
    project = services.create_project(application=application, name="Live bench", key="LIVE")
    columns = list(project.task_statuses.order_by("position"))
    task = services.create_task(project=project, status_id=columns[0].pk, title="Moving card", reporter=users[0])
    services.create_task(project=project, status_id=columns[1].pk, title="Neighbour", reporter=users[0])

    def session(user):
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    return {
        "application": application,
        "project": project,
        "task": task,
        "columns": [column.pk for column in columns],
        "mover": session(users[0]),
        "watchers": [session(user) for user in users[1:]],
        "cookie_name": settings.SESSION_COOKIE_NAME,
        "csrf_name": settings.CSRF_COOKIE_NAME,
    }


class Daphne:
    """daphne on a socket already listening on a free port: no collision with any other server."""

    def __init__(self):
        env = {**os.environ, "LOG_LEVEL": "WARNING", "DB_POOL_MAX": "8"}
        daphne = str(Path(sys.executable).parent / "daphne")
        with ports.listening_socket() as listener:
            self.port = listener.getsockname()[1]
            self.process = subprocess.Popen(
                [daphne, "--fd", str(listener.fileno()), "tasktrack.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=[listener.fileno()],
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/login/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"daphne on {self.port} did not start")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Mover:
    """The page that moves the card: a session, the CSRF cookie, its live client id."""

    def __init__(self, base_url: str, board: dict):
        self.base_url = base_url
        self.board = board
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), urllib.request.ProxyHandler({})
        )
        self.client_id = "bench-mover"
        self.request("GET", f"/projects/{board['project'].pk}/")

    def request(self, method: str, path: str, data: dict | None = None):
        cookies = [f"{self.board['cookie_name']}={self.board['mover']}", *(f"{c.name}={c.value}" for c in self.jar)]
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        request.add_header("Cookie", "; ".join(cookies))
        if body is not None:
            token = next((c.value for c in self.jar if c.name == self.board["csrf_name"]), "")
            request.add_header("X-CSRFToken", token)
            request.add_header("HX-Request", "true")
            request.add_header("X-Live-Client", self.client_id)
        with self.opener.open(request, timeout=10) as response:
            response.read()
            return response.status

    def move(self, status_id: int) -> int:
        path = f"/projects/{self.board['project'].pk}/cards/{self.board['task'].pk}/move/"
        return self.request("POST", path, {"status_id": status_id})


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values_ms):
    return {
        "n": len(values_ms),
        "p50_ms": round(percentile(values_ms, 50), 2),
        "p95_ms": round(percentile(values_ms, 95), 2),
        "p99_ms": round(percentile(values_ms, 99), 2),
        "max_ms": round(max(values_ms), 2),
        "mean_ms": round(statistics.fmean(values_ms), 2),
    }


async def measure(board, servers, sockets: int, moves: int, pause: float):
    from websockets.asyncio.client import connect

    project_id = board["project"].pk
    arrivals: dict[int, list[tuple[int, float]]] = {}  # seq -> [(socket index, monotonic time)]
    connections = []

    async def watch(index, url, session):
        ws_url = url.replace("http://", "ws://") + f"/ws/projects/{project_id}/board/?client=bench-{index}"
        headers = {"Cookie": f"{board['cookie_name']}={session}"}
        socket = await connect(ws_url, origin=url, additional_headers=headers, proxy=None, max_queue=None)
        connections.append(socket)
        async for message in socket:
            if 'data-kind="change"' in message:
                found = SEQ.search(message)
                if found:
                    arrivals.setdefault(int(found.group(1)), []).append((index, time.monotonic()))

    tasks = []
    for index in range(sockets):
        server = servers[index % 2]
        session = board["watchers"][index % len(board["watchers"])]
        tasks.append(asyncio.create_task(watch(index, server.url, session)))
        await asyncio.sleep(0.02)  # a page load at a time, as people open a board
    await asyncio.sleep(3)  # let the joins' presence broadcasts settle

    from boards import history

    mover = Mover(servers[0].url, board)
    loop = asyncio.get_running_loop()
    samples = []
    columns = board["columns"]
    for number in range(moves):
        target = columns[(number + 1) % len(columns)]
        sent = time.monotonic()
        status = await loop.run_in_executor(None, mover.move, target)
        answered = time.monotonic()
        assert status == 200, status
        seq = await loop.run_in_executor(None, history.current_seq, project_id)
        samples.append((seq, sent, answered))
        await asyncio.sleep(pause)
    await asyncio.sleep(2)  # stragglers
    for socket in connections:
        await socket.close()
    for task in tasks:
        task.cancel()

    from_response, from_request, all_arrived = [], [], []
    missing = 0
    for seq, sent, answered in samples:
        got = arrivals.get(seq, [])
        missing += sockets - len({index for index, _ in got})
        for _, at in got:
            from_response.append((at - answered) * 1000)
            from_request.append((at - sent) * 1000)
        if len(got) >= sockets:
            all_arrived.append((max(at for _, at in got) - answered) * 1000)
    return {
        "from_http_response": summary(from_response),
        "from_http_request": summary(from_request),
        "last_socket_of_each_move_from_response": summary(all_arrived) if all_arrived else None,
        "deliveries_missing": missing,
        "deliveries_expected": sockets * moves,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=6 if SMOKE else 50)
    parser.add_argument("--moves", type=int, default=10 if SMOKE else 200)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between moves")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("live_latency needs REDIS_URL: two processes only share events through Redis.")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    board = make_board(watchers=10)
    load_before = os.getloadavg()
    servers = [Daphne(), Daphne()]
    try:
        for server in servers:
            server.wait_ready()
        result = asyncio.run(measure(board, servers, args.sockets, args.moves, args.pause))
    finally:
        for server in servers:
            server.stop()
        board["application"].delete()
    report = {
        "what": "time from a card move's HTTP response (process A) to each watching socket receiving its event",
        "setup": {
            "processes": 2,
            "sockets": args.sockets,
            "sockets_per_process": args.sockets // 2,
            "moves": args.moves,
            "pause_between_moves_s": args.pause,
            "cpus": os.cpu_count(),
            # The machine is shared: its load says how much of the latency is waiting for a CPU.
            "load_average_1_5_15_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        },
        **result,
        "note": (
            "The event is published from transaction.on_commit before the response is written, so a "
            "socket can get it before the mover's page gets its response: those samples are negative."
        ),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    output = SMOKE_RESULTS if SMOKE else RESULTS
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
