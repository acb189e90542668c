"""A tiny HTTP client with cookies and CSRF for driving a daphne subprocess over loopback.

Standard library only: the load workers import it in fresh processes without Django.
"""

import http.client
import re
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict
    body: str


@dataclass
class Browser:
    host: str
    port: int
    timeout: float = 10.0
    cookies: dict = field(default_factory=dict)

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            all_headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
            if self.cookies:
                all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if data is not None:
                body = urllib.parse.urlencode(data, doseq=True)
                all_headers["Content-Type"] = "application/x-www-form-urlencoded"
                all_headers.setdefault("X-CSRFToken", self.cookies.get("csrftoken", ""))
                all_headers.setdefault("Referer", f"http://{self.host}:{self.port}/")
            conn.request(method, path, body=body, headers=all_headers)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
            for name, value in raw.getheaders():
                if name.lower() == "set-cookie":
                    morsel = value.split(";", 1)[0]
                    key, _, val = morsel.partition("=")
                    self.cookies[key.strip()] = val.strip().strip('"')
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, text)
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict, headers: dict | None = None) -> Response:
        if "csrftoken" not in self.cookies:
            self.get("/login/")
        return self.request("POST", path, data=data, headers=headers)

    def login(self, username: str, password: str) -> Response:
        page = self.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        data = {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""}
        response = self.request("POST", "/login/", data=data)
        return response
