"""Password change and password reset by e-mail (Django's views, our pages)."""

import re

import pytest
from django.core import mail

from tests.accounts.conftest import PASSWORD, PlainBrowser
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW = "lantern-orchard-77"
LINK = re.compile(r"http://testserver(/account/password/reset/[^/\s]+/[^/\s]+/)")


class TestChange:
    def test_changes_it_keeps_the_session_and_the_new_one_logs_in(self, browser, person):
        browser.log_in("ana")
        form = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
        response = browser.submit("/account/password/", form, follow=True)
        assert response.redirect_chain[-1][0] == "/account/"
        assert "Your password is changed." in response.content.decode()
        assert response.wsgi_request.user == person  # still logged in
        person.refresh_from_db()
        assert person.check_password(NEW)
        assert PlainBrowser().log_in("ana", NEW)

    @pytest.mark.parametrize(
        ("form", "error"),
        [
            ({"old_password": "wrong", "new_password1": NEW, "new_password2": NEW}, "incorrectly"),
            ({"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW + "x"}, "didn’t match"),
            ({"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"}, "too short"),
        ],
    )
    def test_refuses_bad_input(self, browser, person, form, error):
        browser.log_in("ana")
        response = browser.submit("/account/password/", form)
        assert response.status_code == 200  # Django's view re-renders the form
        assert error in response.content.decode()
        person.refresh_from_db()
        assert person.check_password(PASSWORD)

    def test_needs_a_log_in(self, client):
        assert client.get("/account/password/").url.startswith("/login/")


class TestReset:
    def test_the_emailed_link_sets_a_new_password_that_logs_in(self, browser, person):
        response = browser.submit("/account/password/reset/", {"email": "ANA@example.com"})
        assert response.status_code == 302 and response.url == "/account/password/reset/sent/"
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["Ana@Example.com"] and "Reset your Tasktrack password" in message.subject
        assert "Your username: ana" in message.body
        link = LINK.search(message.body).group(1)

        # The link redirects to a token-free address (Django keeps the token in the session).
        form_page = browser.get(link, follow=True)
        set_url = form_page.redirect_chain[-1][0]
        assert "Choose a new password" in form_page.content.decode()
        response = browser.submit(set_url, {"new_password1": NEW, "new_password2": NEW})
        assert response.status_code == 302 and response.url == "/account/password/reset/done/"

        assert PlainBrowser().log_in("ana", NEW)
        refused = PlainBrowser().submit("/login/", {"username": "ana", "password": PASSWORD})
        assert refused.status_code == 200  # the old password no longer works
        # The link works once.
        assert "does not work any more" in PlainBrowser().get(link, follow=True).content.decode()

    def test_an_unknown_address_sends_nothing_and_says_the_same(self, browser, person):
        response = browser.submit("/account/password/reset/", {"email": "nobody@example.com"})
        assert response.url == "/account/password/reset/sent/"
        assert mail.outbox == []

    def test_a_forged_link_is_refused(self, browser, person):
        page = browser.get("/account/password/reset/MQ/abc-123/", follow=True)
        assert page.status_code == 200
        assert "does not work any more" in page.content.decode()

    def test_a_shared_address_mails_each_account_its_own_link(self, browser, person):
        UserFactory(username="ana2", email="ana@example.com")
        browser.submit("/account/password/reset/", {"email": "ana@example.com"})
        assert sorted(re.search(r"Your username: (\S+)", m.body).group(1) for m in mail.outbox) == ["ana", "ana2"]
