import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.queue import empty_queue


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every request, answers the queued replies in turn
    (then 200)."""

    host: str
    port: int
    requests: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict, bytes]] = field(default_factory=list)

    def url(self, path: str = "/hook") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def answer(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.replies.append((status, headers or {}, body))


def _start(host: str, family=socket.AF_INET):
    receiver = Receiver(host, 0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
            status, headers, reply = receiver.replies.pop(0) if receiver.replies else (200, {}, b"ok")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    server = Server((host, 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return receiver, server, thread


@pytest.fixture
def receiver():
    """An HTTP receiver on 127.0.0.1 (the only place webhook tests send to)."""
    receiver, server, thread = _start("127.0.0.1")
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def receiver6():
    """The same on ::1."""
    receiver, server, thread = _start("::1", socket.AF_INET6)
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def no_connections(monkeypatch):
    """Fails the test if any socket connects (or a name is looked up) from here on."""
    attempts = []

    def refuse_connect(sock, address):
        attempts.append(address)
        raise AssertionError(f"a socket tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    return attempts


@pytest.fixture
def private_allowed(settings):
    """Tests reach their own loopback receiver only with the instance's permission."""
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture
def empty_jobs(transactional_db):
    empty_queue()
    yield
    empty_queue()
