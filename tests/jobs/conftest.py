import pytest

from tests.support.queue import empty_queue


@pytest.fixture(autouse=True)
def _empty_queue(transactional_db):
    """Each test starts with no job, whatever earlier tests of the suite queued."""
    empty_queue()
    yield
    empty_queue()
