"""Filters of the card detail's checklist and attachments."""

import itertools
import re

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from boards.text import RENDERER_VERSION

register = template.Library()

# A task list checkbox as boards.text stores it (nh3's output): the only <input>s a rendered description has.
STORED_CHECKBOX = re.compile(r'<input type="checkbox" aria-label="Done"( checked="")? disabled="">')


@register.filter
def editable_checklist(task, url: str) -> SafeString:
    """The card's description with its checklist boxes enabled: each one posts its index (htmx
    on change; without JavaScript the form's button sends them all). Descriptions rendered by an
    older renderer stay as they are, until `manage.py render_descriptions` has run."""
    html = task.description_html
    if task.description_renderer != RENDERER_VERSION:
        return mark_safe(html)  # noqa: S308 -- stored, cleaned HTML (boards.text)
    counter = itertools.count()

    def enable(match: re.Match) -> str:
        index = next(counter)
        return format_html(
            '<input type="checkbox" name="checked" value="{}" aria-label="Done"{} data-checklist-item="{}" '
            'hx-post="{}" hx-vals=\'{{"item": "{}"}}\'>',
            index,
            mark_safe(" checked") if match.group(1) else "",
            index,
            url,
            index,
        )

    return mark_safe(STORED_CHECKBOX.sub(enable, html))  # noqa: S308 -- only our own inputs change


@register.filter
def file_size(size: int) -> str:
    return filesizeformat(size)
