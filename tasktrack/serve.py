"""python -m tasktrack.serve [--workers N] [--bind HOST] [--port PORT] [-- DAPHNE ARGS]: N daphne processes, one port.

Python runs one thread at a time per process, so one daphne process uses one core however many
requests it holds. Here each worker gets a socket of its own bound to the same port with
SO_REUSEPORT, and the kernel spreads new connections across them. Each worker serves HTTP and
WebSockets; a change made through one reaches sockets on the others through channels-redis.

Stops every worker on SIGTERM or SIGINT, and all of them (exiting non-zero) when one dies.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAPHNE = Path(sys.executable).parent / "daphne"
# e.g. python -m tasktrack.serve --workers 4 --port 8001 -- --proxy-headers


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def start(workers: int, host: str, port: int, daphne_args: list[str] = ()) -> list[subprocess.Popen]:
    processes = []
    for _ in range(workers):
        sock = listening_socket(host, port)
        command = [str(DAPHNE), "--fd", str(sock.fileno()), *daphne_args, "tasktrack.asgi:application"]
        processes.append(subprocess.Popen(command, cwd=ROOT, pass_fds=[sock.fileno()]))
        sock.close()  # the worker holds its own copy
    return processes


def stop(processes: list[subprocess.Popen], timeout: float = 20) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasktrack.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="daphne processes (default: cores)")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("daphne_args", nargs=argparse.REMAINDER, help="after --: passed to every daphne")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    daphne_args = args.daphne_args[1:] if args.daphne_args[:1] == ["--"] else args.daphne_args
    processes = start(args.workers, args.bind, args.port, daphne_args)
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping and all(process.poll() is None for process in processes):
        time.sleep(0.2)
    failed = [process.returncode for process in processes if process.poll() not in (None, 0)]
    stop(processes)
    return 1 if failed and not stopping else 0


if __name__ == "__main__":
    sys.exit(main())
