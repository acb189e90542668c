"""Forms for people's own accounts."""

import functools
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import AVATAR_COLOURS, Profile

User = get_user_model()

EMAIL_TAKEN = "An account with this e-mail address exists already. Log in instead."


class SignUpForm(UserCreationForm):
    """A new account: username, e-mail (unique, case-insensitive), password twice.

    Used by the open sign-up page and by the invitation page (an invitation-only instance)."""

    email = forms.EmailField(max_length=254, label="E-mail address", help_text="For password resets and invitations.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(EMAIL_TAKEN)
        return email

    def account_data(self) -> dict:
        """What accounts.services.create_account takes, from a valid form."""
        return {
            "username": self.cleaned_data["username"],
            "email": self.cleaned_data["email"],
            "password": self.cleaned_data["password1"],
        }


@functools.cache
def _time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA time zone name this system knows (zoneinfo), by name; empty: the server's."""
    return [("", f"Automatic ({settings.TIME_ZONE})"), *((name, name.replace("_", " ")) for name in _time_zone_names())]


class ProfileForm(forms.Form):
    """What others see of you (display name, avatar colour) and your e-mail address."""

    display_name = forms.CharField(
        max_length=Profile._meta.get_field("display_name").max_length,
        required=False,
        help_text="Shown on cards and boards. Empty: your username.",
    )
    email = forms.EmailField(
        max_length=User._meta.get_field("email").max_length,
        required=False,
        label="E-mail address",
        help_text="For password resets and invitations. No two accounts share one.",
    )
    avatar_colour = forms.ChoiceField(
        choices=[("", "Automatic"), *AVATAR_COLOURS],
        required=False,
        widget=forms.RadioSelect,
        label="Avatar colour",
    )

    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        required=False,
        label="Time zone",
        help_text="Due times are entered and shown in it. Automatic: the server's.",
        error_messages={"invalid_choice": "Pick a time zone from the list, such as Europe/Paris."},
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_display_name(self):
        # One line of text: runs of spaces, tabs and newlines become one space.
        return " ".join(self.cleaned_data["display_name"].split())

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if email and User.objects.filter(email__iexact=email).exclude(pk=self.user.pk).exists():
            raise forms.ValidationError("Another account uses this e-mail address.")
        return email
