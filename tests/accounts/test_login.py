"""Log-in by username or by e-mail address (accounts.backends.UsernameOrEmailBackend)."""

import pytest
from django.conf import settings
from django.contrib import auth
from django.test import RequestFactory

from accounts.backends import UsernameOrEmailBackend
from accounts.models import Profile
from tests.accounts.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def authenticate(**credentials):
    """As the log-in page calls it: with a request, which axes' backend (the first) requires."""
    return auth.authenticate(RequestFactory().post("/login/"), **credentials)


def logged_in_as(browser, identifier, password=PASSWORD):
    response = browser.submit("/login/", {"username": identifier, "password": password})
    if response.status_code != 302:
        return None
    return browser.get("/").wsgi_request.user


def test_the_backend_is_configured():
    assert "accounts.backends.UsernameOrEmailBackend" in settings.AUTHENTICATION_BACKENDS


def test_by_username(browser, person):
    assert logged_in_as(browser, "ana") == person


@pytest.mark.parametrize("address", ["Ana@Example.com", "ana@example.com", "  ANA@EXAMPLE.COM "])
def test_by_email_in_any_case(browser, person, address):
    assert logged_in_as(browser, address) == person


def test_a_wrong_password_by_either_is_refused(browser, person):
    assert logged_in_as(browser, "ana", "wrong-pass") is None
    assert logged_in_as(browser, "ana@example.com", "wrong-pass") is None
    assert logged_in_as(browser, "nobody@example.com") is None


def test_a_shared_email_logs_in_neither_but_usernames_work(browser, person):
    twin = UserFactory(username="ana2", email="ANA@example.com")
    assert authenticate(username="ana@example.com", password=PASSWORD) is None
    assert logged_in_as(browser, "ana@example.com") is None
    assert logged_in_as(browser, "ana2") == twin
    browser.client.logout()
    assert logged_in_as(browser, "ana") == person


def test_a_username_wins_over_another_accounts_email(person):
    """Usernames may hold an @: the name that is exactly a username is that user."""
    at_name = UserFactory(username="ana@example.com", email="")
    assert authenticate(username="ana@example.com", password=PASSWORD) == at_name


def test_an_inactive_account_is_refused_by_either(person):
    person.is_active = False
    person.save(update_fields=["is_active"])
    assert authenticate(username="ana", password=PASSWORD) is None
    assert authenticate(username="ana@example.com", password=PASSWORD) is None


def test_an_account_without_email_does_not_match_an_empty_address(db):
    UserFactory(username="noaddress", email="")
    assert authenticate(username="", password=PASSWORD) is None
    assert authenticate(username="@", password=PASSWORD) is None


def test_the_log_in_page_says_username_or_email(client):
    page = client.get("/login/").content.decode()
    assert "Username or e-mail" in page
    assert 'href="/account/password/reset/"' in page


def test_the_request_user_comes_with_the_profile_in_one_query(person, django_assert_num_queries):
    Profile.objects.create(user=person, display_name="Ana L.")
    with django_assert_num_queries(1):
        user = UsernameOrEmailBackend().get_user(person.pk)
        assert user.profile.display_name == "Ana L."
