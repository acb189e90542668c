"""How people look on pages: {{ user|display_name }}, {{ user|avatar }} (initials on their colour)."""

from django import template
from django.conf import settings
from django.utils.html import format_html

from accounts import people

register = template.Library()


@register.filter
def display_name(user) -> str:
    return people.display_name(user)


@register.filter
def avatar(user) -> str:
    """A round badge of the user's initials on their colour; decorative (the name is beside it)."""
    if user is None:
        return ""
    badge = people.avatar(user)
    return format_html('<span class="avatar {}" aria-hidden="true">{}</span>', badge.css_class, badge.initials)


@register.filter
def avatar_class(colour: str) -> str:
    """The stylesheet class of a palette colour ("#1d4ed8" -> "avatar-1d4ed8")."""
    return people.Avatar(initials="", colour=colour).css_class


@register.simple_tag
def signup_mode() -> str:
    """settings.SIGNUP_MODE, for the log-in page's link: "open", "invitation" or "closed"."""
    return settings.SIGNUP_MODE
