"""The OpenAPI 3 schema is generated from the code and valid; the docs page works offline under the CSP."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from api.docs import schema

pytestmark = pytest.mark.django_db


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    spec = yaml.safe_load(out.read_text())
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/projects/{project_id}/cards/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/projects/{project_id}/cards/{card_id}/"])
    assert "409" in paths["/api/v1/projects/{project_id}/cards/{card_id}/"]["patch"]["responses"]
    assert spec["components"]["securitySchemes"]["token"]["scheme"] == "bearer"


def test_the_schema_is_served_without_logging_in():
    response = Client().get(reverse("api_schema"), {"format": "json"})
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Tasktrack API"


def test_the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere():
    response = Client().get(reverse("api_docs"))
    assert response.status_code == 200
    html = response.content.decode()
    for path, item in schema()["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in html
    assert "CardOut" in html and "CardUpdateIn" in html
    # Every script and stylesheet from this site (the CSP allows nothing else), and no inline script.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert "script-src 'self'" in response["Content-Security-Policy"]
