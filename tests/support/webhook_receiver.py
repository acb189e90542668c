"""A webhook receiver for tests: an HTTP server on loopback that records what it is sent."""

import contextlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


def _start(host: str, family):
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


@contextlib.contextmanager
def serving(host: str = "127.0.0.1"):
    """A Receiver listening on host (127.0.0.1 or ::1) until the block ends."""
    receiver, server, thread = _start(host, socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
