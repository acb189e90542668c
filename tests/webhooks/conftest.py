import socket

import pytest

from tests.support.queue import empty_queue
from tests.support.webhook_receiver import serving


@pytest.fixture
def receiver():
    """An HTTP receiver on 127.0.0.1 (the only place webhook tests send to)."""
    with serving("127.0.0.1") as receiver:
        yield receiver


@pytest.fixture
def receiver6():
    """The same on ::1."""
    with serving("::1") as receiver:
        yield receiver


@pytest.fixture
def no_connections(monkeypatch):
    """Fails the test if any Python socket tries to connect from here on."""
    attempts = []

    def refuse_connect(sock, address):
        attempts.append(address)
        raise AssertionError(f"a socket tried to connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connect)
    return attempts


@pytest.fixture
def private_allowed(settings):
    """Tests reach their own loopback receiver only with the instance's permission."""
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture
def empty_jobs(transactional_db):
    empty_queue()
    yield
    empty_queue()
