"""Every account page works in a browser without JavaScript: each serves a form with its CSRF
token, and a plain POST of it does the job (tests.accounts.conftest.PlainBrowser enforces CSRF)."""

import re

import pytest
from django.core import mail

from accounts.models import Profile
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_whole_round_without_javascript(settings, browser):
    settings.SIGNUP_MODE = "open"
    new = "lantern-orchard-77"
    response = browser.submit(
        "/signup/", {"username": "eve", "email": "eve@example.com", "password1": new, "password2": new}
    )
    assert response.status_code == 302

    response = browser.submit(
        "/account/", {"display_name": "Eve", "email": "eve@example.com", "avatar_colour": "#be185d"}
    )
    assert response.status_code == 302
    assert Profile.objects.get(user__username="eve").avatar_colour == "#be185d"

    newer = "harbour-violet-88"
    form = {"old_password": new, "new_password1": newer, "new_password2": newer}
    assert browser.submit("/account/password/", form).status_code == 302

    assert browser.submit("/", {}, action="/logout/").status_code == 302
    browser.log_in("eve@example.com", newer)
    assert browser.submit("/", {}, action="/logout/").status_code == 302

    assert browser.submit("/account/password/reset/", {"email": "eve@example.com"}).status_code == 302
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    set_url = browser.get(link, follow=True).redirect_chain[-1][0]
    last = "meadow-copper-99"
    assert browser.submit(set_url, {"new_password1": last, "new_password2": last}).status_code == 302
    browser.log_in("eve", last)


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/account/", {"display_name": "Mallory"}),
        (
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": "x-Y-z-123456", "new_password2": "x-Y-z-123456"},
        ),
        ("/logout/", {}),
    ],
)
def test_a_post_without_the_token_is_refused(browser, person, url, data):
    browser.log_in("ana")
    assert browser.client.post(url, data).status_code == 403
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
    assert not Profile.objects.filter(user=person).exists()


def test_sign_up_without_the_token_is_refused(settings, browser):
    settings.SIGNUP_MODE = "open"
    data = {"username": "eve", "email": "eve@example.com", "password1": "lantern-77-x", "password2": "lantern-77-x"}
    assert browser.client.post("/signup/", data).status_code == 403


HOSTILE = ["", " ", "x" * 10_000, "ä@ö.ü", "a@b@c", "\u202e", "<svg onload=alert(1)>", "' OR 1=1 --", "%00", "../../"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_input_never_500s(settings, browser, person, value):
    settings.SIGNUP_MODE = "open"
    fields = ["username", "email", "password1", "password2", "next"]
    assert browser.post("/signup/", dict.fromkeys(fields, value)).status_code in (302, 422)
    assert browser.post("/account/password/reset/", {"email": value}).status_code in (200, 302)
    assert browser.post("/login/", {"username": value, "password": value}).status_code == 200
    browser.log_in("ana")
    profile = {"display_name": value, "email": value, "avatar_colour": value}
    assert browser.post("/account/", profile).status_code in (302, 422)
    password = {"old_password": value, "new_password1": value, "new_password2": value}
    assert browser.post("/account/password/", password).status_code == 200
    assert browser.get(f"/account/password/reset/{value[:50] or 'x'}/{value[:50] or 'y'}/").status_code in (200, 404)
    person.refresh_from_db()
    assert person.check_password(PASSWORD)
