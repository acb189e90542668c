"""Helpers for the account pages: a browser without JavaScript (a CSRF-checking client that posts
the forms it was served) and a few people."""

import re

import pytest
from django.test import Client

from tests.factories import UserFactory

PASSWORD = "secret-pass"  # tests.factories.UserFactory's
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class PlainBrowser:
    """What a browser without JavaScript does: GET a page, POST its form with the token it holds."""

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def submit(self, page_url, data, *, action=None, follow=False):
        """Open page_url and post data to action (default: the page itself) with the page's token."""
        page = self.client.get(page_url)
        assert page.status_code in (200, 405), (page_url, page.status_code)
        found = TOKEN.search(page.content.decode())
        assert found, f"{page_url} serves no form with a CSRF token"
        return self.client.post(action or page_url, {**data, "csrfmiddlewaretoken": found.group(1)}, follow=follow)

    def post(self, url, data):
        """A POST a page has no form for (someone crafting it): with a valid token from the cookie."""
        self.client.get("/login/")  # sets the CSRF cookie
        token = self.client.cookies["csrftoken"].value
        return self.client.post(url, {**data, "csrfmiddlewaretoken": token})

    def log_in(self, username, password=PASSWORD):
        response = self.submit("/login/", {"username": username, "password": password})
        assert response.status_code == 302, response.content.decode()[:500]
        return response


@pytest.fixture
def browser():
    return PlainBrowser()


@pytest.fixture
def person(db):
    return UserFactory(username="ana", email="Ana@Example.com", first_name="Ana", last_name="Lima")


def errors_of(response) -> str:
    """The page's error lines, for assertions that say what the user reads."""
    return " ".join(re.findall(r'class="error"[^>]*>([^<]*)<', response.content.decode()))
