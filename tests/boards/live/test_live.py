"""What a committed change publishes, and that a dead Redis never costs a write."""

import logging
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import override_settings

from boards import live, services
from boards.live import presence
from boards.models import Task
from tests.reliability.conftest import OwnRedis
from tests.support import ports
from tests.support.helpers import assert_counts_exact
from tests.support.live_support import column_count, open_socket, receive_until, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.timeout(60),
]

DEAD_PORT = ports.refused_port()  # a Redis that is down
HX = {"HX-Request": "true"}


def redis_at(url: str):
    """Live push, presence, locks and rate limit on the Redis at `url` (the project's layer)."""
    layer = {
        "default": {
            "BACKEND": "tasktrack.channel_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": url, "socket_connect_timeout": 0.3, "socket_timeout": 0.5}],
                "receive_timeout": 0.25,
            },
        }
    }
    return override_settings(REDIS_URL=url, CHANNEL_LAYERS=layer)


def dead_redis():
    return redis_at(f"redis://127.0.0.1:{DEAD_PORT}/0")


class TestRender:
    def test_archived_card_is_removed_and_counts_follow(self, project, columns, editor):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Old", reporter=editor)
        services.archive_task(project=project, task_id=task.pk)
        html = live.render_change(project_id=project.pk, task_ids=[task.pk], column_ids=[columns["todo"].pk], seq=9)
        html = html["editor"]
        assert 'data-seq="9"' in html
        assert f'<div hx-swap-oob="delete:#card-{task.pk}"></div>' in html
        assert "Old" not in html
        assert column_count(html, columns["todo"].pk) == 0

    def test_moved_card_goes_after_its_new_neighbour(self, project, columns, editor):
        above = services.create_task(project=project, status_id=columns["done"].pk, title="Above", reporter=editor)
        moved = services.create_task(project=project, status_id=columns["todo"].pk, title="Moved", reporter=editor)
        services.move_task(project=project, task_id=moved.pk, status_id=columns["done"].pk, after_id=above.pk)
        html = live.render_change(project_id=project.pk, task_ids=[moved.pk], column_ids=[columns["todo"].pk], seq=1)
        html = html["viewer"]
        assert f'hx-swap-oob="afterend:#card-{above.pk}"' in html
        assert column_count(html, columns["done"].pk) == 2
        assert column_count(html, columns["todo"].pk) == 0

    def test_a_resync_event_carries_no_cards(self, project, columns, editor):
        services.create_task(project=project, status_id=columns["todo"].pk, title="Some card", reporter=editor)
        html = live.render_change(project_id=project.pk, task_ids=[], column_ids=[], seq=3, resync=True)["editor"]
        assert 'data-resync="1"' in html
        assert "Some card" not in html


class TestDeadRedis:
    def test_writes_succeed_and_the_failure_is_logged(self, project, columns, editor, caplog):
        with dead_redis(), caplog.at_level(logging.WARNING):
            started = time.monotonic()
            task = services.create_task(project=project, status_id=columns["todo"].pk, title="Offline", reporter=editor)
            services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
            elapsed = time.monotonic() - started
            assert live.flush(timeout=10)
        assert elapsed < 3  # a hang guard only: the sends happen off the request thread
        assert Task.objects.get(pk=task.pk).task_status == columns["done"]
        assert_counts_exact(project)
        assert any("redis" in record.getMessage() for record in caplog.records)

    def test_live_push_resumes_when_redis_is_back(self, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Again", reporter=editor)
        with dead_redis():
            services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk)
            assert live.flush(timeout=10)
        cookie = session_cookie(owner)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=columns["done"].pk)
            html = await receive_until(socket, 'data-kind="change"')
            assert column_count(html, columns["done"].pk) == 1
            await socket.disconnect()

        async_to_sync(scenario)()

    def test_editing_without_redis_is_guarded_by_the_version(self, client, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Both", reporter=editor)
        card, update = (
            f"/projects/{project.pk}/cards/{task.pk}/?edit=1",
            f"/projects/{project.pk}/cards/{task.pk}/edit/",
        )
        with dead_redis():
            client.force_login(editor)
            assert b"data-edit-lock" in client.get(card, headers=HX).content
            client.force_login(owner)
            assert b"data-edit-lock" in client.get(card, headers=HX).content  # the lock is not enforced
            first = client.post(update, {"title": "Owner's", "version": task.version}, headers=HX)
            client.force_login(editor)
            second = client.post(update, {"title": "Editor's", "version": task.version}, headers=HX)
        assert first.status_code == 200
        assert second.status_code == 409
        assert Task.objects.get(pk=task.pk).title == "Owner's"


class TestRedisRestart:
    def test_live_push_resumes_within_seconds_of_redis_coming_back(self, project, columns, editor, owner, caplog):
        redis = OwnRedis()
        redis.start()
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Restart", reporter=editor)
        cookie = session_cookie(owner)
        targets = [columns["active"].pk, columns["done"].pk]
        try:
            with redis_at(redis.url), caplog.at_level(logging.WARNING):
                redis.stop()
                services.move_task(project=project, task_id=task.pk, status_id=targets[0])
                assert live.flush(timeout=10)
                assert any("redis" in record.getMessage() for record in caplog.records)
                redis.start()
                back = time.monotonic()

                async def reconnect_and_watch():
                    # What the page does: (re)connect, and see the next move.
                    for attempt in range(10):
                        socket, _ = await open_socket(project.pk, cookie=cookie)
                        status_id = targets[(attempt + 1) % 2]
                        try:
                            await receive_until(socket, "hello", timeout=1)
                            await sync_to_async(services.move_task)(
                                project=project, task_id=task.pk, status_id=status_id
                            )
                            html = await receive_until(socket, 'data-kind="change"', timeout=1)
                        except (AssertionError, TimeoutError):
                            continue  # the communicator gave up on that socket: a new one, as the page does
                        await socket.disconnect()
                        return html, status_id
                    raise AssertionError("no live event after Redis came back")

                html, status_id = async_to_sync(reconnect_and_watch)()
                assert time.monotonic() - back < 5  # by itself, without restarting anything
                assert column_count(html, status_id) == 1
        finally:
            redis.stop()


class TestEditLock:
    def test_the_editor_takes_the_lock_and_others_read_only(self, client, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Mine", reporter=editor)
        card, update = (
            f"/projects/{project.pk}/cards/{task.pk}/?edit=1",
            f"/projects/{project.pk}/cards/{task.pk}/edit/",
        )
        client.force_login(editor)
        assert f'data-edit-lock="{task.pk}"'.encode() in client.get(card, headers=HX).content
        client.force_login(owner)
        response = client.get(card, headers=HX)
        assert b"data-edit-lock" not in response.content
        assert b'name="title"' not in response.content
        assert f"Being edited by <b>{editor.get_full_name()}</b>".encode() in response.content
        client.force_login(editor)
        assert client.post(update, {"title": "Mine, saved", "version": task.version}, headers=HX).status_code == 200
        assert presence.lock_state(task.pk, owner.pk).holder_id is None
        client.force_login(owner)
        assert b"data-edit-lock" in client.get(card, headers=HX).content

    def test_viewers_take_no_lock(self, client, project, columns, editor, viewer):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Look", reporter=editor)
        client.force_login(viewer)
        response = client.get(f"/projects/{project.pk}/cards/{task.pk}/", headers=HX)
        assert response.status_code == 200
        assert b"data-edit-lock" not in response.content
        assert presence.lock_state(task.pk, viewer.pk).holder_id is None


class TestInMemoryLayer:
    def test_one_process_without_redis_gets_events(self, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Local", reporter=editor)
        cookie = session_cookie(owner)
        layers = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=columns["done"].pk)
            html = await receive_until(socket, 'data-kind="change"')
            assert "Local" in html
            await socket.disconnect()

        with override_settings(REDIS_URL="", CHANNEL_LAYERS=layers):
            async_to_sync(scenario)()
        presence._memory.__init__()
