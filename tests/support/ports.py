"""Ports for the servers the tests start, picked by the kernel so that two suites can run side by side.

A fixed port fails a run whenever something else holds it: another checkout's suite, a server left
over from a killed run, a socket in TIME_WAIT. Here every server gets a port the kernel just found
free (bind to port 0): daphne and gunicorn adopt a socket already listening there, and a Redis
that still loses the race for its port is started again on another. No Django import: bench/
uses it too.
"""

import errno
import http.client
import socket
import time

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing is bound to now (the kernel's pick); the caller's server should bind it soon."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def listening_socket(port: int = 0, *, timeout: float = 10.0) -> socket.socket:
    """A socket already listening, for a server that adopts it (daphne --fd): no window in which
    another process could take the port. Port 0: a free one. A given port (a server restarted where
    its clients expect it) is retried until `timeout` while its previous owner lets it go. The
    caller closes its copy once the server has started."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket()
        # As servers do (daphne's own sockets, Redis): the connections this one accepts inherit the
        # option, so once they linger in TIME_WAIT after the server stops, they do not keep the
        # port from a server restarted on it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen(128)
        except OSError as error:
            sock.close()
            if error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            if port:
                time.sleep(0.1)
            continue
        sock.set_inheritable(True)
        return sock


_refusing: socket.socket | None = None


def refused_port() -> int:
    """A port where every connection is refused for the whole run: a service that is down.

    The port stays bound (never listening) by this process, so nothing else can listen there.
    """
    global _refusing
    if _refusing is None:
        _refusing = socket.socket()
        _refusing.bind((HOST, 0))
    return _refusing.getsockname()[1]


def answers_http(port: int, timeout: float = 2.0) -> bool:
    """Whether an HTTP server answers on the port (any status): up, not just listening."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", "/", headers={"Host": HOST})
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return True
