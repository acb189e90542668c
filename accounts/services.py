"""Writes to people's own accounts: create one, edit its profile, the development staff account.

Services receive clean data (accounts.forms validates it) and refuse what only the database can
see, a username taken a moment ago, with ValidationError naming the field, as boards.services do.
"""

import zoneinfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Profile

User = get_user_model()

USERNAME_TAKEN = {"username": "A user with that username already exists."}


def create_account(*, username: str, email: str, password: str, display_name: str = "") -> User:
    """A new active user with a usable password and a Profile, in one transaction.

    For the open sign-up page and the invitation page alike: bind accounts.forms.SignUpForm, then
    create_account(**form.account_data()). A username taken between the form's check and the
    insert is refused with ValidationError (the form's error), never an IntegrityError."""
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: the refusal leaves the caller's transaction usable
                user = User.objects.create_user(username=username, email=email, password=password)
        except IntegrityError:
            if User.objects.filter(username=username).exists():
                raise ValidationError(USERNAME_TAKEN) from None
            raise
        Profile.objects.create(user=user, display_name=display_name)
    return user


def update_profile(*, user, display_name: str, email: str, avatar_colour: str, time_zone: str = "") -> Profile:
    """Save what others see of this user, their e-mail address and time zone; one transaction."""
    if time_zone and time_zone not in zoneinfo.available_timezones():
        raise ValidationError({"time_zone": "Pick a time zone from the list, such as Europe/Paris."})
    with transaction.atomic():
        user.email = email
        user.save(update_fields=["email"])
        profile, _ = Profile.objects.update_or_create(
            user=user,
            defaults={"display_name": display_name, "avatar_colour": avatar_colour, "time_zone": time_zone},
        )
    user.profile = profile  # what the rest of this request shows
    return profile


def ensure_staff_account(*, username: str, password: str) -> tuple[User, bool]:
    """A superuser for the development instance, created once: (user, created). An existing
    account of that name is left as it is (its password may have been changed since)."""
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None:
            return user, False
        user = User.objects.create_superuser(username=username, email="", password=password)
        Profile.objects.create(user=user, display_name="Administrator")
    return user, True
