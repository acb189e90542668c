from pathlib import Path

import pytest

from tests.support.queue import empty_queue

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def _empty_queue(transactional_db, close_db_pool):
    """Each test starts with no job; the progress thread's connection goes back before the flush."""
    empty_queue()
    yield
    empty_queue()


@pytest.fixture
def trello_bytes() -> bytes:
    return (FIXTURES / "trello_board.json").read_bytes()
