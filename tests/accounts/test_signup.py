"""Sign-up in each of settings.SIGNUP_MODE's modes, and create_account for the invitation page."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from accounts import services
from accounts.forms import SignUpForm
from accounts.models import Profile
from boards import services as board_services
from tests.accounts.conftest import errors_of

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW = {"username": "bea", "email": "bea@example.com", "password1": "plum-kettle-42", "password2": "plum-kettle-42"}


@pytest.fixture
def open_signup(settings):
    settings.SIGNUP_MODE = "open"


class TestOpen:
    def test_creates_the_account_logs_in_and_goes_home(self, open_signup, browser):
        response = browser.submit("/signup/", NEW)
        assert response.status_code == 302 and response.url == "/"
        user = User.objects.get(username="bea")
        assert user.email == "bea@example.com" and user.check_password("plum-kettle-42")
        assert Profile.objects.filter(user=user).exists()
        home = browser.get("/")
        assert home.status_code == 200 and home.wsgi_request.user == user

    def test_follows_a_safe_next_only(self, open_signup, browser):
        response = browser.submit("/signup/?next=/account/", {**NEW, "next": "/account/"})
        assert response.url == "/account/"
        # Another site goes home; a word stays a relative path, never reversed as a URL name.
        cases = {"https://evil.example/": "/", "//evil.example/": "/", "logout": "logout"}
        for index, (target, landing) in enumerate(cases.items()):
            other = {**NEW, "username": f"cid{index}", "email": f"cid{index}@example.com", "next": target}
            browser.client.logout()
            assert browser.submit("/signup/", other).url == landing, target

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"email": "ANA@example.COM"}, "exists already"),
            ({"email": "not-an-address"}, "valid email"),
            ({"username": "ANA"}, "already exists"),
            ({"password2": "something-else-1"}, "didn’t match"),
            ({"password1": "12345678", "password2": "12345678"}, "too common"),
            ({"username": "x" * 151}, "at most 150"),
        ],
    )
    def test_bad_input_says_why_and_creates_nothing(self, open_signup, browser, person, change, error):
        before = User.objects.count()
        response = browser.submit("/signup/", {**NEW, **change})
        assert response.status_code == 422
        assert error in response.content.decode()
        assert User.objects.count() == before
        assert not response.wsgi_request.user.is_authenticated

    def test_the_log_in_page_links_to_it(self, open_signup, client):
        assert 'href="/signup/"' in client.get("/login/").content.decode()

    def test_a_logged_in_user_is_sent_home(self, open_signup, client, person):
        client.force_login(person)
        assert client.get("/signup/").url == "/"


class TestInvitationOnly:
    def test_is_the_default(self, settings):
        assert settings.SIGNUP_MODE == "invitation"

    def test_explains_the_invitation_link_and_refuses_a_post(self, browser, client):
        page = client.get("/signup/")
        assert page.status_code == 200
        assert "invitation link" in page.content.decode()
        assert 'name="password1"' not in page.content.decode()
        response = browser.post("/signup/", NEW)
        assert response.status_code == 403
        assert not User.objects.filter(username="bea").exists()

    def test_the_log_in_page_has_no_sign_up_link(self, client):
        assert "/signup/" not in client.get("/login/").content.decode()


class TestClosed:
    def test_says_closed_and_refuses_a_post(self, settings, browser, client):
        settings.SIGNUP_MODE = "closed"
        page = client.get("/signup/")
        assert "Sign-up is closed" in page.content.decode()
        assert browser.post("/signup/", NEW).status_code == 403
        assert not User.objects.filter(username="bea").exists()
        assert "/signup/" not in client.get("/login/").content.decode()


class TestCreateAccount:
    """What the invitation page calls with its own SignUpForm."""

    def test_from_a_valid_form(self):
        form = SignUpForm(NEW)
        assert form.is_valid(), form.errors
        user = services.create_account(**form.account_data())
        assert user.check_password("plum-kettle-42") and user.is_active and not user.is_staff
        assert user.profile.display_name == ""

    def test_a_username_taken_meanwhile_is_a_validation_error_not_a_500(self, person):
        with pytest.raises(ValidationError) as refused:
            services.create_account(username="ana", email="other@example.com", password="plum-kettle-42")
        assert "username" in refused.value.message_dict
        assert User.objects.filter(username="ana").count() == 1


def test_errors_are_shown_beside_their_fields(settings, browser, person):
    settings.SIGNUP_MODE = "open"
    response = browser.submit("/signup/", {**NEW, "email": "ana@example.com"})
    assert "exists already" in errors_of(response)


class TestThroughAnInvitation:
    """The invitation page (boards.web.teams) creates accounts with create_account too."""

    def test_the_invitee_gets_a_profile_and_logs_in_by_email_later(self, application, owner, browser):
        _, token = board_services.create_invitation(
            application=application,
            actor=owner,
            role="editor",
            days=7,
            multi_use=False,
            email="",
            link_for=lambda token: f"http://testserver/invitations/{token}/",
        )
        response = browser.submit(f"/invitations/{token}/", NEW, action=f"/invitations/{token}/sign-up/")
        assert response.status_code == 302
        invitee = User.objects.get(username="bea")
        assert browser.get("/").wsgi_request.user == invitee  # logged in with accounts' backend
        assert Profile.objects.filter(user=invitee).exists()
        browser.client.logout()
        assert browser.log_in("BEA@example.com", "plum-kettle-42")
