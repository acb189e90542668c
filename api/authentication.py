"""Who calls the API: a personal access token (`Authorization: Bearer tt_…`) or the browser's
session, with CSRF enforced on writes (DRF's SessionAuthentication)."""

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from api import services, tokens
from api.models import ApiToken

INVALID = "This token is not valid: it is unknown, revoked or expired."


class TokenAuthentication(authentication.BaseAuthentication):
    """A token acts as its user; request.auth is the ApiToken. One query (the token with its user),
    and an UPDATE at most once a minute for last_used_at."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None  # no token: the session may authenticate
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer tt_…”.")
        try:
            parsed = tokens.parse(header[1].decode("ascii"))
        except UnicodeDecodeError:
            parsed = None
        if parsed is None:
            raise exceptions.AuthenticationFailed(INVALID)
        prefix, secret = parsed
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
        now = timezone.now()
        # The hash is compared even for an unknown prefix, so both take the same time.
        stored = token.secret_hash if token is not None else "0" * 64
        if not tokens.matches(secret, stored) or token is None or not token.usable_at(now):
            raise exceptions.AuthenticationFailed(INVALID)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID)
        services.mark_used(token, now)
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "token"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "tt_<prefix>_<secret>"}
