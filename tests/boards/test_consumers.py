"""The board WebSocket on the real stack: origin check, session auth, channels-redis, PostgreSQL."""

import logging

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import transaction

from boards import live, realtime, services
from boards.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.live_support import column_count, open_socket, receive_until, session_cookie

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
            assert f'action="/projects/{project.pk}/cards/{task.pk}/archive/"' in html  # an editor's card menu
            seen = await receive_until(read_only, "Drag me")
            assert column_count(seen, columns["review"].pk) == 1
            assert "/archive/" not in seen  # a viewer's card has no menu
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
        assert realtime.lock_acquire(task.pk, editor.pk, "Editor").held  # the card dialog took it
        realtime.client().expire(f"doc_lock:{task.pk}", 2)
        mine, theirs = session_cookie(editor), session_cookie(owner)

        async def send(cookie, message):
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await socket.send_to(text_data=message)
            await socket.receive_nothing(timeout=0.3)  # let the consumer handle it
            await socket.disconnect()

        async_to_sync(send)(mine, f'{{"type": "lock", "task": {task.pk}}}')
        assert realtime.client().ttl(f"doc_lock:{task.pk}") > 2  # renewed
        async_to_sync(send)(theirs, f'{{"type": "unlock", "task": {task.pk}}}')
        assert realtime.lock_state(task.pk, owner.pk).holder_id == editor.pk  # not theirs to release
        async_to_sync(send)(theirs, f'{{"type": "lock", "task": {task.pk}}}')
        assert realtime.lock_state(task.pk, owner.pk).holder_id == editor.pk  # refused while held
        async_to_sync(send)(mine, f'{{"type": "unlock", "task": {task.pk}}}')
        assert realtime.lock_state(task.pk, owner.pk).holder_id is None


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

        with caplog.at_level(logging.WARNING, logger="boards.consumers"):
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
