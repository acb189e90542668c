"""The board WebSocket on the real stack: origin check, session auth, channels-redis, PostgreSQL."""

import asyncio
import contextlib
import logging
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.db import transaction
from django.test import override_settings

from boards import live, services
from boards.live import presence
from boards.models import Membership
from tasktrack.asgi import application as asgi_application
from tests.factories import MembershipFactory, UserFactory, make_project
from tests.support.live_support import board_path, column_count, open_socket, receive_until, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.timeout(60),
]


def group_size(project_id: int) -> int:
    layer = get_channel_layer()

    async def count():
        connection = layer.connection(layer.consistent_hash(live.group_name(project_id)))
        return await connection.zcard(layer._group_key(live.group_name(project_id)))

    return async_to_sync(count)()


def named_editor(application, first, last):
    user = UserFactory(first_name=first, last_name=last)
    MembershipFactory(application=application, user=user, role=Membership.Role.EDITOR)
    return user


def test_the_suite_runs_on_channels_redis():
    assert isinstance(get_channel_layer(), RedisChannelLayer)


class TestConnect:
    def test_member_is_accepted_and_told_the_sequence(self, project, columns, editor):
        for title in ("One", "Two"):
            services.create_task(project=project, status_id=columns["todo"].pk, title=title, reporter=editor)
        seq = live.current_seq(project.pk)
        assert seq >= 2
        cookie = session_cookie(editor)

        async def scenario():
            socket, connected = await open_socket(project.pk, cookie=cookie)
            assert connected
            hello = await socket.receive_from(timeout=5)
            assert 'data-kind="hello"' in hello
            assert f'data-seq="{seq}"' in hello
            await socket.disconnect()

        async_to_sync(scenario)()

    @pytest.mark.parametrize("who", ["anonymous", "outsider"])
    def test_non_member_is_closed_4403_before_joining(self, project, outsider, who):
        cookie = session_cookie(outsider) if who == "outsider" else None

        async def scenario():
            socket, connected = await open_socket(project.pk, cookie=cookie)
            assert connected  # accepted only to carry the close code
            message = await socket.receive_output(timeout=5)
            assert message == {"type": "websocket.close", "code": 4403}
            assert await socket.receive_nothing(timeout=0.2)
            await socket.wait()

        async_to_sync(scenario)()
        assert group_size(project.pk) == 0

    def test_foreign_origin_is_refused(self, project, editor):
        cookie = session_cookie(editor)

        async def scenario():
            socket, connected = await open_socket(project.pk, cookie=cookie, origin="http://evil.example")
            assert not connected

        async_to_sync(scenario)()
        assert group_size(project.pk) == 0


class TestEvents:
    def test_move_reaches_other_viewers_and_only_its_number_reaches_its_page(self, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Ship it", reporter=editor)
        mover, watcher = session_cookie(editor), session_cookie(owner)

        async def scenario():
            origin, _ = await open_socket(project.pk, cookie=mover, client_id="page-a")
            other, _ = await open_socket(project.pk, cookie=watcher, client_id="page-b")
            await receive_until(origin, "hello")
            await receive_until(other, "hello")

            def move():
                token = live.origin_client.set("page-a")
                try:
                    services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk)
                finally:
                    live.origin_client.reset(token)

            await sync_to_async(move)()
            html = await receive_until(other, 'id="live-meta"')
            assert 'data-kind="change"' in html
            assert f'<div hx-swap-oob="delete:#card-{task.pk}"></div>' in html
            assert f'hx-swap-oob="afterbegin:#column-{columns["active"].pk}-cards"' in html
            assert "Ship it" in html
            assert column_count(html, columns["todo"].pk) == 0
            assert column_count(html, columns["active"].pk) == 1
            assert f'id="project-{project.pk}-status"' in html
            assert f'id="project-{project.pk}-progress"' in html

            own = await receive_until(origin, 'id="live-meta"')
            assert 'data-kind="own"' in own
            assert "Ship it" not in own
            await origin.disconnect()
            await other.disconnect()

        async_to_sync(scenario)()

    def test_move_through_the_http_view_reaches_other_viewers(self, client, project, columns, editor, owner, viewer):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Drag me", reporter=editor)
        watcher, reader = session_cookie(owner), session_cookie(viewer)
        client.force_login(editor)

        async def scenario():
            other, _ = await open_socket(project.pk, cookie=watcher)
            read_only, _ = await open_socket(project.pk, cookie=reader)
            await receive_until(other, "hello")
            await receive_until(read_only, "hello")
            response = await sync_to_async(client.post)(
                f"/projects/{project.pk}/cards/{task.pk}/move/",
                {"status_id": columns["review"].pk},
                headers={"X-Live-Client": "page-a", "HX-Request": "true"},
            )
            assert response.status_code == 200
            html = await receive_until(other, "Drag me")
            assert column_count(html, columns["review"].pk) == 1
            assert 'class="card-menu-button"' in html  # an editor's card opens the move menu
            seen = await receive_until(read_only, "Drag me")
            assert column_count(seen, columns["review"].pk) == 1
            assert "card-menu-button" not in seen  # a viewer's card has no menu
            await other.disconnect()
            await read_only.disconnect()

        async_to_sync(scenario)()

    def test_each_event_carries_its_history_sequence_numbers(self, project, columns, editor, owner):
        one = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        two = services.create_task(project=project, status_id=columns["todo"].pk, title="Two", reporter=editor)
        start = live.current_seq(project.pk)
        cookie = session_cookie(owner)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            assert f'data-seq="{start}"' in await receive_until(socket, "hello")
            await sync_to_async(services.move_task)(project=project, task_id=one.pk, status_id=columns["done"].pk)
            first = await receive_until(socket, 'data-kind="change"')
            await sync_to_async(services.bulk_move_tasks)(
                project=project, task_ids=[one.pk, two.pk], status_id=columns["active"].pk
            )
            bulk = await receive_until(socket, 'data-kind="change"')
            await socket.disconnect()
            return first, bulk

        first, bulk = async_to_sync(scenario)()
        assert f'data-seq="{start + 1}"' in first
        assert "data-first-seq" not in first
        assert f'data-seq="{start + 3}" data-first-seq="{start + 2}"' in bulk  # two cards, two events
        assert live.current_seq(project.pk) == start + 3

    def test_rolled_back_change_publishes_nothing(self, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Stay", reporter=editor)
        watcher = session_cookie(owner)

        async def scenario():
            other, _ = await open_socket(project.pk, cookie=watcher)
            await receive_until(other, "hello")

            def move_then_fail():
                with pytest.raises(RuntimeError), transaction.atomic():
                    services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
                    raise RuntimeError("abort")

            await sync_to_async(move_then_fail)()
            await sync_to_async(live.flush)()
            while True:  # presence fragments may still come; no change may
                if await other.receive_nothing(timeout=0.5):
                    break
                assert "live-meta" not in (await other.receive_from())
            await other.disconnect()

        async_to_sync(scenario)()

    def test_removed_member_is_dropped_at_the_next_event(self, project, columns, application, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Secret", reporter=owner)
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await sync_to_async(Membership.objects.filter(user=editor, application=application).delete)()
            await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=columns["done"].pk)
            while True:
                message = await socket.receive_output(timeout=5)
                if message["type"] == "websocket.close":
                    assert message["code"] == 4403
                    break
                assert "Secret" not in message["text"]

        async_to_sync(scenario)()
        assert group_size(project.pk) == 0


class TestPresence:
    def test_join_and_leave_are_broadcast(self, project, application):
        ada = named_editor(application, "Ada", "Lovelace")
        bob = named_editor(application, "Bob", "Marley")
        ada_cookie, bob_cookie = session_cookie(ada), session_cookie(bob)

        async def scenario():
            first, _ = await open_socket(project.pk, cookie=ada_cookie)
            html = await receive_until(first, f'id="presence-{project.pk}"')
            assert ">AL</li>" in html
            second, _ = await open_socket(project.pk, cookie=bob_cookie)
            html = await receive_until(first, ">BM</li>")
            assert ">AL</li>" in html
            await second.disconnect()
            html = await receive_until(first, f'id="presence-{project.pk}"')
            assert ">AL</li>" in html
            assert "BM" not in html
            await first.disconnect()

        async_to_sync(scenario)()


class TestEditLock:
    def test_the_socket_renews_and_releases_only_its_users_lock(self, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Locked", reporter=editor)
        assert presence.lock_acquire(task.pk, editor.pk, "Editor", role="editor").held  # the card dialog took it
        presence.client().expire(f"doc_lock:{task.pk}", 2)
        mine, theirs = session_cookie(editor), session_cookie(owner)

        async def send(socket, message):
            await socket.send_to(text_data=message)
            await asyncio.sleep(0.3)  # let the consumer handle it (its replies may be queued already)

        async def scenario():
            my_socket, _ = await open_socket(project.pk, cookie=mine)
            their_socket, _ = await open_socket(project.pk, cookie=theirs)
            for socket in (my_socket, their_socket):
                await receive_until(socket, "hello")
            await send(my_socket, f'{{"type": "lock", "task": {task.pk}}}')
            assert await sync_to_async(presence.client().ttl)(f"doc_lock:{task.pk}") > 2  # renewed
            for message in ("unlock", "lock", "take"):  # not theirs to release, renew or take
                await send(their_socket, f'{{"type": "{message}", "task": {task.pk}}}')
                state = await sync_to_async(presence.lock_state)(task.pk, owner.pk)
                assert state.holder_id == editor.pk, message
            await their_socket.disconnect()  # closing their socket gives back nothing of mine
            assert (await sync_to_async(presence.lock_state)(task.pk, owner.pk)).holder_id == editor.pk
            await send(my_socket, f'{{"type": "unlock", "task": {task.pk}}}')
            assert (await sync_to_async(presence.lock_state)(task.pk, owner.pk)).holder_id is None
            await my_socket.disconnect()

        async_to_sync(scenario)()

    def test_a_closing_socket_gives_back_the_locks_its_page_held_and_the_board_hears(
        self, project, columns, editor, viewer
    ):
        """The page's "unlock" on leaving can be lost with its socket; the server gives back what
        that socket took or renewed, and nothing its user holds through another page."""
        held_here, held_elsewhere = (
            services.create_task(project=project, status_id=columns["todo"].pk, title=title, reporter=editor)
            for title in ("Here", "Elsewhere")
        )
        assert presence.lock_acquire(held_elsewhere.pk, editor.pk, "Editor", role="editor").held  # another tab
        cookies = session_cookie(editor), session_cookie(viewer)

        async def scenario():
            leaving, watching = [(await open_socket(project.pk, cookie=cookie))[0] for cookie in cookies]
            for socket in (leaving, watching):
                await receive_until(socket, "hello")
            await leaving.send_to(text_data=f'{{"type": "take", "task": {held_here.pk}}}')
            assert f'data-task="{held_here.pk}"' in await receive_until(watching, "live-lock")
            await leaving.disconnect()
            released = await receive_until(watching, "live-lock")
            assert f'data-task="{held_here.pk}" data-user="{editor.pk}" data-name=""' in released
            assert await watching.receive_nothing(timeout=0.3)  # nothing about the other tab's lock
            await watching.disconnect()

        async_to_sync(scenario)()
        assert presence.lock_state(held_here.pk, viewer.pk).holder_id is None
        assert presence.lock_state(held_elsewhere.pk, viewer.pk).holder_id == editor.pk


class TestRateLimit:
    def test_flood_closes_the_socket_with_4429(self, project, editor, caplog):
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            for _ in range(40):
                await socket.send_to(text_data='{"type": "ping"}')
            while True:
                message = await socket.receive_output(timeout=5)
                if message["type"] == "websocket.close":
                    return message["code"]

        with caplog.at_level(logging.WARNING, logger="boards.live.consumers"):
            assert async_to_sync(scenario)() == 4429
        assert any("rate limit" in record.getMessage() for record in caplog.records)
        assert group_size(project.pk) == 0

    def test_heartbeats_and_lock_renewals_stay_under_the_limit(self, project, columns, editor):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Long edit", reporter=editor)
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            # A busy page in one second: a heartbeat and lock renewals for a few open editors.
            await socket.send_to(text_data='{"type": "ping"}')
            for _ in range(5):
                await socket.send_to(text_data=f'{{"type": "lock", "task": {task.pk}}}')
            await socket.send_to(text_data='{"type": "ping"}')
            while not await socket.receive_nothing(timeout=0.5):
                message = await socket.receive_output()
                assert message["type"] != "websocket.close"
            await socket.disconnect()

        async_to_sync(scenario)()


async def handshake(project_id: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the handshake is accepted (an anonymous socket is accepted, then closed 4403)."""
    communicator = WebsocketCommunicator(asgi_application, board_path(project_id), headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


class TestOrigin:
    """Origin must be this site's own: scheme, host and port, as Django's CSRF check has it."""

    @pytest.mark.parametrize(
        "origin",
        [
            b"https://127.0.0.1",  # another scheme
            b"http://127.0.0.1:8000",  # another port
            b"http://localhost",  # another host, though an allowed one
            b"http://127.0.0.1.evil.example",
            b"http://evil.example",
            b"null",
            b"http://127.0.0.1/",
            b"http://user@127.0.0.1",
            b"",
            None,  # missing
        ],
    )
    def test_anything_but_this_site_is_refused(self, project, origin):
        headers = [(b"host", b"127.0.0.1")] + ([(b"origin", origin)] if origin is not None else [])
        assert not async_to_sync(handshake)(project.pk, headers)

    def test_a_repeated_origin_is_refused(self, project):
        headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1"), (b"origin", b"http://evil.example")]
        assert not async_to_sync(handshake)(project.pk, headers)

    @pytest.mark.parametrize(
        ("host", "origin"),
        [
            (b"127.0.0.1", b"http://127.0.0.1"),
            (b"127.0.0.1:8000", b"http://127.0.0.1:8000"),
            (b"127.0.0.1:80", b"http://127.0.0.1"),  # the default port, written or not
            (b"LOCALHOST:8000", b"http://localhost:8000"),
        ],
    )
    def test_this_site_is_accepted(self, project, host, origin):
        assert async_to_sync(handshake)(project.pk, [(b"host", host), (b"origin", origin)])

    def test_a_host_not_allowed_is_refused(self, project):
        headers = [(b"host", b"evil.example"), (b"origin", b"http://evil.example")]
        assert not async_to_sync(handshake)(project.pk, headers)

    def test_behind_a_tls_proxy_the_origin_is_https(self, project):
        forwarded = [(b"host", b"127.0.0.1"), (b"x-forwarded-proto", b"https")]
        with override_settings(SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")):
            assert async_to_sync(handshake)(project.pk, [*forwarded, (b"origin", b"https://127.0.0.1")])
            assert not async_to_sync(handshake)(project.pk, [*forwarded, (b"origin", b"http://127.0.0.1")])
        # Without the setting the header means nothing: anyone could send it.
        assert not async_to_sync(handshake)(project.pk, [*forwarded, (b"origin", b"https://127.0.0.1")])

    def test_csrf_trusted_origins_are_accepted(self, project):
        trusted = ["https://tasks.example.com", "https://*.example.org"]
        with override_settings(CSRF_TRUSTED_ORIGINS=trusted):
            for origin, accepted in [
                (b"https://tasks.example.com", True),
                (b"https://eu.example.org", True),
                (b"http://tasks.example.com", False),
                (b"https://tasks.example.com:8443", False),
                (b"https://example.com", False),
            ]:
                headers = [(b"host", b"127.0.0.1"), (b"origin", origin)]
                assert async_to_sync(handshake)(project.pk, headers) is accepted, origin


async def closed_before_hello(socket) -> int | None:
    """The close code of a socket refused after the handshake; None when it said hello instead."""
    message = await socket.receive_output(timeout=5)
    if message["type"] == "websocket.close":
        return message["code"]
    assert "hello" not in message.get("text", ""), message
    return None


class TestSocketLimit:
    def test_one_socket_over_the_limit_is_closed_4429_until_one_closes(self, project, viewer):
        cookie = session_cookie(viewer)

        async def scenario():
            sockets = []
            for _ in range(3):
                socket, _ = await open_socket(project.pk, cookie=cookie)
                await receive_until(socket, "hello")
                sockets.append(socket)
            extra, connected = await open_socket(project.pk, cookie=cookie)
            assert connected  # accepted only to carry the close code
            assert await closed_before_hello(extra) == 4429
            assert await group_size_async(project.pk) == 3
            await sockets.pop().disconnect()
            again, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(again, "hello")
            for socket in [*sockets, again]:
                await socket.disconnect()

        with override_settings(WS_SOCKETS_PER_USER=3):
            async_to_sync(scenario)()
        assert presence.client().zcard(f"sockets:{viewer.pk}") == 0

    def test_sockets_of_other_processes_count(self, project, viewer):
        for n in range(2):  # what two sockets on another server process hold
            assert presence.socket_claim(viewer.pk, f"elsewhere-{n}", limit=3, ttl=60)
        cookie = session_cookie(viewer)

        async def scenario():
            first, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(first, "hello")
            second, _ = await open_socket(project.pk, cookie=cookie)
            assert await closed_before_hello(second) == 4429
            await first.disconnect()

        with override_settings(WS_SOCKETS_PER_USER=3):
            async_to_sync(scenario)()

    def test_a_socket_that_never_talks_keeps_its_slot(self, project, viewer):
        """The server refreshes its sockets' entries itself: a client cannot outwait the limit."""
        cookie = session_cookie(viewer)

        async def scenario():
            quiet, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(quiet, "hello")
            await asyncio.sleep(3)  # twice the entries' lifetime, without a word from the client
            second, _ = await open_socket(project.pk, cookie=cookie)
            assert await closed_before_hello(second) == 4429
            await quiet.disconnect()

        with override_settings(WS_SOCKETS_PER_USER=1, WS_SOCKET_TTL=1.5):
            async_to_sync(scenario)()

    def test_strangers_take_no_slot(self, project, outsider):
        cookie = session_cookie(outsider)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            assert await closed_before_hello(socket) == 4403

        async_to_sync(scenario)()
        assert presence.client().zcard(f"sockets:{outsider.pk}") == 0


async def group_size_async(project_id: int) -> int:
    layer = get_channel_layer()
    connection = layer.connection(layer.consistent_hash(live.group_name(project_id)))
    return await connection.zcard(layer._group_key(live.group_name(project_id)))


class ConsumerQueries(logging.Handler):
    """Every SQL statement of this process, from whichever thread runs it (with DEBUG on Django
    logs each one to django.db.backends), except those of the writer's thread: the consumers'
    queries. Django's CaptureQueriesContext sees one thread's connection only, and the consumers
    query from a pool of threads."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.writers: set[int] = set()
        self.statements: list[str] = []

    def emit(self, record):
        if record.thread not in self.writers and getattr(record, "sql", None):
            self.statements.append(record.sql)

    def writing(self, fn):
        """fn, marking the thread it runs in as the writer's."""

        def run(*args, **kwargs):
            self.writers.add(threading.get_ident())
            return fn(*args, **kwargs)

        return run


@contextlib.contextmanager
def consumer_queries():
    logger = logging.getLogger("django.db.backends")
    handler, level = ConsumerQueries(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with override_settings(DEBUG=True):
            yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def quiet(sockets) -> None:
    """Read every socket until none has had anything to say for half a second (presence)."""
    while True:
        await asyncio.sleep(0.5)
        talked = False
        for socket in sockets:
            while not await socket.receive_nothing(timeout=0.01, interval=0.005):
                await socket.receive_output()
                talked = True
        if not talked:
            return


class TestWorkPerEvent:
    def test_an_event_costs_the_consumers_the_same_queries_for_1_or_30_sockets(
        self, project, columns, owner, editor, viewer
    ):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Busy", reporter=editor)
        cookies = {
            role: session_cookie(user) for role, user in [("owner", owner), ("editor", editor), ("viewer", viewer)]
        }
        targets = iter([columns["active"], columns["review"], columns["done"]])

        def one_event(sockets: list[tuple[str, str]]) -> list[str]:
            target = next(targets)

            async def scenario():
                opened = []
                for role, cookie in sockets:
                    socket, _ = await open_socket(project.pk, cookie=cookie)
                    await receive_until(socket, "hello")
                    opened.append((role, socket))
                await quiet([socket for _, socket in opened])
                with consumer_queries() as queries:
                    move = queries.writing(services.move_task)
                    await sync_to_async(move)(project=project, task_id=task.pk, status_id=target.pk)
                    for role, socket in opened:
                        html = await receive_until(socket, 'data-kind="change"')
                        assert column_count(html, target.pk) == 1
                        assert ("card-menu-button" in html) is (role != "viewer")  # one render per role
                    await quiet([socket for _, socket in opened])
                for _, socket in opened:
                    await socket.disconnect()
                return list(queries.statements)

            return async_to_sync(scenario)()

        one = one_event([("viewer", cookies["viewer"])])
        thirty = one_event([(role, cookies[role]) for role in ("owner", "editor", "viewer") for _ in range(10)])
        assert len(one) == len(thirty), (one, thirty)
        assert one == [], one  # membership from the cache, the fragments rendered by the writer


class TestMembershipChanges:
    def test_a_removed_member_is_closed_at_once(self, project, application, editor):
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await quiet([socket])  # its own presence list came and went
            await sync_to_async(Membership.objects.filter(user=editor, application=application).delete)()
            while True:  # no event on the board: the removal itself closes the socket
                message = await socket.receive_output(timeout=5)
                if message["type"] == "websocket.close":
                    return message["code"]

        assert async_to_sync(scenario)() == 4403
        assert group_size(project.pk) == 0

    def test_a_change_elsewhere_leaves_the_socket_alone(self, project, columns, editor):
        other = make_project(MembershipFactory(user=editor, role=Membership.Role.OWNER).application, key="OTH")
        column = columns["todo"]
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await sync_to_async(Membership.objects.filter(user=editor, application=other.application).delete)()
            await sync_to_async(live.flush)()
            await quiet([socket])
            await sync_to_async(services.create_task)(
                project=project, status_id=column.pk, title="Still here", reporter=editor
            )
            await receive_until(socket, "Still here")
            await socket.disconnect()

        async_to_sync(scenario)()

    def test_a_demoted_editor_takes_no_lock_even_before_the_next_event(self, project, application, columns, editor):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=editor)
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await quiet([socket])  # no event or presence list from now on

            def demote():
                membership = Membership.objects.get(user=editor, application=application)
                membership.role = Membership.Role.VIEWER
                membership.save()
                live.flush()

            await sync_to_async(demote)()
            await quiet([socket])  # the change reached the socket
            for kind in ("lock", "take"):
                await socket.send_to(text_data=f'{{"type": "{kind}", "task": {task.pk}}}')
            await quiet([socket])
            await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=columns["done"].pk)
            html = await receive_until(socket, 'data-kind="change"')
            await socket.disconnect()
            return html

        html = async_to_sync(scenario)()
        assert presence.lock_state(task.pk, editor.pk).holder_id is None
        assert "card-menu-button" not in html  # a viewer's fragments from now on

    def test_a_promoted_viewer_gets_the_editors_fragments(self, project, application, columns, viewer, editor):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=editor)
        cookie = session_cookie(viewer)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")

            def promote():
                membership = Membership.objects.get(user=viewer, application=application)
                membership.role = Membership.Role.EDITOR
                membership.save()
                services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)

            await sync_to_async(promote)()
            html = await receive_until(socket, 'data-kind="change"')
            await socket.disconnect()
            return html

        assert "card-menu-button" in async_to_sync(scenario)()  # an editor's fragments


class TestTakeLock:
    def test_an_editor_takes_a_lock_over_the_socket_and_a_viewer_cannot(
        self, project, columns, editor, viewer, application
    ):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=editor)
        other = make_project(application, key="OTH")
        other_column = other.task_statuses.first()
        elsewhere = services.create_task(project=other, status_id=other_column.pk, title="Elsewhere", reporter=editor)

        async def holder_after(user, message, task_id):
            """Who holds the lock once the socket has handled the message (before it closes)."""
            socket, _ = await open_socket(project.pk, cookie=await sync_to_async(session_cookie)(user))
            await receive_until(socket, "hello")
            await socket.send_to(text_data=message)
            await quiet([socket])  # its presence list may come first: wait until it has said everything
            state = await sync_to_async(presence.lock_state)(task_id, viewer.pk)
            await socket.disconnect()
            return state.holder_id

        assert async_to_sync(holder_after)(viewer, f'{{"type": "take", "task": {task.pk}}}', task.pk) is None
        # Not this board's card.
        assert async_to_sync(holder_after)(editor, f'{{"type": "take", "task": {elsewhere.pk}}}', elsewhere.pk) is None
        assert async_to_sync(holder_after)(editor, f'{{"type": "take", "task": {task.pk}}}', task.pk) == editor.pk


class TestLockMessages:
    """The whole board hears who takes and gives back a card's edit lock (the card face shows it)."""

    def test_take_renew_and_release_are_told_to_the_board_and_a_refusal_only_to_the_asker(
        self, project, columns, application, viewer
    ):
        ada = named_editor(application, "Ada", "Lovelace")
        bob = named_editor(application, "Bob", "<b>Marley</b>")
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=ada)
        cookies = {user: session_cookie(user) for user in (ada, bob, viewer)}

        async def scenario():
            sockets = {}
            for user, cookie in cookies.items():
                sockets[user], _ = await open_socket(project.pk, cookie=cookie)
                await receive_until(sockets[user], "hello")
            await sockets[ada].send_to(text_data=f'{{"type": "take", "task": {task.pk}}}')
            taken = f'<div id="live-lock" hidden data-task="{task.pk}" data-user="{ada.pk}" data-name="Ada Lovelace">'
            for user in (ada, bob, viewer):
                assert (await receive_until(sockets[user], "live-lock")).startswith(taken)
            # Bob's keystroke is refused: he alone hears that Ada has it.
            await sockets[bob].send_to(text_data=f'{{"type": "take", "task": {task.pk}}}')
            assert (await receive_until(sockets[bob], "live-lock")).startswith(taken)
            await sockets[ada].send_to(text_data=f'{{"type": "lock", "task": {task.pk}}}')
            for user in (ada, bob, viewer):  # a renewal: pages opened since learn of the lock
                assert (await receive_until(sockets[user], "live-lock")).startswith(taken)
            await sockets[ada].send_to(text_data=f'{{"type": "unlock", "task": {task.pk}}}')
            released = f'data-task="{task.pk}" data-user="{ada.pk}" data-name=""'
            for user in (ada, bob, viewer):
                assert released in await receive_until(sockets[user], "live-lock")
            # Bob takes it now; his name is escaped in the attribute.
            await sockets[bob].send_to(text_data=f'{{"type": "take", "task": {task.pk}}}')
            assert 'data-name="Bob &lt;b&gt;Marley&lt;/b&gt;"' in await receive_until(sockets[viewer], "live-lock")
            # Giving back a lock one does not hold tells nobody anything.
            await sockets[ada].send_to(text_data=f'{{"type": "unlock", "task": {task.pk}}}')
            assert await sockets[viewer].receive_nothing(timeout=0.3)
            assert (await sync_to_async(presence.lock_state)(task.pk, ada.pk)).holder_id == bob.pk
            for socket in sockets.values():
                await socket.disconnect()

        async_to_sync(scenario)()
