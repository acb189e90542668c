"""Log-out by POST only; every page's log-out control is a form with its CSRF token."""

import pytest

from tests.accounts.conftest import PlainBrowser

pytestmark = pytest.mark.django_db


def test_get_answers_405_with_a_log_out_button_and_logs_nobody_out(browser, person):
    browser.log_in("ana")
    response = browser.get("/logout/")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"
    assert 'action="/logout/"' in response.content.decode()
    assert browser.get("/").wsgi_request.user == person


def test_get_when_logged_out_is_405_too(client):
    response = client.get("/logout/")
    assert response.status_code == 405


def test_post_from_the_page_logs_out(browser, person):
    browser.log_in("ana")
    response = browser.submit("/", {}, action="/logout/")
    assert response.status_code == 302 and response.url == "/login/"
    assert not browser.get("/login/").wsgi_request.user.is_authenticated


def test_post_without_a_token_is_refused(person):
    browser = PlainBrowser()
    browser.log_in("ana")
    assert browser.client.post("/logout/").status_code == 403
    assert browser.get("/").wsgi_request.user == person


@pytest.mark.parametrize("page", ["/", "/account/", "/account/password/"])
def test_every_page_carries_the_log_out_form(browser, person, page):
    browser.log_in("ana")
    html = browser.get(page).content.decode()
    form = html[html.index('<form method="post" action="/logout/"') :]
    form = form[: form.index("</form>")]
    assert 'name="csrfmiddlewaretoken"' in form and '<button type="submit"' in form


def test_the_board_and_members_pages_carry_it_too(browser, owner, project, application):
    browser.log_in(owner.username)
    for page in (f"/projects/{project.pk}/", f"/workspaces/{application.pk}/members/"):
        html = browser.get(page).content.decode()
        form = html[html.index('<form method="post" action="/logout/"') :]
        assert 'name="csrfmiddlewaretoken"' in form[: form.index("</form>")], page
