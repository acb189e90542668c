"""The API's query parameters and the token page's form, validated with the pages' strict fields."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from api.models import ApiToken
from api.queries import PAGE_MAX
from boards.forms import StrictForm, StrictIntegerField

PAGE_SIZE_MESSAGE = f"A page holds 1 to {PAGE_MAX} items."


class PageForm(StrictForm):
    after = StrictIntegerField(required=False, min_value=0)
    limit = StrictIntegerField(
        required=False, min_value=1, max_value=PAGE_MAX, error_messages={"invalid": PAGE_SIZE_MESSAGE}
    )


class CardListForm(PageForm):
    archived = forms.ChoiceField(
        required=False,
        choices=[("", ""), ("true", "true"), ("false", "false")],
        error_messages={"invalid_choice": "archived is true or false (or left out: both)."},
    )
    column = StrictIntegerField(required=False)

    def clean_archived(self) -> bool | None:
        return {"true": True, "false": False}.get(self.cleaned_data["archived"])


class EventsForm(StrictForm):
    since = StrictIntegerField(required=False, min_value=0)
    limit = StrictIntegerField(
        required=False, min_value=1, max_value=PAGE_MAX, error_messages={"invalid": PAGE_SIZE_MESSAGE}
    )


class TokenForm(StrictForm):
    EXPIRY_CHOICES = [("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")]

    name = forms.CharField(max_length=80, error_messages={"required": "Name the token, such as “CI”."})
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        error_messages={"invalid_choice": "Pick a scope: read or write.", "required": "Pick a scope: read or write."},
    )
    expires = forms.ChoiceField(
        choices=EXPIRY_CHOICES,
        required=False,
        error_messages={"invalid_choice": "A token expires after 7, 30, 90 or 365 days, or never."},
    )

    def clean_expires(self):
        days = self.cleaned_data["expires"]
        return timezone.now() + timedelta(days=int(days)) if days else None


class RevokeForm(StrictForm):
    token = StrictIntegerField(error_messages={"required": "Say which token to revoke."})


def errors_of(form) -> ValidationError:
    """The form's errors as a ValidationError by field (400 in the API)."""
    return ValidationError({field: list(messages) for field, messages in form.errors.items()})
