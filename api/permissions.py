"""What a caller may do before any object is read: be someone; with a read token, only read.
What they may do to a workspace's objects is the pages' rule (boards.queries), checked in the views."""

from rest_framework import permissions

from api.models import ApiToken

READ_ONLY_TOKEN = "This token is read-only: create a token with the write scope to make changes."


class TokenScope(permissions.IsAuthenticated):
    message = READ_ONLY_TOKEN

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        token = request.auth
        if isinstance(token, ApiToken) and request.method not in permissions.SAFE_METHODS:
            return token.can_write
        return True
