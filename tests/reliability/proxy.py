"""A reverse proxy for tests that appends to X-Forwarded-For as nginx does
(`proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`), and the client side of it.

Loopback has every 127.x.y.z address, so a test can give each party an address of its own: a
client connects from 127.0.0.2, a proxy forwards from 127.0.0.3, and the server behind sees them
apart. One request per connection; enough for log-in pages, not for WebSockets.
"""

import http.client
import http.server
import re
import threading
import urllib.parse
from dataclasses import dataclass, field

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "x-forwarded-for"}


class AppendingProxy:
    """Listens on `listen` (port 0: the kernel's pick) and forwards to `upstream`, connecting from
    `source`; the address each request came from is appended to its X-Forwarded-For."""

    def __init__(self, upstream: tuple[str, int], *, listen: str = "127.0.0.1", source: str = "127.0.0.1"):
        self.upstream, self.source = upstream, source
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                claimed = self.headers.get_all("X-Forwarded-For") or []
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=30, source_address=(proxy.source, 0))
                try:
                    connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in HOP_BY_HOP:
                            connection.putheader(name, value)
                    connection.putheader("X-Forwarded-For", ", ".join([*claimed, self.client_address[0]]))
                    connection.putheader("Content-Length", str(len(body)))
                    connection.endheaders(body)
                    response = connection.getresponse()
                    content = response.read()
                finally:
                    connection.close()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = forward

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

        self.server = http.server.ThreadingHTTPServer((listen, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def __enter__(self) -> "AppendingProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dataclass
class Visitor:
    """A browser at `source` (a loopback address of its own) talking to `server` through proxies;
    it keeps cookies and sends whatever X-Forwarded-For it likes."""

    server: tuple[str, int]
    source: str
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict | None = None, forged: str | None = None):
        connection = http.client.HTTPConnection(*self.server, timeout=30, source_address=(self.source, 0))
        try:
            headers = {"Host": f"127.0.0.1:{self.server[1]}"}
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
            if forged:
                headers["X-Forwarded-For"] = forged
            body = None
            if data is not None:
                body = urllib.parse.urlencode(data)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0].strip('"')
            return response.status, text
        finally:
            connection.close()

    def log_in(self, username: str, password: str, *, forged: str | None = None) -> int:
        """The status of one log-in attempt (a fresh form each time, as a browser would)."""
        _, page = self.request("GET", "/login/", forged=forged)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        data = {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""}
        status, _ = self.request("POST", "/login/", data, forged=forged)
        return status
