"""Behind proxies that append to X-Forwarded-For, the log-in limit per address holds per real
client, under daphne and gunicorn alike, whatever addresses the client writes into the header.

Loopback addresses stand for the machines: the guesser is 127.0.0.2, another visitor 127.0.0.4,
the outer proxy (a load balancer) forwards from 127.0.0.3 and the inner one (nginx beside the
app) from 127.0.0.1; both proxies are TRUSTED_PROXIES. The server sees every request come from
127.0.0.1 with `X-Forwarded-For: <forged>, 127.0.0.2, 127.0.0.3`.
"""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.reliability.proxy import AppendingProxy, Visitor
from tests.support.live_support import ROOT, Daphne, Gunicorn, Serve

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BEHIND_PROXIES = {"BEHIND_PROXY": "1", "TRUSTED_PROXIES": "127.0.0.1,127.0.0.3"}
GUESSER, OTHER = "127.0.0.2", "127.0.0.4"


@pytest.fixture(params=["daphne", "serve", "gunicorn"])
def server(request):
    kind = {"daphne": Daphne, "serve": Serve, "gunicorn": Gunicorn}[request.param]
    started = kind(**BEHIND_PROXIES)
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture
def front(server):
    """The address of the outer proxy, which forwards to the inner one, which forwards to the server."""
    with (
        AppendingProxy(("127.0.0.1", server.port), source="127.0.0.1") as inner,
        AppendingProxy(inner.address, source="127.0.0.3") as outer,
    ):
        yield outer.address


def test_forged_addresses_do_not_escape_the_limit_per_address(front):
    guesser = Visitor(front, GUESSER)
    statuses = [
        guesser.log_in(f"guess{n}", "wrong", forged=f"198.51.100.{n}, 10.0.{n}.1")
        for n in range(settings.LOGIN_FAILURES_PER_ADDRESS + 5)
    ]
    # Every attempt counted against 127.0.0.2, the address the outer proxy saw: the failure that
    # reaches the limit is refused already.
    assert statuses == [200] * (settings.LOGIN_FAILURES_PER_ADDRESS - 1) + [429] * 6
    # Not against a proxy: another visitor behind the same proxies is not locked out.
    assert Visitor(front, OTHER).log_in("someone", "wrong", forged=GUESSER) == 200


def test_serve_refuses_daphnes_proxy_headers():
    # --proxy-headers makes daphne take the first X-Forwarded-For entry, which the client writes.
    result = subprocess.run(
        [sys.executable, "-m", "tasktrack.serve", "--port", "0", "--", "--proxy-headers"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--proxy-headers" in result.stderr
    assert "TRUSTED_PROXIES" in result.stderr


def test_daphne_refuses_to_serve_the_app_with_its_proxy_headers():
    result = subprocess.run(
        [sys.executable, "-m", "daphne", "--proxy-headers", "-p", "0", "tasktrack.asgi:application"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "run daphne without --proxy-headers" in result.stderr
