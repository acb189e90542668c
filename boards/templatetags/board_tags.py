import functools
from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from boards.text import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> str:
    """Markdown through the allow-list sanitizer (boards.text)."""
    return mark_safe(render_markdown(text))  # noqa: S308 - nh3 has cleaned it


@register.filter
def age(moment: datetime | None) -> str:
    """A card's age in one short unit: 'now', '5m', '3h', '2d', '6w'."""
    if moment is None:
        return ""
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


@register.filter
def display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@functools.lru_cache(maxsize=4096)
def _cards_prefix(project_id: int) -> str:
    return reverse("board", args=[project_id]) + "cards/"


@register.filter
def card_url(task, action: str = "") -> str:
    """A card's page ("") or action URL ("move", "archive" …): one reverse() per board, not per card."""
    return f"{_cards_prefix(task.project_id)}{task.pk}/{action + '/' if action else ''}"


@register.filter
def move_options(columns) -> str:
    """The "Move to" options, the same for every card; built in Python, it is rendered 250 times a page."""
    return format_html_join("", '<option value="{}">{}</option>', ((column.pk, column.name) for column in columns))
