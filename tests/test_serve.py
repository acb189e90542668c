"""python -m tasktrack.serve: several daphne processes on one port, stopped together."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

from tests.support import ports, workers

pytestmark = pytest.mark.django_db(transaction=True)


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def serve():
    port = ports.free_port()
    env = {**os.environ, "DATABASE_URL": workers.database_url(settings.DATABASES["default"]), "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tasktrack.serve", "--workers", "2", "--port", str(port)],
        cwd=workers.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not answers(port):
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "tasktrack.serve did not answer within 60 s"
        time.sleep(0.2)
    yield process, port
    if process.poll() is None:
        for pid in children(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.kill()
        process.wait()


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc: no extra package)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def daphnes(process) -> list[int]:
    def command(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                return cmdline.read().decode()
        except OSError:
            return ""

    return [pid for pid in children(process.pid) if "daphne" in command(pid)]


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    """The pids still running (zombies aside) after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                        alive.append(pid)
            except OSError:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def test_workers_share_the_port_and_stop_together_on_sigterm(serve):
    process, port = serve
    workers_ = daphnes(process)
    assert len(workers_) == 2
    # Every worker serves: a connection to the port reaches one of them, and all of them answer.
    assert all(answers(port) for _ in range(20))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert wait_gone(workers_) == []
    assert not answers(port)


def test_one_worker_dying_stops_the_others_and_fails(serve):
    process, port = serve
    first, second = daphnes(process)
    os.kill(first, signal.SIGKILL)
    assert process.wait(timeout=30) == 1
    assert wait_gone([second]) == []
