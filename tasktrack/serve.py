"""python -m tasktrack.serve [--workers N] [--bind HOST] [--port PORT] [-- DAPHNE ARGS]: N daphne processes, one port.

Python runs one thread at a time per process, so one daphne process uses one core however many
requests it holds. Here each worker gets a socket of its own bound to the same port with
SO_REUSEPORT, and the kernel spreads new connections across them. Each worker serves HTTP and
WebSockets; a change made through one reaches sockets on the others through channels-redis.

Stops every worker on SIGTERM or SIGINT, and all of them (exiting non-zero) when one dies. Each
worker shuts down gracefully (tasktrack.shutdown): it stops accepting, closes its WebSockets with
1001, gives requests in flight SHUTDOWN_TIMEOUT seconds (default 10) and exits at most 2 s after
that; one still running KILL_MARGIN seconds later is killed.

--port 0 takes a port the kernel picks and prints it. Daphne's --proxy-headers is refused: it
takes the client's address from the first X-Forwarded-For entry, which the client writes;
tasktrack.middleware.ForwardedClientMiddleware reads the header for every server instead.
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
# e.g. python -m tasktrack.serve --workers 4 --port 8001 -- --websocket-max-message-size 65536
REFUSED = ("--proxy-headers", "--proxy-headers-host", "--proxy-headers-port")
KILL_MARGIN = 5  # seconds past SHUTDOWN_TIMEOUT; a worker exits by itself 2 s past it


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def shutdown_timeout() -> float:
    """settings.SHUTDOWN_TIMEOUT, read the same way: this supervisor does not load Django."""
    return float(os.environ.get("SHUTDOWN_TIMEOUT", "10"))


def start(workers: int, host: str, port: int, daphne_args: list[str] = ()) -> tuple[list[subprocess.Popen], int]:
    """The workers, and the port they share."""
    processes = []
    for _ in range(workers):
        sock = listening_socket(host, port)
        port = sock.getsockname()[1]  # port 0: the kernel's pick, then shared by the others
        command = [str(DAPHNE), "--fd", str(sock.fileno()), *daphne_args, "tasktrack.asgi:application"]
        processes.append(subprocess.Popen(command, cwd=ROOT, pass_fds=[sock.fileno()]))
        sock.close()  # the worker holds its own copy
    return processes, port


def stop(processes: list[subprocess.Popen], timeout: float | None = None) -> None:
    if timeout is None:
        timeout = shutdown_timeout() + KILL_MARGIN
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
    refused = [arg for arg in daphne_args if arg.split("=", 1)[0] in REFUSED]
    if refused:
        parser.error(
            f"{refused[0]} would take the client's address from the first X-Forwarded-For entry, which the "
            "client writes; set BEHIND_PROXY and TRUSTED_PROXIES instead (README, Operations)"
        )
    processes, port = start(args.workers, args.bind, args.port, daphne_args)
    print(f"tasktrack.serve: {args.workers} daphne workers on http://{args.bind}:{port}/", file=sys.stderr, flush=True)
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
