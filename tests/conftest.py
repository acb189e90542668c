import sys

import pytest
from channels.layers import channel_layers
from django.core.cache import cache

from boards.models import Membership
from tests.factories import ApplicationFactory, MembershipFactory, UserFactory, make_project
from tests.support import event_loops


def pytest_addoption(parser):
    parser.addoption(
        "--update-screenshots",
        action="store_true",
        help="e2e tests write their screenshots over the committed bench/results/*.png "
        "(by default they go to test-artifacts/screenshots/, which git ignores)",
    )


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (the test Redis database index)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _own_event_loops():
    """Each test's async code runs in a loop of its own, never in one an earlier test left behind
    (tests/support/event_loops.py); a loop this test left running is described, stopped and forgotten."""
    event_loops.forget_event_loops()
    yield
    for loop in event_loops.loops_left_open():
        # Captured with the test's teardown: the report says where each task was stuck.
        print(event_loops.describe(loop), file=sys.stderr)
        if not event_loops.stop(loop):
            print(f"{loop!r} did not stop; later tests no longer use it", file=sys.stderr)
    event_loops.forget_event_loops()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test gets a channel layer of its own: channels-redis ties its connections to the
    event loop that first used them, and each async test runs its own loop."""
    yield
    channel_layers.backends.clear()


@pytest.fixture
def application(db):
    return ApplicationFactory()


@pytest.fixture
def owner(application):
    return MembershipFactory(application=application, role=Membership.Role.OWNER).user


@pytest.fixture
def editor(application):
    return MembershipFactory(application=application, role=Membership.Role.EDITOR).user


@pytest.fixture
def viewer(application):
    return MembershipFactory(application=application, role=Membership.Role.VIEWER).user


@pytest.fixture
def outsider(db):
    """A user with a workspace of their own, but not ours."""
    return MembershipFactory(role=Membership.Role.OWNER).user


@pytest.fixture
def owner_client(client, owner):
    """The test client, logged in as the workspace's owner."""
    client.force_login(owner)
    return client


@pytest.fixture
def project(application):
    return make_project(application, name="Website", key="WEB")


@pytest.fixture
def columns(project):
    """The project's columns by category name (the default board has one each)."""
    return {column.category: column for column in project.task_statuses.order_by("position")}


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def close_db_pool():
    """For tests whose code queries from other threads (consumers, executors): the connections
    those threads return to the pool would outlive the test and keep the test database busy."""
    yield
    from django.db import connections

    for connection in connections.all():
        connection.close()
        if getattr(connection, "pool", None) is not None:
            connection.close_pool()
