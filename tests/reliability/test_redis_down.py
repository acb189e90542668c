"""Redis stops mid-run: pages, writes and the admin keep working, counts stay exact, and the
cache (and everything else on Redis) comes back by itself when Redis does.

Each test points CACHES and CHANNEL_LAYERS at a redis-server of its own, then stops it.
"""

import os
import signal
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Task
from tests.factories import UserFactory
from tests.reliability.conftest import server_errors
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]


def redis_settings(url: str) -> dict:
    from django.conf import settings

    cache_options = dict(settings.CACHES["default"].get("OPTIONS", {}))
    cache_options.update({"SOCKET_CONNECT_TIMEOUT": 0.3, "SOCKET_TIMEOUT": 0.5, "IGNORE_EXCEPTIONS": True})
    return {
        "CACHES": {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url, "OPTIONS": cache_options}},
        "CHANNEL_LAYERS": {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [{"address": url, "socket_connect_timeout": 0.3, "socket_timeout": 0.5}],
                    "capacity": 500,
                    "expiry": 30,
                },
            }
        },
    }


@pytest.fixture
def on_own_redis(own_redis):
    with override_settings(**redis_settings(own_redis.url)):
        cache.clear()
        yield own_redis


@contextmanager
def frozen(redis):
    """Redis that accepts connections and never answers: the worst case for timeouts."""
    os.kill(redis.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)


def cache_works() -> bool:
    # The first call after a restart may meet a socket from before it; the pool then reconnects.
    for _ in range(3):
        cache.set("reliability:probe", "ok", 30)
        if cache.get("reliability:probe") == "ok":
            return True
    return False


def admin_add_task(client: Client, project, column, title: str):
    return client.post(
        "/admin/boards/task/add/",
        {
            "project": project.pk,
            "task_status": column.pk,
            "title": title,
            "description": "",
            "position": "0",
        },
    )


def exercise_everything(owner, admin, project, columns, *, label: str) -> None:
    """Pages, service writes, the bootstrap path and admin writes: none may fail."""
    member = Client()
    member.force_login(owner)
    task = services.create_task(project=project, status_id=columns["todo"].pk, title=f"{label} 1", reporter=owner)
    for url in ["/", project.get_absolute_url(), task.get_absolute_url()]:
        response = member.get(url)
        assert response.status_code == 200, (label, url, response.status_code)
    assert Client().get("/login/").status_code == 200

    # The board's own writes, over HTTP as a browser sends them.
    hx = {"HX-Request": "true"}
    response = member.post(
        reverse("card_create", args=[project.pk, columns["todo"].pk]), {"title": f"{label} board"}, headers=hx
    )
    assert response.status_code == 200, (label, response.status_code)
    board_card = Task.objects.get(title=f"{label} board")
    for name, data in [("card_move", {"status_id": columns["review"].pk}), ("card_archive", {})]:
        response = member.post(reverse(name, args=[project.pk, board_card.pk]), data, headers=hx)
        assert response.status_code == 200, (label, name, response.status_code)
    response = member.post(
        reverse("card_update", args=[project.pk, task.pk]),
        {"version": task.version, "title": f"{label} 1!"},
        headers=hx,
    )
    assert response.status_code == 200, (label, response.status_code)
    services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk)
    services.archive_task(project=project, task_id=task.pk)
    services.unarchive_task(project=project, task_id=task.pk)
    # A project whose counts row went missing: the bootstrap reads and writes the cache.
    ProjectTaskStatusAgg.objects.filter(project=project).delete()
    other = services.create_task(project=project, status_id=columns["done"].pk, title=f"{label} 2", reporter=owner)
    services.move_task(project=project, task_id=other.pk, status_id=columns["issue"].pk)

    staff = Client()
    staff.force_login(admin)
    response = admin_add_task(staff, project, columns["review"], f"{label} admin")
    assert response.status_code == 302, response.content.decode()[:2000]
    added = Task.objects.get(title=f"{label} admin")
    for url in ["/admin/", "/admin/boards/task/", f"/admin/boards/task/{added.pk}/change/", "/admin/aggregates/"]:
        response = staff.get(url)
        assert response.status_code < 500, (label, url, response.status_code)
    response = staff.post(
        "/admin/boards/task/",
        {"action": "archive_selected", "_selected_action": [added.pk, task.pk], "index": "0"},
    )
    assert response.status_code == 302
    assert Task.objects.filter(pk__in=[added.pk, task.pk], archived_at__isnull=False).count() == 2
    assert_counts_exact(project)


@pytest.fixture
def admin(db):
    return UserFactory(is_staff=True, is_superuser=True)


class TestRedisStopped:
    def test_everything_works_while_stopped_and_cache_resumes(self, on_own_redis, owner, admin, project, columns):
        assert cache_works()
        exercise_everything(owner, admin, project, columns, label="before")

        on_own_redis.stop()
        assert cache.get("reliability:probe") is None  # the cache is gone, not an error
        exercise_everything(owner, admin, project, columns, label="stopped")

        on_own_redis.start()  # same port, same settings: nothing restarted on our side
        assert cache_works()
        exercise_everything(owner, admin, project, columns, label="after")
        assert_counts_exact()

    def test_frozen_redis_does_not_hang_requests(self, on_own_redis, owner, admin, project, columns):
        assert cache_works()
        with frozen(on_own_redis):
            exercise_everything(owner, admin, project, columns, label="frozen")
        assert cache_works()

    def test_bootstrap_count_cached_again_once_redis_is_back(self, on_own_redis, owner, project, columns):
        services.create_task(project=project, status_id=columns["todo"].pk, title="one", reporter=owner)
        on_own_redis.stop()
        ProjectTaskStatusAgg.objects.filter(project=project).delete()
        services.create_task(project=project, status_id=columns["todo"].pk, title="two", reporter=owner)
        assert ProjectTaskStatusAgg.objects.get(project=project).todo_tasks == 2
        on_own_redis.start()
        assert cache_works()
        # Bootstrap with Redis back: the count goes through the cache and is removed on commit.
        from aggregates import counts

        ProjectTaskStatusAgg.objects.filter(project=project).delete()
        key = counts.INIT_KEY.format(project_id=project.pk)
        from django.db import transaction

        with transaction.atomic():
            counts.bootstrap(project.pk)
            assert cache.get(key) == {"todo": 2, "active": 0, "review": 0, "issue": 0, "done": 0}
        assert_counts_exact(project)


class TestLoginLimitWithoutRedis:
    def test_login_fails_open_while_stopped_and_limits_again_after(self, on_own_redis, db):
        UserFactory(username="heidi")
        on_own_redis.stop()
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT + 3):
            assert client.post("/login/", {"username": "heidi", "password": "wrong"}).status_code == 200
        # Not locked out: with Redis gone nothing is counted, and nobody is shut out.
        assert client.post("/login/", {"username": "heidi", "password": "secret-pass"}).status_code == 302

        on_own_redis.start()
        assert cache_works()
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post("/login/", {"username": "heidi", "password": "wrong"})
        assert client.post("/login/", {"username": "heidi", "password": "secret-pass"}).status_code == 429


def test_daphne_survives_redis_restart(daphne, own_redis, owner, project, columns):
    """The same, end to end: one daphne process, its Redis stopped and started under it."""
    from tests.reliability.http import Browser

    UserFactory(username="ivan")
    server = daphne(redis_url=own_redis.url)
    owner.set_password("secret-pass")
    owner.save()
    browser = Browser("127.0.0.1", server.port)
    assert browser.login(owner.username, "secret-pass").status == 302

    def pages_ok(label):
        for url in ["/", project.get_absolute_url()]:
            response = browser.get(url)
            assert response.status == 200, (label, url, response.status, server.log()[-3000:])
        assert Browser("127.0.0.1", server.port).get("/login/").status == 200

    def locks_out(username) -> bool:
        guesser = Browser("127.0.0.1", server.port)
        statuses = [guesser.login(username, "wrong").status for _ in range(settings.AXES_FAILURE_LIMIT + 1)]
        return statuses[-1] == 429

    pages_ok("up")
    own_redis.stop()
    pages_ok("stopped")
    assert not locks_out("ivan")  # fails open
    services.create_task(project=project, status_id=columns["todo"].pk, title="while down", reporter=owner)
    own_redis.start()
    pages_ok("back")
    assert locks_out("ivan")  # the same process uses Redis again
    assert not server_errors(server.log()), server.log()[-5000:]
    assert_counts_exact(project)
