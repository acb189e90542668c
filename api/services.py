"""Writes to API tokens: create (the secret returned once), revoke."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api import tokens
from api.models import ApiToken

NAME_MAX = ApiToken._meta.get_field("name").max_length
TOKENS_PER_USER_MAX = 50


def create_token(*, user, name: str, scope: str, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new token of `user`; returns it and its full text, which is never stored nor shown again."""
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise ValidationError({"name": f"Name the token (1 to {NAME_MAX} characters), such as “CI”."})
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": "Pick a scope: read or write."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry date must be in the future."})
    with transaction.atomic():
        # The user's row locked: two requests at once cannot both slip under the limit.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        live = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
        if live >= TOKENS_PER_USER_MAX:
            raise ValidationError(f"You have {live} tokens: revoke one you no longer use first.")
        text, prefix, secret_hash = tokens.new_token()
        token = ApiToken.objects.create(
            user=user, name=name, prefix=prefix, secret_hash=secret_hash, scope=scope, expires_at=expires_at
        )
    return token, text


def revoke_token(*, user, token_id: int) -> ApiToken:
    """Revoke one of the user's tokens (another user's is not found: ApiToken.DoesNotExist)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id, user=user)
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    return token


def mark_used(token: ApiToken, now) -> None:
    """Record that the token was used, at most once a minute (one UPDATE, only when due)."""
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
