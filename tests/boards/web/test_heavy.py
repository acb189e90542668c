"""Heavy requests are bounded per user (in Redis, across processes) and per process."""

import time

import pytest
from django.test import override_settings
from django.urls import reverse

from boards.web import heavy
from tests.factories import UserFactory
from tests.support import ports

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_process_slots(monkeypatch):
    """Slots a test leaves taken stay in its own counter (Redis is emptied around every test)."""
    monkeypatch.setattr(heavy, "_leases", heavy._Leases())


@pytest.fixture
def another_process(monkeypatch):
    """Switch to the slots of a fresh process: only what Redis holds is shared with this one."""

    def switch():
        monkeypatch.setattr(heavy, "_leases", heavy._Leases())

    return switch


class TestPerUser:
    @pytest.fixture(autouse=True)
    def _limits(self, settings):
        settings.HEAVY_REQUESTS_PER_USER = 2
        settings.HEAVY_REQUESTS_PER_PROCESS = 10

    def test_the_limit_holds_across_processes(self, another_process):
        user = UserFactory()
        first = heavy.acquire(user)
        another_process()
        second = heavy.acquire(user)
        another_process()
        with pytest.raises(heavy.Busy, match="already have 2 exports"):
            heavy.acquire(user)
        assert heavy.acquire(UserFactory())  # another user is not affected
        second.release()
        heavy.acquire(user).release()
        first.release()

    def test_release_is_idempotent(self):
        user = UserFactory()
        slot = heavy.acquire(user)
        slot.release()
        slot.release()
        with heavy.acquire(user), heavy.acquire(user):
            pass

    def test_a_slot_never_released_lapses_after_its_lease(self, monkeypatch, another_process):
        monkeypatch.setattr(heavy, "LEASE", 1)
        user = UserFactory()
        heavy.acquire(user)
        heavy.acquire(user)  # both leaked: a process killed mid-export
        another_process()
        with pytest.raises(heavy.Busy):
            heavy.acquire(user)
        time.sleep(1.1)
        heavy.acquire(user)

    def test_renewing_keeps_a_slot(self, monkeypatch):
        monkeypatch.setattr(heavy, "LEASE", 1)
        monkeypatch.setattr(heavy, "RENEW_EVERY", 0.2)
        user = UserFactory()
        slots = [heavy.acquire(user), heavy.acquire(user)]
        for _ in range(6):
            time.sleep(0.25)
            for slot in slots:
                slot.renew()
        with pytest.raises(heavy.Busy):
            heavy.acquire(user)

    def test_redis_down_lets_users_through(self):
        user = UserFactory()
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{ports.refused_port()}/0"):
            slots = [heavy.acquire(user) for _ in range(3)]
            for slot in slots:
                slot.release()

    def test_without_redis_the_process_counts_per_user(self):
        user = UserFactory()
        with override_settings(REDIS_URL=""):
            heavy.acquire(user)
            heavy.acquire(user)
            with pytest.raises(heavy.Busy):
                heavy.acquire(user)


class TestPerProcess:
    @pytest.fixture(autouse=True)
    def _limits(self, settings):
        settings.HEAVY_REQUESTS_PER_USER = 10
        settings.HEAVY_REQUESTS_PER_PROCESS = 2

    def test_the_process_limit_holds_for_all_users_even_without_redis(self):
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{ports.refused_port()}/0"):
            first = heavy.acquire(UserFactory())
            heavy.acquire(UserFactory())
            with pytest.raises(heavy.Busy, match="server is busy"):
                heavy.acquire(UserFactory())
            assert heavy.running_here() == 2
            first.release()
            heavy.acquire(UserFactory())


class TestInsights:
    @pytest.fixture(autouse=True)
    def _limits(self, settings):
        settings.HEAVY_REQUESTS_PER_USER = 1
        settings.INSIGHTS_HEAVY_DAYS = 90

    def test_a_long_range_is_heavy_a_short_one_is_not(self, viewer_client, viewer, project):
        url = reverse("project_insights", args=[project.pk])
        with heavy.acquire(viewer):  # an export running
            refused = viewer_client.get(url, {"days": 365})
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == str(heavy.RETRY_AFTER)
            assert viewer_client.get(url, {"days": 90}).status_code == 200
        assert viewer_client.get(url, {"days": 365}).status_code == 200
        assert heavy.running_here() == 0  # the page gave its slot back
