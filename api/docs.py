"""The OpenAPI 3 schema (drf-spectacular, generated from the views and serializers) and a docs
page rendered from it on the server: no script, no style from anywhere but the site, so it works
offline and under the site's Content-Security-Policy (Swagger UI and Redoc load theirs from a CDN)."""

import functools
import json

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

METHODS = ("get", "post", "put", "patch", "delete")


@functools.cache
def schema() -> dict:
    """The schema, generated once per process (it depends on the code only)."""
    return SchemaGenerator().get_schema(request=None, public=True)


class Schema(SpectacularAPIView):
    """GET /api/v1/schema/ (YAML; ?format=json for JSON). Public: it describes the code, no data."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.login_required = False
        return view


def _operations(spec: dict) -> list[dict]:
    operations = []
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {}).get("schema")
                responses.append({"code": code, "schema": _schema_name(content)})
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "tag": (operation.get("tags") or ["other"])[0],
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "type": p.get("schema", {}).get("type", ""),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _schema_name(body),
                    "responses": responses,
                    "id": operation.get("operationId", f"{method}-{path}"),
                }
            )
    return operations


def _schema_name(schema_: dict | None) -> str:
    if not schema_:
        return ""
    if "$ref" in schema_:
        return schema_["$ref"].rsplit("/", 1)[-1]
    if schema_.get("type") == "array" and "$ref" in schema_.get("items", {}):
        return f"list of {schema_['items']['$ref'].rsplit('/', 1)[-1]}"
    return schema_.get("type", "")


def _components(spec: dict) -> list[dict]:
    shapes = []
    for name, component in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(component.get("required", []))
        fields = []
        for field, definition in component.get("properties", {}).items():
            kind = _schema_name(definition) or (
                "one of " + ", ".join(map(str, definition["enum"])) if "enum" in definition else ""
            )
            if not kind and "allOf" in definition:
                kind = _schema_name(definition["allOf"][0])
            fields.append(
                {
                    "name": field,
                    "type": kind or json.dumps(definition)[:60],
                    "format": definition.get("format", ""),
                    "nullable": definition.get("nullable", False),
                    "required": field in required,
                    "read_only": definition.get("readOnly", False),
                    "description": definition.get("description", ""),
                }
            )
        shapes.append({"name": name, "description": component.get("description", ""), "fields": fields})
    return shapes


@require_GET
@login_not_required
def docs(request):
    """GET /api/v1/docs/: every endpoint and every shape, from the schema."""
    spec = schema()
    context = {
        "info": spec.get("info", {}),
        "operations": _operations(spec),
        "components": _components(spec),
    }
    return render(request, "api/docs.html", context)
