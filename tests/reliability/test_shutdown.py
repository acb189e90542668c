"""SIGTERM to daphne (alone, or to python -m tasktrack.serve): it stops accepting, closes board
sockets with 1001, lets a request in flight finish, and exits within a bound even while a render
keeps a thread busy (tasktrack.shutdown). The bounds are the point here, so they are timed."""

import http.client
import signal
import socket
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tasktrack.shutdown import EXIT_MARGIN
from tests.support.live_support import Daphne, Serve, session_cookie, ws_connect, ws_receive_until

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SLOW_SITE = "tests.reliability.slow_settings"
SLACK = 1.5  # seconds for the signal's delivery and the exit itself on a busy machine


@pytest.fixture(params=["daphne", "serve"])
def start(request):
    """start(shutdown_timeout) -> a server running the slow site: a plain daphne, or tasktrack.serve."""
    started = []

    def start(shutdown_timeout: float):
        kind = Daphne if request.param == "daphne" else Serve
        server = kind(DJANGO_SETTINGS_MODULE=SLOW_SITE, SHUTDOWN_TIMEOUT=str(shutdown_timeout))
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()  # SIGTERM: tasktrack.serve passes it on to its worker, SIGKILL would not
        else:
            server._wait_sessions_gone()


class InFlight(threading.Thread):
    """One GET in a thread of its own: its status and body, or the error that ended it."""

    def __init__(self, port: int, path: str):
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.result = None

    def run(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("GET", self.path, headers={"Host": "127.0.0.1"})
            response = connection.getresponse()
            self.result = (response.status, response.read().decode())
        except (OSError, http.client.HTTPException) as error:
            self.result = error
        finally:
            connection.close()


def wait_exit(server, bound: float) -> float:
    """Seconds from now until the process exits; fails when that takes longer than `bound`."""
    started = time.monotonic()
    try:
        server.process.wait(timeout=bound)
    except Exception:
        pytest.fail(f"still running {bound} s after SIGTERM")
    return time.monotonic() - started


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_board_sockets_close_with_1001_and_the_process_exits(start, editor, project):
    server = start(shutdown_timeout=5)
    with ws_connect(server.url, project.pk, session_cookie(editor)) as board:
        ws_receive_until(board, 'data-kind="hello"')
        server.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            board.recv(timeout=5)
    # 1001 "going away": the page reconnects (static/js/live.js), to a process that still runs.
    assert closed.value.rcvd is not None, "dropped without a close frame (the browser sees 1006)"
    assert closed.value.rcvd.code == 1001
    # Nothing in flight: no need to wait for the timeout.
    assert wait_exit(server, bound=5 + EXIT_MARGIN + SLACK) < 5


def test_a_request_in_flight_finishes_and_no_new_one_is_accepted(start):
    server = start(shutdown_timeout=8)
    request = InFlight(server.port, "/__slow__/sleep/3/")
    request.start()
    time.sleep(1)  # well inside the view by now
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert refuses_connections(server.port)
    request.join(timeout=10)
    assert request.result == (200, "slept 3")
    # It exits once that request is done, not at the timeout.
    assert wait_exit(server, bound=8 + EXIT_MARGIN + SLACK) < 8 - 1


def test_a_render_that_never_ends_is_cut_and_the_process_exits_within_the_bound(start):
    server = start(shutdown_timeout=2)
    request = InFlight(server.port, "/__slow__/render/120/")
    request.start()
    time.sleep(1)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    wait_exit(server, bound=2 + EXIT_MARGIN + SLACK)
    # The request was given its SHUTDOWN_TIMEOUT before being cut.
    assert time.monotonic() - signalled >= 2
    request.join(timeout=5)
    assert isinstance(request.result, (OSError, http.client.HTTPException)), request.result
