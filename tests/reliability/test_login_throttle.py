"""Failed log-ins are limited per username, per (username, address) and, higher, per address
(django-axes and tasktrack.login, counted in Redis); a correct password resets the username's counts."""

from ipaddress import ip_network

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from tasktrack.middleware import client_address
from tests.factories import UserFactory

pytestmark = [pytest.mark.timeout(60), pytest.mark.django_db]

PER_USERNAME = settings.AXES_FAILURE_LIMIT
PER_ADDRESS = settings.LOGIN_FAILURES_PER_ADDRESS
LOCKOUT_SECONDS = settings.LOGIN_LOCKOUT_MINUTES * 60
LOCKED = "Too many failed log-in attempts"


def attempt(client: Client, username: str, password: str, url: str = "/login/"):
    return client.post(url, {"username": username, "password": password})


def fail(client: Client, username: str, times: int, url: str = "/login/") -> list[int]:
    return [attempt(client, username, "wrong", url).status_code for _ in range(times)]


def assert_locked_out(response) -> None:
    assert response.status_code == 429
    # The lock runs from the last counted failure: a whole cool-off, give or take a second.
    assert LOCKOUT_SECONDS - 5 <= int(response.headers["Retry-After"]) <= LOCKOUT_SECONDS
    body = response.content.decode()
    assert LOCKED in body and "Try again in 15 minutes" in body
    assert "unsafe" not in response.headers["Content-Security-Policy"]


def test_limits_are_the_documented_ones():
    assert (PER_USERNAME, PER_ADDRESS, LOCKOUT_SECONDS) == (5, 50, 900)
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


class TestPerUsername:
    def test_the_fifth_failure_locks_the_username_and_the_right_password_is_then_refused(self):
        user = UserFactory(username="alice")
        client = Client()
        for _ in range(PER_USERNAME - 1):
            response = attempt(client, "alice", "wrong")
            assert response.status_code == 200
            assert "That username and password do not match." in response.content.decode()
        assert_locked_out(attempt(client, "alice", "wrong"))
        assert_locked_out(attempt(client, "alice", "secret-pass"))
        assert SESSION_KEY not in client.session
        user.refresh_from_db()
        assert user.last_login is None

    def test_the_username_is_locked_from_every_address(self):
        UserFactory(username="amy")
        for index in range(PER_USERNAME):
            attempt(Client(REMOTE_ADDR=f"198.51.100.{index}"), "amy", "wrong")
        assert_locked_out(attempt(Client(REMOTE_ADDR="203.0.113.99"), "amy", "secret-pass"))

    def test_username_case_and_spaces_share_a_counter(self):
        UserFactory(username="bob")
        client = Client()
        for name in ["bob", "BOB", " Bob", "bob "]:
            assert attempt(client, name, "wrong").status_code == 200
        assert attempt(client, "bOb", "wrong").status_code == 429
        assert attempt(client, "bob", "secret-pass").status_code == 429

    def test_other_users_are_not_locked_out(self):
        UserFactory(username="carol")
        UserFactory(username="dave")
        client = Client(REMOTE_ADDR="10.0.0.1")
        fail(client, "carol", PER_USERNAME)
        # Same address, same browser: dave's right password still lets him in.
        assert attempt(client, "dave", "secret-pass").status_code == 302

    def test_success_resets_the_username_count(self):
        UserFactory(username="erin")
        client = Client()
        assert fail(client, "erin", PER_USERNAME - 1) == [200] * (PER_USERNAME - 1)
        assert attempt(client, "erin", "secret-pass").status_code == 302
        client.logout()
        assert fail(client, "erin", PER_USERNAME - 1) == [200] * (PER_USERNAME - 1)
        assert attempt(client, "erin", "secret-pass").status_code == 302

    def test_unknown_usernames_are_counted_too(self):
        client = Client()
        assert fail(client, "nobody", PER_USERNAME) == [200] * (PER_USERNAME - 1) + [429]
        assert attempt(client, "nobody", "wrong").status_code == 429

    def test_refused_attempts_do_not_extend_the_lock(self):
        UserFactory(username="fay")
        client = Client()
        fail(client, "fay", PER_USERNAME)
        from django.core.cache import cache

        for key in cache.keys("axes-*"):
            cache.expire(key, 100)  # as if 800 of the 900 seconds had passed
        response = attempt(client, "fay", "secret-pass")
        assert response.status_code == 429
        assert 95 <= int(response.headers["Retry-After"]) <= 100
        assert "Try again in 2 minutes" in response.content.decode()


class TestPerAddress:
    def test_a_flood_for_one_user_does_not_lock_out_another_on_that_address(self):
        UserFactory(username="mallory")
        UserFactory(username="bea")
        flooder = Client(REMOTE_ADDR="203.0.113.7")
        statuses = fail(flooder, "mallory", PER_ADDRESS - 1)
        assert statuses == [200] * (PER_USERNAME - 1) + [429] * (PER_ADDRESS - PER_USERNAME)
        # bea, behind the same address (the same office), below the address limit: still gets in.
        response = attempt(Client(REMOTE_ADDR="203.0.113.7"), "bea", "secret-pass")
        assert response.status_code == 302

    def test_one_address_guessing_many_usernames_is_stopped(self):
        UserFactory(username="frank")
        guesser = Client(REMOTE_ADDR="203.0.113.7")
        statuses = [attempt(guesser, f"guess{index}", "wrong").status_code for index in range(PER_ADDRESS)]
        assert statuses == [200] * (PER_ADDRESS - 1) + [429]
        assert_locked_out(attempt(Client(REMOTE_ADDR="203.0.113.7"), "frank", "secret-pass"))
        # Another address is not affected, nor is frank's own count.
        assert attempt(Client(REMOTE_ADDR="203.0.113.8"), "frank", "secret-pass").status_code == 302

    def test_a_success_does_not_reset_the_address_count(self):
        UserFactory(username="gus")
        guesser = Client(REMOTE_ADDR="203.0.113.20")
        for index in range(PER_ADDRESS - 1):
            attempt(guesser, f"guess{index}", "wrong")
        # One valid account must not let an address keep guessing others.
        assert attempt(Client(REMOTE_ADDR="203.0.113.20"), "gus", "secret-pass").status_code == 302
        assert attempt(guesser, "guess-last", "wrong").status_code == 429

    def test_a_username_that_looks_like_an_address_counts_against_the_username(self):
        UserFactory(username="hal")
        # The username "203.0.113.30" is not the address 203.0.113.30: its failures lock only it.
        fail(Client(REMOTE_ADDR="198.51.100.5"), "203.0.113.30", PER_ADDRESS)
        assert attempt(Client(REMOTE_ADDR="203.0.113.30"), "hal", "secret-pass").status_code == 302


class TestAdminLogin:
    def test_admin_login_shares_the_limit(self):
        UserFactory(username="root", is_staff=True, is_superuser=True)
        client = Client()
        assert fail(client, "root", PER_USERNAME - 1, "/admin/login/") == [200] * (PER_USERNAME - 1)
        assert_locked_out(attempt(client, "root", "wrong", "/admin/login/"))
        assert_locked_out(attempt(client, "root", "secret-pass", "/admin/login/"))
        assert attempt(client, "root", "secret-pass").status_code == 429

    def test_site_failures_lock_the_admin_login_too(self):
        UserFactory(username="ops", is_staff=True, is_superuser=True)
        fail(Client(), "ops", PER_USERNAME)
        assert_locked_out(attempt(Client(REMOTE_ADDR="10.9.9.9"), "ops", "secret-pass", "/admin/login/"))

    def test_a_flood_on_the_admin_does_not_lock_out_another_staff_user(self):
        UserFactory(username="admin")
        UserFactory(username="staffer", is_staff=True, is_superuser=True)
        fail(Client(REMOTE_ADDR="203.0.113.40"), "admin", PER_USERNAME * 3, "/admin/login/")
        response = attempt(Client(REMOTE_ADDR="203.0.113.40"), "staffer", "secret-pass", "/admin/login/")
        assert response.status_code == 302

    def test_admin_success_resets_the_username_count(self):
        UserFactory(username="boss", is_staff=True, is_superuser=True)
        client = Client()
        fail(client, "boss", PER_USERNAME - 1, "/admin/login/")
        assert attempt(client, "boss", "secret-pass", "/admin/login/").status_code == 302
        client.logout()
        assert fail(client, "boss", PER_USERNAME - 1, "/admin/login/") == [200] * (PER_USERNAME - 1)

    def test_a_non_staff_users_right_password_is_not_a_failure(self):
        UserFactory(username="kim")  # not staff: the admin turns them away, but they did not guess
        client = Client()
        for _ in range(PER_USERNAME + 1):
            response = attempt(client, "kim", "secret-pass", "/admin/login/")
            assert response.status_code == 200
            assert LOCKED not in response.content.decode()
        assert attempt(client, "kim", "secret-pass").status_code == 302


def test_under_asgi_too(owner):
    # daphne runs axes' middleware asynchronously, which hands our lock-out page its arguments
    # differently: the page must still say when, from the same counts.
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    for _ in range(PER_USERNAME - 1):
        assert async_to_sync(client.post)("/login/", {"username": owner.username, "password": "x"}).status_code == 200
    assert_locked_out(async_to_sync(client.post)("/login/", {"username": owner.username, "password": "x"}))
    assert_locked_out(async_to_sync(client.post)("/login/", {"username": owner.username, "password": "secret-pass"}))


def test_locked_out_attempt_does_not_check_the_password(django_assert_num_queries):
    UserFactory(username="grace")
    client = Client()
    fail(client, "grace", PER_USERNAME)
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
        for index in range(PER_ADDRESS):
            attempt(guesser, f"guess{index}", "wrong")
        assert attempt(guesser, "gina", "secret-pass").status_code == 429
        assert attempt(self.via_proxy("203.0.113.10"), "gina", "secret-pass").status_code == 302

    def test_a_client_cannot_pick_its_address_by_claiming_one(self):
        UserFactory(username="hank")
        for index in range(PER_ADDRESS):
            # Each request claims another address, but the proxy appended the same real one.
            attempt(
                Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.1.0.{index}, 203.0.113.11"), f"g{index}", "x"
            )
        assert attempt(self.via_proxy("203.0.113.11"), "hank", "secret-pass").status_code == 429

    def test_requests_not_from_the_proxy_keep_their_address(self):
        UserFactory(username="ivy")
        for index in range(PER_ADDRESS):
            attempt(Client(REMOTE_ADDR="192.0.2.5", HTTP_X_FORWARDED_FOR="203.0.113.12"), f"h{index}", "x")
        # The forged header did not move those failures onto 203.0.113.12.
        assert attempt(self.via_proxy("203.0.113.12"), "ivy", "secret-pass").status_code == 302

    @override_settings(TRUSTED_PROXIES=["127.0.0.1", "10.0.0.0/8"])
    def test_behind_two_proxies_the_client_is_the_one_the_outer_proxy_saw(self):
        UserFactory(username="lena")
        for index in range(PER_ADDRESS):
            # A load balancer (10.0.0.5) in front of the local proxy; the client claims an address.
            header = f"10.2.0.{index}, 203.0.113.13, 10.0.0.5"
            attempt(Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=header), f"l{index}", "x")
        assert attempt(self.via_proxy("203.0.113.13"), "lena", "secret-pass").status_code == 429
        # Not counted against the load balancer: everyone else still gets in.
        assert attempt(self.via_proxy("203.0.113.14"), "lena", "secret-pass").status_code == 302

    def test_a_flood_through_the_proxy_locks_out_only_its_username(self):
        UserFactory(username="mona")
        UserFactory(username="ned")
        flooder = self.via_proxy("203.0.113.15")
        assert fail(flooder, "mona", PER_USERNAME + 5)[-1] == 429
        # Everyone comes through the same proxy; ned, on another address, and ned on the flooder's.
        assert attempt(self.via_proxy("203.0.113.16"), "ned", "secret-pass").status_code == 302
        assert attempt(self.via_proxy("203.0.113.15"), "ned", "secret-pass").status_code == 302

    def test_forged_addresses_do_not_spread_one_usernames_failures(self):
        UserFactory(username="olga")
        for index in range(PER_USERNAME):
            forged = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.3.0.{index}, 203.0.113.17")
            attempt(forged, "olga", "wrong")
        assert_locked_out(attempt(self.via_proxy("203.0.113.17"), "olga", "secret-pass"))

    def test_garbage_in_the_header_keeps_the_proxy_address(self):
        UserFactory(username="jack")
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="not-an-address")
        assert attempt(client, "jack", "secret-pass").status_code == 302


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("192.0.2.1", "203.0.113.1", "192.0.2.1"),  # not from a proxy: the header is ignored
        ("127.0.0.1", "", "127.0.0.1"),  # from a proxy that sent no header
        ("127.0.0.1", "203.0.113.1", "203.0.113.1"),
        ("127.0.0.1", "1.1.1.1, 2.2.2.2, 203.0.113.1", "203.0.113.1"),  # claims to the left ignored
        ("127.0.0.1", "203.0.113.1, 10.0.0.7, 127.0.0.1", "203.0.113.1"),  # proxies skipped
        ("127.0.0.1", "10.0.0.7, 10.0.0.8", "10.0.0.7"),  # nothing but proxies: the first of them
        ("127.0.0.1", "203.0.113.1, nonsense", "127.0.0.1"),  # a proxy that did not append
        ("127.0.0.1", "nonsense, 10.0.0.7", "10.0.0.7"),
        ("127.0.0.1", " 2001:db8::1 ,10.0.0.7", "2001:db8::1"),
        ("::1", "::ffff:203.0.113.1", "203.0.113.1"),
        ("::ffff:127.0.0.1", "203.0.113.1", "203.0.113.1"),
    ],
)
def test_the_client_is_the_rightmost_address_that_is_not_a_proxy(peer, header, expected):
    proxies = [ip_network("127.0.0.1"), ip_network("::1"), ip_network("10.0.0.0/8")]
    assert client_address(peer, header, proxies) == expected
