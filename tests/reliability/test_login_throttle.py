"""Failed log-ins are limited per username and per address, in the cache; success resets."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from boards import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.timeout(60), pytest.mark.django_db]


def attempt(client: Client, username: str, password: str, url: str = "/login/"):
    return client.post(url, {"username": username, "password": password})


class TestPerUsername:
    def test_sixth_attempt_is_refused_even_with_the_right_password(self):
        user = UserFactory(username="alice")
        client = Client()
        for _ in range(login.MAX_FAILURES_PER_USERNAME):
            response = attempt(client, "alice", "wrong")
            assert response.status_code == 200
            assert "That username and password do not match." in response.content.decode()
        response = attempt(client, "alice", "secret-pass")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == str(login.WINDOW_SECONDS)
        assert "Too many failed log-in attempts" in response.content.decode()
        assert SESSION_KEY not in client.session
        user.refresh_from_db()
        assert user.last_login is None

    def test_username_case_and_spaces_share_a_counter(self):
        UserFactory(username="bob")
        client = Client()
        for name in ["bob", "BOB", " Bob", "bob ", "bOb"]:
            attempt(client, name, "wrong")
        assert attempt(client, "bob", "secret-pass").status_code == 429

    def test_other_users_are_not_locked_out(self):
        UserFactory(username="carol")
        UserFactory(username="dave")
        for _ in range(login.MAX_FAILURES_PER_USERNAME):
            attempt(Client(), "carol", "wrong")
        response = attempt(Client(REMOTE_ADDR="10.0.0.2"), "dave", "secret-pass")
        assert response.status_code == 302

    def test_success_resets_the_username_count(self):
        UserFactory(username="erin")
        client = Client()
        for _ in range(login.MAX_FAILURES_PER_USERNAME - 1):
            attempt(client, "erin", "wrong")
        assert attempt(client, "erin", "secret-pass").status_code == 302
        client.logout()
        for _ in range(login.MAX_FAILURES_PER_USERNAME - 1):
            attempt(client, "erin", "wrong")
        assert attempt(client, "erin", "secret-pass").status_code == 302

    def test_unknown_usernames_are_counted_too(self):
        client = Client()
        for _ in range(login.MAX_FAILURES_PER_USERNAME):
            attempt(client, "nobody", "wrong")
        assert attempt(client, "nobody", "wrong").status_code == 429


class TestPerAddress:
    def test_one_address_guessing_many_usernames_is_stopped(self):
        UserFactory(username="frank")
        guesser = Client(REMOTE_ADDR="203.0.113.7")
        for index in range(login.MAX_FAILURES_PER_ADDRESS):
            assert attempt(guesser, f"guess{index}", "wrong").status_code == 200
        assert attempt(guesser, "frank", "secret-pass").status_code == 429
        # Another address is not affected.
        assert attempt(Client(REMOTE_ADDR="203.0.113.8"), "frank", "secret-pass").status_code == 302


class TestAdminLogin:
    def test_admin_login_shares_the_limit(self):
        UserFactory(username="root", is_staff=True, is_superuser=True)
        client = Client()
        for _ in range(login.MAX_FAILURES_PER_USERNAME):
            assert attempt(client, "root", "wrong", "/admin/login/").status_code == 200
        response = attempt(client, "root", "secret-pass", "/admin/login/")
        assert response.status_code == 429
        assert "Too many failed log-in attempts" in response.content.decode()
        assert attempt(client, "root", "secret-pass").status_code == 429


def test_locked_out_attempt_does_not_check_the_password(django_assert_num_queries):
    UserFactory(username="grace")
    client = Client()
    for _ in range(login.MAX_FAILURES_PER_USERNAME):
        attempt(client, "grace", "wrong")
    # No user lookup: a locked-out username tells an attacker nothing, and costs no hashing.
    with django_assert_num_queries(0):
        assert attempt(client, "grace", "secret-pass").status_code == 429


@pytest.fixture
def behind_proxy():
    with override_settings(TRUSTED_PROXIES=["127.0.0.1"]):
        yield


@pytest.mark.usefixtures("behind_proxy")
class TestBehindTheProxy:
    """gunicorn behind our proxy sees the proxy's address: the client's comes from X-Forwarded-For
    (tasktrack.middleware.ForwardedClientMiddleware), so one guesser does not lock out everyone."""

    def via_proxy(self, client_address: str) -> Client:
        # What a client may claim comes first; the address our proxy appends comes last.
        return Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"198.51.100.1, {client_address}")

    def test_the_limit_per_address_holds_per_client_not_per_proxy(self):
        UserFactory(username="gina")
        guesser = self.via_proxy("203.0.113.9")
        for index in range(login.MAX_FAILURES_PER_ADDRESS):
            attempt(guesser, f"guess{index}", "wrong")
        assert attempt(guesser, "gina", "secret-pass").status_code == 429
        assert attempt(self.via_proxy("203.0.113.10"), "gina", "secret-pass").status_code == 302

    def test_a_client_cannot_pick_its_address_by_claiming_one(self):
        UserFactory(username="hank")
        for index in range(login.MAX_FAILURES_PER_ADDRESS):
            # Each request claims another address, but the proxy appended the same real one.
            attempt(
                Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.1.0.{index}, 203.0.113.11"), f"g{index}", "x"
            )
        assert attempt(self.via_proxy("203.0.113.11"), "hank", "secret-pass").status_code == 429

    def test_requests_not_from_the_proxy_keep_their_address(self):
        UserFactory(username="ivy")
        for index in range(login.MAX_FAILURES_PER_ADDRESS):
            attempt(Client(REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR="203.0.113.12"), f"h{index}", "x")
        # The forged header did not move those failures onto 203.0.113.12.
        assert attempt(self.via_proxy("203.0.113.12"), "ivy", "secret-pass").status_code == 302

    def test_garbage_in_the_header_keeps_the_proxy_address(self):
        UserFactory(username="jack")
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="not-an-address")
        assert attempt(client, "jack", "secret-pass").status_code == 302
