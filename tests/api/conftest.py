import pytest
from django.test import Client

from api import services
from api.models import ApiToken


class ApiClient:
    """The test client speaking JSON with a token, as a script would."""

    def __init__(self, token: str | None = None):
        self.client = Client(enforce_csrf_checks=True)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _send(self, method: str, url: str, data=None, raw: str | None = None, **headers):
        body = raw if raw is not None else (None if data is None else data)
        kwargs = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(self.client, method)(url, **kwargs)

    def get(self, url, **params):
        return self.client.get(url, params, headers=self.headers)

    def post(self, url, data=None, **kwargs):
        return self._send("post", url, data, **kwargs)

    def patch(self, url, data=None, **kwargs):
        return self._send("patch", url, data, **kwargs)

    def delete(self, url, data=None, **kwargs):
        return self._send("delete", url, data, **kwargs)


def make_token(user, scope=ApiToken.Scope.WRITE, **kwargs) -> str:
    _, text = services.create_token(user=user, name=kwargs.pop("name", "test"), scope=scope, **kwargs)
    return text


@pytest.fixture
def write_api(owner):
    return ApiClient(make_token(owner))


@pytest.fixture
def read_api(owner):
    return ApiClient(make_token(owner, ApiToken.Scope.READ))
