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

from tests.reliability.conftest import server_errors
from tests.reliability.http import Browser
from tests.support.helpers import assert_counts_exact

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
        port = site.server.port
        for origin in [
            "https://evil.example",
            "http://127.0.0.1.evil.example",
            "null",
            None,
            f"https://127.0.0.1:{port}",  # this host and port, another scheme
            f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}",  # another port
            "http://127.0.0.1",  # no port: 80
            f"http://localhost:{port}",  # an allowed host, but not the one the page came from
        ]:
            with pytest.raises(InvalidStatus) as refused:
                site.socket(browser, origin=origin)
            assert refused.value.response.status_code == 403, origin
        with site.socket(browser) as socket:  # this very origin
            receive_until(socket, "hello")
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


def open_many(site, browser, n: int, sockets: contextlib.ExitStack) -> tuple[list, list[int | None]]:
    """Open n sockets one after the other (`sockets` closes them): those that said hello, and the
    others' close codes."""
    opened, refused = [], []
    for _ in range(n):
        socket = sockets.enter_context(site.socket(browser))
        try:
            message = socket.recv(timeout=10)
        except ConnectionClosed as closed:
            refused.append(closed.rcvd.code if closed.rcvd else None)
            continue
        if "hello" in message:
            opened.append(socket)
        else:
            refused.append(closed_with(socket))
    return opened, refused


class TestSocketsPerUser:
    def test_300_sockets_from_one_viewer_leave_20_open_and_events_cheap(self, site, viewer, editor, columns):
        """The viewer's sockets over 20 are closed with 4429 before they cost anything, and the
        ones left still get every change."""
        reader, writer = site.browser(viewer), site.browser(editor)
        with site.socket(writer) as bystander, contextlib.ExitStack() as sockets:
            receive_until(bystander, "hello")
            opened, refused = open_many(site, reader, 300, sockets)
            assert len(opened) == 20, (len(opened), refused[:5])
            assert refused == [4429] * 280
            response = writer.post(
                f"/projects/{site.project.pk}/columns/{columns['todo'].pk}/cards/new/",
                {"title": "Seen by twenty"},
                headers=HX,
            )
            assert response.status == 200
            receive_until(bystander, "Seen by twenty")
            for socket in opened:
                receive_until(socket, "Seen by twenty")
        # Closing gave the slots back.
        with contextlib.ExitStack() as sockets:
            again, refused = open_many(site, reader, 20, sockets)
            assert (len(again), refused) == (20, [])
        assert not server_errors(site.server.log())

    def test_the_limit_holds_over_two_servers_and_a_dead_ones_sockets_free_themselves(
        self, daphne, own_redis, project, viewer
    ):
        env = {"WS_SOCKETS_PER_USER": "6", "WS_SOCKET_TTL": "3"}
        first = Site(daphne(redis_url=own_redis.url, **env), project)
        second = Site(daphne(redis_url=own_redis.url, **env), project)
        reader = second.browser(viewer)
        with contextlib.ExitStack() as sockets:
            on_first, _ = open_many(first, first.browser(viewer), 4, sockets)
            on_second, refused = open_many(second, reader, 4, sockets)
            assert (len(on_first), len(on_second), refused) == (4, 2, [4429, 4429])
            first.server.process.kill()  # no goodbye: its four entries stay in Redis until they lapse
            first.server.process.wait(timeout=10)
            deadline = time.monotonic() + 15
            while len(on_second) < 6:
                more, refused = open_many(second, reader, 1, sockets)
                on_second += more
                if not more:
                    assert refused == [4429]
                    assert time.monotonic() < deadline, "the dead server's sockets never lapsed"
                    time.sleep(0.3)
            assert open_many(second, reader, 1, sockets) == ([], [4429])  # the four freed, and no more
        assert not server_errors(second.server.log())
