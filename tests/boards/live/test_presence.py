"""Presence, the WebSocket rate limit and edit locks, on the real Redis; failing open without it."""

import time

import pytest
from django.test import override_settings

from boards.live import presence
from tests.support import ports

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
    presence._memory.__init__()


class TestPresence:
    def test_fresh_heartbeats_are_present_and_stale_ones_pruned(self):
        presence.presence_touch(7, "1:a")
        presence.presence_touch(7, "2:b")
        presence.presence_touch(7, "1:c")  # a second tab of user 1
        stale = time.time() - presence.PRESENCE_TTL - 1
        presence.client().zadd("presence:7", {"3:d": stale})
        assert presence.presence_user_ids(7) == [1, 2]
        assert presence.presence_prune(7) == 1
        assert presence.client().zcard("presence:7") == 3
        assert 0 < presence.client().ttl("presence:7") <= presence.PRESENCE_TTL * 2

    def test_leaving_one_tab_keeps_the_user_present(self):
        presence.presence_touch(7, "1:a")
        presence.presence_touch(7, "1:b")
        presence.presence_leave(7, "1:a")
        assert presence.presence_user_ids(7) == [1]
        presence.presence_leave(7, "1:b")
        assert presence.presence_user_ids(7) == []

    def test_redis_down_shows_nobody(self, dead_redis):
        presence.presence_touch(7, "1:a")
        assert presence.presence_user_ids(7) == []
        assert presence.presence_prune(7) == 0

    def test_without_redis_url_presence_works_in_process(self, no_redis):
        presence.presence_touch(7, "1:a")
        presence.presence_touch(7, "2:b")
        presence._memory.zsets["presence:7"]["2:b"] -= presence.PRESENCE_TTL + 1
        assert presence.presence_user_ids(7) == [1]
        assert presence.presence_prune(7) == 1
        presence.presence_leave(7, "1:a")
        assert presence.presence_user_ids(7) == []


class TestRateLimit:
    def test_over_the_limit_in_one_window(self):
        assert not any(presence.rate_limited(5) for _ in range(presence.RATE_LIMIT))
        assert presence.rate_limited(5)
        assert presence.client().ttl("ratelimit:ws:5") in range(1, presence.RATE_WINDOW + 1)
        assert not presence.rate_limited(6)  # per user

    def test_a_new_window_starts_over(self):
        for _ in range(presence.RATE_LIMIT + 1):
            presence.rate_limited(5)
        presence.client().delete("ratelimit:ws:5")  # what the window's EXPIRE does
        assert not presence.rate_limited(5)

    def test_redis_down_lets_traffic_through(self, dead_redis):
        assert not any(presence.rate_limited(5) for _ in range(presence.RATE_LIMIT * 2))

    def test_without_redis_url_the_limit_holds_in_process(self, no_redis):
        assert not any(presence.rate_limited(5) for _ in range(presence.RATE_LIMIT))
        assert presence.rate_limited(5)


class TestLocks:
    def test_taken_refused_renewed_released(self):
        first = presence.lock_acquire(42, 1, "Ada Lovelace", role="editor")
        assert first.held
        refused = presence.lock_acquire(42, 2, "Bob Marley", role="editor")
        assert not refused.held
        assert (refused.holder_id, refused.holder_name) == (1, "Ada Lovelace")
        presence.client().expire("doc_lock:42", 3)
        assert presence.lock_renew(42, 1).held  # renewal restores the TTL
        assert presence.client().ttl("doc_lock:42") > 3
        presence.lock_release(42, 2)  # not the holder: no effect
        assert presence.lock_state(42, 2).holder_id == 1
        presence.lock_release(42, 1)
        assert presence.lock_acquire(42, 2, "Bob Marley", role="editor").held

    def test_an_expired_lock_is_free(self):
        presence.lock_acquire(42, 1, "Ada", role="editor")
        presence.client().delete("doc_lock:42")  # what the TTL does
        assert presence.lock_acquire(42, 2, "Bob", role="editor").held

    def test_redis_down_does_not_enforce_locks(self, dead_redis):
        assert presence.lock_acquire(42, 1, "Ada", role="editor").held
        assert presence.lock_acquire(42, 2, "Bob", role="editor").held
        assert presence.lock_state(42, 2).holder_id is None
        assert presence.lock_holders([42, 43]) == {}  # the board marks nothing

    def test_without_redis_url_locks_work_in_process(self, no_redis):
        assert presence.lock_acquire(42, 1, "Ada", role="editor").held
        assert presence.lock_acquire(42, 2, "Bob", role="editor").holder_name == "Ada"
        presence.lock_release(42, 1)
        assert presence.lock_acquire(42, 2, "Bob", role="editor").held


@pytest.fixture(params=["redis", "in-process"])
def backend(request):
    """The same lock rules on Redis (Lua) and on the in-process stand-in (make run)."""
    if request.param == "redis":
        yield request.param
        return
    with override_settings(REDIS_URL=""):
        yield request.param
    presence._memory.__init__()


def age_lock(backend, task_id: int, seconds: int) -> None:
    """Make the lock of `task_id` look taken `seconds` ago (what waiting would do)."""
    key = f"doc_lock:{task_id}"
    if backend == "redis":
        holder, since, name = presence.client().get(key).split("|", 2)
        presence.client().set(key, f"{holder}|{int(since) - seconds}|{name}", keepttl=True)
    else:
        value, expires = presence._memory.values[key]
        holder, since, name = value.split("|", 2)
        presence._memory.values[key] = (f"{holder}|{int(since) - seconds}|{name}", expires)


def ttl(backend, task_id: int) -> float:
    if backend == "redis":
        return presence.client().ttl(f"doc_lock:{task_id}")
    return presence._memory.values[f"doc_lock:{task_id}"][1] - time.monotonic()


class TestLockRules:
    @pytest.mark.parametrize("role", ["viewer", None, "", "admin"])
    def test_only_roles_that_edit_take_a_lock(self, backend, role):
        refused = presence.lock_acquire(42, 1, "Ada", role=role)
        assert not refused.held
        assert presence.lock_state(42, 2).holder_id is None
        assert presence.lock_acquire(42, 3, "Cy", role="editor").held
        assert presence.lock_acquire(42, 1, "Ada", role=role).holder_id == 3  # told who holds it

    @pytest.mark.parametrize("role", ["owner", "editor"])
    def test_owners_and_editors_take_one(self, backend, role):
        assert presence.lock_acquire(42, 1, "Ada", role=role).held

    def test_renewing_never_takes_a_free_lock(self, backend):
        assert not presence.lock_renew(42, 1).held
        assert presence.lock_state(42, 1).holder_id is None
        presence.lock_acquire(42, 2, "Bob", role="editor")
        assert not presence.lock_renew(42, 1).held
        assert presence.lock_state(42, 1).holder_id == 2

    def test_a_fourth_lock_gives_back_the_users_oldest(self, backend):
        for task_id in (10, 9, 11):  # not in id order: the oldest goes, not the lowest id
            assert presence.lock_acquire(task_id, 1, "Ada", role="editor").held
        assert presence.lock_acquire(12, 2, "Bob", role="editor").held  # others count apart
        assert presence.lock_acquire(8, 1, "Ada", role="editor").held
        assert [presence.lock_state(t, 1).holder_id for t in (10, 9, 11, 8, 12)] == [None, 1, 1, 1, 2]
        assert presence.lock_acquire(9, 1, "Ada", role="editor").held  # one already held: no room needed
        assert presence.lock_state(11, 1).held
        assert not presence.lock_renew(10, 1).held  # the given-back lock is not renewed into being
        assert presence.lock_state(10, 1).holder_id is None

    def test_locks_given_back_or_lapsed_leave_room(self, backend):
        for task_id in (1, 2, 3):
            presence.lock_acquire(task_id, 1, "Ada", role="editor")
        presence.lock_release(2, 1)
        presence.lock_acquire(4, 1, "Ada", role="editor")
        assert [presence.lock_state(t, 1).held for t in (1, 3, 4)] == [True, True, True]

    def test_renewals_stop_at_the_maximum_age(self, backend):
        assert presence.lock_acquire(42, 1, "Ada", role="editor").held
        age_lock(backend, 42, presence.LOCK_MAX_AGE - 5)
        assert presence.lock_renew(42, 1).held
        assert 0 < ttl(backend, 42) <= 5  # renewed only up to the maximum age
        assert presence.lock_acquire(42, 1, "Ada", role="editor").held  # taking it again: no younger
        assert 0 < ttl(backend, 42) <= 5
        age_lock(backend, 42, 5)
        assert not presence.lock_renew(42, 1).held
        assert presence.lock_state(42, 2).holder_id is None  # free for anyone
        assert presence.lock_acquire(42, 2, "Bob", role="editor").held

    def test_after_the_maximum_age_only_a_new_take_locks_again(self, backend):
        presence.lock_acquire(42, 1, "Ada", role="editor")
        age_lock(backend, 42, presence.LOCK_MAX_AGE)
        assert presence.lock_acquire(42, 1, "Ada", role="editor").held  # the user acted again
        assert ttl(backend, 42) > presence.LOCK_TTL - 5

    def test_giving_back_says_whether_there_was_anything_to_give(self, backend):
        assert presence.lock_acquire(42, 1, "Ada", role="editor").held
        assert presence.lock_release(42, 2) is False  # not theirs
        assert presence.lock_state(42, 2).holder_id == 1
        assert presence.lock_release(42, 1) is True
        assert presence.lock_release(42, 1) is False  # already given back: nobody is told twice

    def test_lock_holders_reads_many_at_once(self, backend):
        assert presence.lock_holders([]) == {}
        presence.lock_acquire(41, 1, "Ada", role="editor")
        presence.lock_acquire(43, 2, "Bob | Jr", role="editor")
        holders = presence.lock_holders([41, 42, 43])
        assert {task: (state.holder_id, state.holder_name) for task, state in holders.items()} == {
            41: (1, "Ada"),
            43: (2, "Bob | Jr"),
        }


class TestSocketSlots:
    def test_a_user_holds_at_most_the_limit(self, backend):
        assert all(presence.socket_claim(1, f"s{n}", limit=3, ttl=60) for n in range(3))
        assert not presence.socket_claim(1, "s3", limit=3, ttl=60)
        assert presence.socket_claim(1, "s0", limit=3, ttl=60)  # one already counted
        assert presence.socket_claim(2, "t0", limit=3, ttl=60)  # per user
        presence.socket_release(1, "s1")
        assert presence.socket_claim(1, "s3", limit=3, ttl=60)

    def test_entries_nobody_refreshes_lapse(self, backend):
        """What a process that died leaves behind frees itself; a live process's refresh keeps them."""
        presence.socket_claim(1, "dead", limit=2, ttl=60)
        presence.socket_claim(1, "alive", limit=2, ttl=60)
        if backend == "redis":
            presence.client().zadd("sockets:1", {"dead": time.time() - 1, "alive": time.time() - 1})
        else:
            presence._memory.zsets["sockets:1"] = {"dead": time.monotonic() - 1, "alive": time.monotonic() - 1}
        presence.sockets_refresh([(1, "alive")], ttl=60)
        assert presence.socket_claim(1, "new", limit=2, ttl=60)
        assert not presence.socket_claim(1, "newer", limit=2, ttl=60)

    def test_the_key_expires_with_its_entries(self):
        presence.socket_claim(1, "s0", limit=2, ttl=29.5)
        assert 0 < presence.client().ttl("sockets:1") <= 30
        presence.sockets_refresh([(1, "s0")], ttl=89.5)
        assert 30 < presence.client().ttl("sockets:1") <= 90

    def test_redis_down_lets_sockets_in(self, dead_redis):
        assert presence.socket_claim(1, "s0", limit=0, ttl=60)
        presence.sockets_refresh([(1, "s0")], ttl=60)
        presence.socket_release(1, "s0")


@pytest.mark.django_db
def test_presence_lists_only_current_members(project, owner, editor):
    from boards.live.consumers import presence_html
    from boards.models import Membership

    presence.presence_touch(project.pk, f"{owner.pk}:a")
    presence.presence_touch(project.pk, f"{editor.pk}:b")
    html = presence_html(project.pk)
    assert f'data-user="{editor.pk}"' in html and f'data-user="{owner.pk}"' in html
    Membership.objects.filter(user=editor).delete()  # removed, its heartbeat still fresh
    html = presence_html(project.pk)
    assert f'data-user="{editor.pk}"' not in html and f'data-user="{owner.pk}"' in html
