"""Presence, the WebSocket rate limit and edit locks, on the real Redis; failing open without it."""

import time

import pytest
from django.test import override_settings

from boards import realtime
from tests import ports

DEAD_PORT = ports.refused_port()  # a Redis that is down


@pytest.fixture
def dead_redis():
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{DEAD_PORT}/0"):
        yield


@pytest.fixture
def no_redis():
    """REDIS_URL unset, as under `make run`: the in-process stand-in."""
    with override_settings(REDIS_URL=""):
        yield
    realtime._memory.__init__()


class TestPresence:
    def test_fresh_heartbeats_are_present_and_stale_ones_pruned(self):
        realtime.presence_touch(7, "1:a")
        realtime.presence_touch(7, "2:b")
        realtime.presence_touch(7, "1:c")  # a second tab of user 1
        stale = time.time() - realtime.PRESENCE_TTL - 1
        realtime.client().zadd("presence:7", {"3:d": stale})
        assert realtime.presence_user_ids(7) == [1, 2]
        assert realtime.presence_prune(7) == 1
        assert realtime.client().zcard("presence:7") == 3
        assert 0 < realtime.client().ttl("presence:7") <= realtime.PRESENCE_TTL * 2

    def test_leaving_one_tab_keeps_the_user_present(self):
        realtime.presence_touch(7, "1:a")
        realtime.presence_touch(7, "1:b")
        realtime.presence_leave(7, "1:a")
        assert realtime.presence_user_ids(7) == [1]
        realtime.presence_leave(7, "1:b")
        assert realtime.presence_user_ids(7) == []

    def test_redis_down_shows_nobody(self, dead_redis):
        realtime.presence_touch(7, "1:a")
        assert realtime.presence_user_ids(7) == []
        assert realtime.presence_prune(7) == 0

    def test_without_redis_url_presence_works_in_process(self, no_redis):
        realtime.presence_touch(7, "1:a")
        realtime.presence_touch(7, "2:b")
        realtime._memory.zsets["presence:7"]["2:b"] -= realtime.PRESENCE_TTL + 1
        assert realtime.presence_user_ids(7) == [1]
        assert realtime.presence_prune(7) == 1
        realtime.presence_leave(7, "1:a")
        assert realtime.presence_user_ids(7) == []


class TestRateLimit:
    def test_over_the_limit_in_one_window(self):
        assert not any(realtime.rate_limited(5) for _ in range(realtime.RATE_LIMIT))
        assert realtime.rate_limited(5)
        assert realtime.client().ttl("ratelimit:ws:5") in range(1, realtime.RATE_WINDOW + 1)
        assert not realtime.rate_limited(6)  # per user

    def test_a_new_window_starts_over(self):
        for _ in range(realtime.RATE_LIMIT + 1):
            realtime.rate_limited(5)
        realtime.client().delete("ratelimit:ws:5")  # what the window's EXPIRE does
        assert not realtime.rate_limited(5)

    def test_redis_down_lets_traffic_through(self, dead_redis):
        assert not any(realtime.rate_limited(5) for _ in range(realtime.RATE_LIMIT * 2))

    def test_without_redis_url_the_limit_holds_in_process(self, no_redis):
        assert not any(realtime.rate_limited(5) for _ in range(realtime.RATE_LIMIT))
        assert realtime.rate_limited(5)


class TestLocks:
    def test_taken_refused_renewed_released(self):
        first = realtime.lock_acquire(42, 1, "Ada Lovelace")
        assert first.held
        refused = realtime.lock_acquire(42, 2, "Bob Marley")
        assert not refused.held
        assert (refused.holder_id, refused.holder_name) == (1, "Ada Lovelace")
        realtime.client().expire("doc_lock:42", 3)
        assert realtime.lock_acquire(42, 1, "Ada Lovelace").held  # renewal restores the TTL
        assert realtime.client().ttl("doc_lock:42") > 3
        realtime.lock_release(42, 2)  # not the holder: no effect
        assert realtime.lock_state(42, 2).holder_id == 1
        realtime.lock_release(42, 1)
        assert realtime.lock_acquire(42, 2, "Bob Marley").held

    def test_an_expired_lock_is_free(self):
        realtime.lock_acquire(42, 1, "Ada")
        realtime.client().delete("doc_lock:42")  # what the TTL does
        assert realtime.lock_acquire(42, 2, "Bob").held

    def test_redis_down_does_not_enforce_locks(self, dead_redis):
        assert realtime.lock_acquire(42, 1, "Ada").held
        assert realtime.lock_acquire(42, 2, "Bob").held
        assert realtime.lock_state(42, 2).holder_id is None

    def test_without_redis_url_locks_work_in_process(self, no_redis):
        assert realtime.lock_acquire(42, 1, "Ada").held
        assert realtime.lock_acquire(42, 2, "Bob").holder_name == "Ada"
        realtime.lock_release(42, 1)
        assert realtime.lock_acquire(42, 2, "Bob").held


@pytest.mark.django_db
def test_presence_lists_only_current_members(project, owner, editor):
    from boards.consumers import presence_html
    from boards.models import Membership

    realtime.presence_touch(project.pk, f"{owner.pk}:a")
    realtime.presence_touch(project.pk, f"{editor.pk}:b")
    html = presence_html(project.pk)
    assert f'data-user="{editor.pk}"' in html and f'data-user="{owner.pk}"' in html
    Membership.objects.filter(user=editor).delete()  # removed, its heartbeat still fresh
    html = presence_html(project.pk)
    assert f'data-user="{editor.pk}"' not in html and f'data-user="{owner.pk}"' in html
