import functools
from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html_join
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


@register.filter(expects_localtime=True)
def isoformat(moment: datetime | None) -> str:
    """The text of |date:"c" (ISO 8601, in the current time zone) without the date formatter: half its cost per card."""
    return moment.isoformat() if moment else ""


@register.filter
def display_name(user) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@functools.lru_cache(maxsize=4096)
def _cards_prefix(project_id: int) -> str:
    return escape(reverse("board", args=[project_id]) + "cards/")


@register.filter
def card_url(task, action: str = "") -> str:
    """A card's page ("") or action URL ("move", "archive" …): one reverse() per board, not per card."""
    return mark_safe(f"{_cards_prefix(task.project_id)}{int(task.pk)}/{escape(action) + '/' if action else ''}")  # noqa: S308 - escaped prefix, an integer


@register.filter
def card_refs(task) -> dict[str, str]:
    """What the card partial repeats, built once per card as safe text: its id and its URL (the actions' prefix).

    Each is printed five or six times per card; safe text skips the escaping of what cannot need it.
    """
    pk = int(task.pk)
    return {"id": mark_safe(str(pk)), "url": mark_safe(f"{_cards_prefix(task.project_id)}{pk}/")}  # noqa: S308 - escaped prefix, an integer


@functools.lru_cache(maxsize=1024)
def _move_options(columns: tuple[tuple[int, str], ...]) -> str:
    return format_html_join("", '<option value="{}">{}</option>', columns)


@register.filter
def move_options(columns) -> str:
    """The "Move to" options, the same for every card of a board: built once per column set, not per card.

    Memoized on everything the options show (each column's id and name), so a renamed, added or
    reordered column is a new key, never a stale menu.
    """
    return _move_options(tuple((column.pk, column.name) for column in columns))
