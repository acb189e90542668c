"""How a person is shown to others: a display name and an avatar (initials on a palette colour).

Read from the user's Profile when it was loaded with the user (select_related("profile"), as the
board's reads and the log-in backend's get_user do); a user without a Profile row gets the
defaults: their full name or username, and a colour picked from their id.
"""

from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist

from accounts.models import AVATAR_COLOURS, Profile


@dataclass(frozen=True)
class Avatar:
    initials: str
    colour: str  # "#1d4ed8", one of AVATAR_COLOURS

    @property
    def css_class(self) -> str:
        """The stylesheet's class for this colour (static/css/app.css: .avatar-1d4ed8): the page's
        Content-Security-Policy allows no inline style."""
        return f"avatar-{self.colour.lstrip('#')}"


def profile_of(user) -> Profile | None:
    """The user's Profile, or None when they have none yet."""
    try:
        return user.profile
    except ObjectDoesNotExist:
        return None


def display_name(user) -> str:
    """The name others see: the profile's display name, else the full name, else the username."""
    if user is None:
        return ""
    profile = profile_of(user)
    if profile is not None and profile.display_name:
        return profile.display_name
    return user.get_full_name() or user.get_username()


def initials(name: str) -> str:
    """Up to two letters: the first of the first two words, or the first two of a single word."""
    words = name.split()
    if len(words) > 1:
        return (words[0][0] + words[1][0]).upper()
    return name[:2].upper()


def default_colour(user_id: int) -> str:
    """The colour of someone who chose none: fixed by their id, so it never changes between pages."""
    return AVATAR_COLOURS[user_id % len(AVATAR_COLOURS)][0]


def avatar(user) -> Avatar:
    profile = profile_of(user)
    colour = (profile.avatar_colour if profile is not None else "") or default_colour(user.pk)
    return Avatar(initials=initials(display_name(user)), colour=colour)
