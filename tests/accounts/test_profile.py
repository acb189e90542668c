"""The profile page: display name, e-mail address, avatar colour."""

import re

import pytest

from accounts import people
from accounts.models import AVATAR_COLOURS, Profile
from tests.accounts.conftest import errors_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD = {"display_name": "Ana Lima", "email": "ana.lima@example.com", "avatar_colour": "#047857"}


@pytest.fixture
def signed_in(browser, person):
    browser.log_in("ana")
    return browser


def test_shows_the_current_values(signed_in, person):
    Profile.objects.create(user=person, display_name="Ana L.", avatar_colour="#b91c1c")
    page = signed_in.get("/account/").content.decode()
    assert 'value="Ana L."' in page and 'value="Ana@Example.com"' in page
    assert re.search(r'value="#b91c1c"[^>]* checked', page)
    assert "avatar-b91c1c" in page


def test_saves_and_says_so(signed_in, person):
    response = signed_in.submit("/account/", {**GOOD, "display_name": "  Ana \n  Lima "}, follow=True)
    assert response.status_code == 200
    assert "Your profile is saved." in response.content.decode()
    person.refresh_from_db()
    assert person.email == "ana.lima@example.com"
    assert (person.profile.display_name, person.profile.avatar_colour) == ("Ana Lima", "#047857")
    # Shown in the top bar of every page from now on.
    assert "Ana Lima" in signed_in.get("/").content.decode()


def test_empty_name_and_colour_fall_back(signed_in, person):
    signed_in.submit("/account/", {"display_name": "", "email": "", "avatar_colour": ""})
    person.refresh_from_db()
    assert people.display_name(person) == "Ana Lima"  # the full name; the username without one
    assert people.avatar(person).colour == AVATAR_COLOURS[person.pk % len(AVATAR_COLOURS)][0]


@pytest.mark.parametrize(
    ("change", "field_error"),
    [
        ({"display_name": "x" * 81}, "at most 80 characters"),
        ({"avatar_colour": "#ff0000"}, "Select a valid choice"),
        ({"avatar_colour": "red; background: url(x)"}, "Select a valid choice"),
        ({"email": "not an address"}, "valid email"),
        ({"email": "taken@EXAMPLE.com"}, "Another account uses this e-mail address"),
        ({"email": "x" * 250 + "@example.com"}, "at most 254 characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_saved(signed_in, person, change, field_error):
    UserFactory(username="someone", email="taken@example.com")
    response = signed_in.submit("/account/", {**GOOD, **change})
    assert response.status_code == 422
    assert field_error in errors_of(response)
    person.refresh_from_db()
    assert person.email == "Ana@Example.com"
    assert not Profile.objects.filter(user=person).exists()


def test_keeping_your_own_address_in_another_case_is_fine(signed_in, person):
    response = signed_in.submit("/account/", {**GOOD, "email": "ANA@example.com"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.email == "ANA@example.com"


def test_user_text_is_escaped(signed_in, person):
    signed_in.submit("/account/", {**GOOD, "display_name": "<script>alert(1)</script>"})
    page = signed_in.get("/account/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_needs_a_log_in(client):
    response = client.get("/account/")
    assert response.status_code == 302 and response.url.startswith("/login/")


class TestPeople:
    def test_initials(self):
        assert people.initials("Ana Lima") == "AL"
        assert people.initials("ana") == "AN"
        assert people.initials("Ana María de la Luz") == "AM"
        assert people.initials("x") == "X"

    def test_without_a_profile_row(self, person):
        assert people.display_name(person) == "Ana Lima"
        assert people.avatar(person).initials == "AL"

    def test_every_palette_colour_has_its_css_class(self, settings):
        css = (settings.BASE_DIR / "static/css/app.css").read_text()
        for colour, _ in AVATAR_COLOURS:
            assert f".avatar-{colour[1:]} {{ background: {colour}; }}" in css
