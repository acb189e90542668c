"""The board's WebSocket under abuse and faults, end to end: a real daphne, real frames.

Foreign origins, strangers, malformed, binary and oversized frames, floods; and Redis stopped
and started under live sockets: push pauses, the site keeps working, push comes back by itself.
"""

import contextlib
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.helpers import assert_counts_exact
from tests.reliability.conftest import server_errors
from tests.reliability.http import Browser

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

HX = {"HX-Request": "true"}


class Site:
    def __init__(self, server, project):
        self.server, self.project = server, project
        self.origin = f"http://127.0.0.1:{server.port}"

    def browser(self, user) -> Browser:
        browser = Browser("127.0.0.1", self.server.port)
        response = browser.login(user.username, "secret-pass")
        error = response.body.split('role="alert">', 1)[-1][:200] if 'role="alert"' in response.body else ""
        assert response.status == 302, (response.status, error, self.server.log()[-2000:])
        return browser

    def socket(self, browser: Browser | None, *, origin: str | None = "same", project_id=None, **kwargs):
        cookie = "; ".join(f"{k}={v}" for k, v in (browser.cookies if browser else {}).items())
        return connect(
            f"ws://127.0.0.1:{self.server.port}/ws/projects/{project_id or self.project.pk}/board/",
            origin=self.origin if origin == "same" else origin,
            additional_headers={"Cookie": cookie} if cookie else None,
            open_timeout=10,
            close_timeout=5,
            **kwargs,
        )

    def healthy(self, browser: Browser) -> None:
        assert browser.get(self.project.get_absolute_url()).status == 200


def receive_until(socket, needle: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no message containing {needle!r}"
        message = socket.recv(timeout=left)
        if isinstance(message, str) and needle in message:
            return message


def closed_with(socket, timeout: float = 10) -> int | None:
    """Read until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=deadline - time.monotonic())
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


@pytest.fixture
def site(daphne, own_redis, project):
    return Site(daphne(redis_url=own_redis.url), project)


class TestWhoMayConnect:
    def test_foreign_or_missing_origin_is_refused_at_the_handshake(self, site, editor):
        browser = site.browser(editor)
        for origin in ["https://evil.example", "http://127.0.0.1.evil.example", "null", None]:
            with pytest.raises(InvalidStatus) as refused:
                site.socket(browser, origin=origin)
            assert refused.value.response.status_code == 403, origin
        site.healthy(browser)

    def test_strangers_and_anonymous_are_closed_4403(self, site, outsider, editor):
        for browser in (site.browser(outsider), None):
            with site.socket(browser) as socket:
                assert closed_with(socket) == 4403
        with site.socket(site.browser(editor), project_id="99999999999999999999") as socket:
            assert closed_with(socket) == 4403


class TestHostileFrames:
    def test_malformed_frames_are_ignored(self, site, editor, columns):
        browser = site.browser(editor)
        frames = [
            "not json",
            "[1, 2, 3]",
            "null",
            '{"type": "lock", "task": "99999999999999999999"}',
            '{"type": "lock", "task": {"$gt": 1}}',
            '{"type": "unlock", "task": -1}',
            '{"type": "' + "x" * 10_000 + '"}',
            "{" * 10_000,
            b"\x00\xff binary",
        ]
        with site.socket(browser) as socket:
            receive_until(socket, "hello")
            for index, frame in enumerate(frames):
                socket.send(frame)
                # Still open and still live: a change made now reaches it.
                response = browser.post(
                    f"/projects/{site.project.pk}/columns/{columns['todo'].pk}/cards/new/",
                    {"title": f"after junk {index}"},
                    headers=HX,
                )
                assert response.status == 200
                receive_until(socket, f"after junk {index}")
        assert not server_errors(site.server.log())

    def test_oversized_message_closes_only_that_socket(self, site, editor, viewer):
        browser = site.browser(editor)
        with site.socket(site.browser(viewer)) as bystander, site.socket(browser, max_size=None) as socket:
            receive_until(socket, "hello")
            # Over daphne's 1 MiB message limit; daphne may drop the connection mid-frame.
            with contextlib.suppress(ConnectionClosed):
                socket.send("x" * (2 * 1024 * 1024))
            # 1009 "message too big", or no close frame at all when the connection was dropped.
            assert closed_with(socket) in (1009, None), site.server.log()[-3000:]
            site.healthy(browser)
            receive_until(bystander, "hello")
            bystander.send(json.dumps({"type": "ping"}))
            with site.socket(browser) as again:
                receive_until(again, "hello")
        assert not server_errors(site.server.log())

    def test_flood_is_cut_off_and_others_are_unaffected(self, site, editor, viewer, columns):
        browser = site.browser(editor)
        with site.socket(site.browser(viewer)) as bystander, site.socket(browser) as flooder:
            receive_until(bystander, "hello")
            receive_until(flooder, "hello")
            with contextlib.suppress(ConnectionClosed):
                for _ in range(200):  # ten times the limit of 20 a second
                    flooder.send('{"type": "ping"}')
            assert closed_with(flooder) == 4429, site.server.log()[-4000:]
            browser.post(
                f"/projects/{site.project.pk}/columns/{columns['todo'].pk}/cards/new/",
                {"title": "after the flood"},
                headers=HX,
            )
            receive_until(bystander, "after the flood")
        assert not server_errors(site.server.log())


class TestRedisOutage:
    def test_push_pauses_while_redis_is_down_and_resumes_by_itself(self, site, own_redis, editor, viewer, columns):
        writer = site.browser(editor)
        watcher = site.browser(viewer)
        create = f"/projects/{site.project.pk}/columns/{columns['todo'].pk}/cards/new/"
        with site.socket(watcher) as socket:
            receive_until(socket, "hello")
            writer.post(create, {"title": "before the outage"}, headers=HX)
            receive_until(socket, "before the outage")

        own_redis.stop()
        # Pages and writes go on; a socket is turned away (or told to retry) instead of hanging.
        for n in range(3):
            assert writer.post(create, {"title": f"during the outage {n}"}, headers=HX).status == 200
            assert watcher.get(site.project.get_absolute_url()).status == 200
        try:
            with site.socket(watcher) as socket:
                code = closed_with(socket)
                assert code in (1011, 1013, None)
        except InvalidStatus:
            pass

        own_redis.start()
        # The same daphne, not restarted: a new socket is live again.
        deadline = time.monotonic() + 20
        while True:
            try:
                with site.socket(watcher) as socket:
                    receive_until(socket, "hello", timeout=5)
                    writer.post(create, {"title": "after the outage"}, headers=HX)
                    receive_until(socket, "after the outage")
                    # Presence too: the writer opening the board shows up for the watcher.
                    with site.socket(writer) as other:
                        receive_until(other, "hello", timeout=5)
                        receive_until(socket, f'data-user="{editor.pk}"')
                    break
            except (ConnectionClosed, InvalidStatus, AssertionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert not server_errors(site.server.log()), server_errors(site.server.log())
        assert_counts_exact(site.project)
