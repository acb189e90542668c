import pytest

from boards import services
from boards.models import Membership
from tests.factories import MembershipFactory
from tests.support.queue import empty_queue


@pytest.fixture(autouse=True)
def _empty_queue(transactional_db):
    """Each test starts and ends with no job (the queue's tables outlive a test's flush)."""
    empty_queue()
    yield
    empty_queue()


def _member(application, username, first, last, role=Membership.Role.EDITOR):
    return MembershipFactory(
        application=application,
        role=role,
        user__username=username,
        user__first_name=first,
        user__last_name=last,
        user__email=f"{username}@example.com",
    ).user


@pytest.fixture
def ada(application):
    return _member(application, "ada", "Ada", "Lovelace", Membership.Role.OWNER)


@pytest.fixture
def bob(application):
    return _member(application, "bob", "Bob", "Marley")


@pytest.fixture
def cat(application):
    return _member(application, "cat", "Cat", "Stevens")


@pytest.fixture
def card(project, columns, ada):
    """Ada's card: she created it, so she watches it (once the queue has run)."""
    return services.create_task(project=project, status_id=columns["todo"].pk, title="Ship it", reporter=ada)
