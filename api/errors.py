"""The API's refusals, one JSON shape for all: {"detail": "...", "errors": {field: [messages]}}.

The services' refusals map as the pages map them (boards.services.base): ValidationError 400
(the pages answer 422; an API client expects 400 with field errors), Conflict 409, a card or
comment that is gone 404, ReadOnly 403; another workspace's objects 404, never 403."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from boards import services
from boards.models import Comment, Label, Task

# The services name the model's fields; the API names them as its clients send them.
RENAMED = {"task_status": "column_id", "assignee": "assignee_id", "label_ids": "labels", "__all__": "non_field_errors"}


def field_errors(error: DjangoValidationError) -> dict:
    """A Django ValidationError as {field: [messages]}; messages of no field under "non_field_errors"."""
    if hasattr(error, "error_dict"):
        return {
            RENAMED.get(field, field): [m for e in errors for m in e.messages]
            for field, errors in error.error_dict.items()
        }
    return {"non_field_errors": error.messages}


def refusal(detail: str, code: int, **extra) -> Response:
    return Response({"detail": detail, **extra}, status=code)


def _validation(errors: dict) -> Response:
    messages = [str(m) for value in errors.values() for m in (value if isinstance(value, list) else [value])]
    return refusal(" ".join(messages) or "Invalid input.", status.HTTP_400_BAD_REQUEST, errors=errors)


def handle(exc, context):
    """DRF's EXCEPTION_HANDLER: the services' refusals first, then DRF's own."""
    if isinstance(exc, RequestDataTooBig):
        return refusal("The request body is too large.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DjangoValidationError):
        return _validation(field_errors(exc))
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return _validation(_plain(detail))
    if isinstance(exc, services.Conflict):
        return refusal(str(exc), status.HTTP_409_CONFLICT)
    if isinstance(exc, Task.DoesNotExist | Comment.DoesNotExist | Label.DoesNotExist):
        return refusal(str(exc) or "Not found.", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, Http404):
        return refusal("Not found.", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied) and exc.args:
        return refusal(str(exc.args[0]), status.HTTP_403_FORBIDDEN)
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    return response


def _plain(detail) -> dict | list | str:
    """DRF's ErrorDetail tree as plain JSON values (nested serializers give nested dicts)."""
    if isinstance(detail, dict):
        return {key: _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_plain(value) for value in detail]
    return str(detail)
