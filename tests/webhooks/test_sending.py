"""One attempt on the wire: the address check (server-side request forgery), the pinned
connection, the bounds on time and on what is read. Traffic goes only to receivers on loopback."""

import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from pathlib import Path

import pytest

from webhooks import sending

BODY = b'{"kind":"ping"}'


def post(url, *, allow_private=False):
    return sending.post(url, BODY, {"Content-Type": "application/json"}, allow_private=allow_private)


class TestRefusedTargets:
    """With WEBHOOKS_ALLOW_PRIVATE_NETWORKS off nothing leaves: the address check refuses first."""

    @pytest.mark.parametrize(
        ("host", "reason"),
        [
            ("127.0.0.1", "loopback"),
            ("[::1]", "loopback"),
            ("localhost", "loopback"),
            ("[::ffff:127.0.0.1]", "loopback"),
            ("0.0.0.0", "unspecified"),
        ],
    )
    def test_loopback_targets_are_refused_and_the_receiver_hears_nothing(
        self, receiver, receiver6, host, reason, no_connections
    ):
        outcome = post(f"http://{host}:{receiver.port}/hook")
        assert outcome.refused and not outcome.delivered
        assert reason in outcome.error
        assert outcome.response_code is None
        assert no_connections == []
        assert receiver.requests == [] and receiver6.requests == []

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://10.0.0.1/hook", "private"),
            ("http://192.168.1.1:8080/", "private"),
            ("http://172.16.0.5/", "private"),
            ("http://169.254.169.254/latest/meta-data/", "link-local"),
            ("http://100.64.0.1/", "not a public address"),  # carrier-grade NAT
            ("http://224.0.0.1/", "multicast"),
            ("http://240.0.0.1/", "reserved"),
            ("http://[fe80::1]/", "link-local"),
            ("http://[fc00::1]/", "private"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            ("http://[::ffff:169.254.169.254]/", "link-local"),
            ("http://[2002:a00:1::]/", "private"),  # 6to4 around 10.0.0.1
            ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 around 169.254.169.254
            ("https://10.0.0.1/", "private"),
        ],
    )
    def test_private_and_link_local_targets_are_refused_before_any_socket(self, url, reason, no_connections):
        outcome = post(url)
        assert outcome.refused
        assert reason in outcome.error
        assert no_connections == []

    def test_a_name_with_any_private_address_is_refused(self, monkeypatch, no_connections):
        """Every address counts, not only the first: one private answer is enough to refuse."""
        monkeypatch.setattr(
            socket,
            "getaddrinfo",
            lambda *args, **kwargs: [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 80)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80)),
            ],
        )
        outcome = post("http://hooks.example.com/")
        assert outcome.refused and "10.1.2.3" in outcome.error
        assert no_connections == []

    def test_the_setting_lets_the_instance_reach_its_own_network(self, receiver):
        assert post(receiver.url(), allow_private=True).delivered
        assert len(receiver.requests) == 1

    @pytest.mark.parametrize(
        "address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]
    )
    def test_public_addresses_pass_the_check(self, address):
        assert sending.why_not_public(ipaddress.ip_address(address)) is None


class TestPinnedConnection:
    def test_the_checked_address_is_the_one_connected_to(self, receiver, monkeypatch):
        """DNS rebinding: the name is resolved once; a later answer is never used."""
        answers = iter(["127.0.0.1", "127.0.0.3"])  # a second answer would reach nothing, and stay here
        calls = []

        def fake_getaddrinfo(host, port, *args, **kwargs):
            calls.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

        monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
        outcome = post(f"http://rebind.example:{receiver.port}/hook", allow_private=True)
        assert outcome.delivered
        assert calls == ["rebind.example"]
        (request,) = receiver.requests
        assert request.headers["Host"] == f"rebind.example:{receiver.port}"

    def test_ipv6_loopback_receiver(self, receiver6):
        outcome = post(receiver6.url(), allow_private=True)
        assert outcome.delivered, outcome.error
        assert receiver6.requests[0].headers["Host"] == f"[::1]:{receiver6.port}"


class TestBounds:
    def test_redirects_are_not_followed(self, receiver, receiver6):
        receiver.answer(302, headers={"Location": receiver6.url()})
        outcome = post(receiver.url(), allow_private=True)
        assert not outcome.delivered and outcome.response_code == 302
        assert receiver6.requests == []

    def test_only_the_start_of_a_long_answer_is_read(self, receiver):
        receiver.answer(500, b"<b>" + b"x" * 1_000_000)
        outcome = post(receiver.url(), allow_private=True)
        assert outcome.response_code == 500 and not outcome.delivered
        assert len(outcome.response_excerpt) == sending.EXCERPT_MAX
        assert outcome.error == "HTTP 500"

    def test_a_server_dripping_its_answer_is_cut_off_at_the_total_timeout(self, monkeypatch):
        """Each byte arrives well within the read timeout; the whole exchange still ends in time."""
        monkeypatch.setattr(sending, "TOTAL_TIMEOUT", 1.0)
        listener = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()

        def drip():
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.is_set():
                    try:
                        conn.sendall(b"X-Slow: y\r\n")
                    except OSError:
                        return
                    time.sleep(0.1)

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        try:
            started = time.monotonic()
            outcome = post(f"http://127.0.0.1:{listener.getsockname()[1]}/", allow_private=True)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            listener.close()
            thread.join(5)
        assert not outcome.delivered and not outcome.refused
        assert outcome.error
        assert elapsed < 1.0 + 2.0

    def test_a_closed_port_is_a_connection_error(self):
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        listener.close()
        outcome = post(f"http://127.0.0.1:{port}/", allow_private=True)
        assert not outcome.delivered and not outcome.refused
        assert "ConnectionRefused" in outcome.error


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = sending.sign("whsec_abc", 1_700_000_000, BODY)
    expected = hmac.new(b"whsec_abc", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_the_readme_example_verifies_our_signature():
    """The receiver's check the README shows (section "Webhooks") accepts ours and nothing else."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("### Webhooks", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    verify = namespace["verify"]
    now = int(time.time())
    header = sending.sign("whsec_abc", now, BODY)
    assert verify("whsec_abc", header, BODY)
    assert not verify("whsec_abc", header, BODY + b" ")
    assert not verify("whsec_other", header, BODY)
    assert not verify("whsec_abc", sending.sign("whsec_abc", now - 3600, BODY), BODY)
    assert not verify("whsec_abc", "garbage", BODY)
