import functools
from datetime import datetime, timedelta

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from accounts import people
from accounts.templatetags import accounts_tags
from boards import clock
from boards.models import Priority

register = template.Library()


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


@register.filter(name="ago")
def ago(moment: datetime | None) -> str:
    """How long ago, in words: 'just now', '5 minutes ago' (boards.clock.ago)."""
    return clock.ago(moment)


@register.filter(expects_localtime=True)
def isoformat(moment: datetime | None) -> str:
    """The text of |date:"c" (ISO 8601, in the current time zone) without the date formatter: half its cost per card."""
    return moment.isoformat() if moment else ""


@register.filter
def display_name(user) -> str:
    """The profile's display name, else the full name, else the username (accounts.people)."""
    return people.display_name(user)


@register.filter
def avatar(user) -> str:
    """The user's initials on their avatar colour (accounts.people), for card faces."""
    return accounts_tags.avatar(user)


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


# The ⋯ of a card face: a link to the card's page (its move controls, without JavaScript); with
# JavaScript it opens the board's one shared move menu (board.html#card_menu, static/js/board.js)
# at the card. It was a whole menu per card (2.8 KB of a dressed face, most of a board's HTML).
_CARD_MENU_BUTTON = (
    '<a class="card-menu-button" href="{url}" aria-haspopup="dialog" aria-label="Move or archive “{title}”">'
    '<span aria-hidden="true">⋯</span></a>'
)


def card_menu(task, refs) -> str:
    """The card's ⋯ (move to a column, up, down, archive); `refs` is the card's card_refs."""
    return mark_safe(_CARD_MENU_BUTTON.format(title=escape(task.title), url=refs["url"]))  # noqa: S308 - escaped parts


@register.simple_tag(takes_context=True)
def card_face(context, task) -> str:
    """A card on the board (the page, its column pages and the live push alike), in one tag.

    A board renders hundreds of faces; as template nodes (a dozen variables and filters each)
    they were most of the page's rendering. Every byte counts 250 times (issue 18): the title opens
    the card dialog through one listener of the board (static/js/board.js), not an htmx attribute
    per card, and the card's actions are its URL (the title's href) + "move/", "archive/"...
    Context: project, labels and columns of the board, can_edit, oob (a live fragment), focus /
    focus_id (the card the keyboard was on).
    """
    refs = card_refs(task)
    focus = context.get("focus") or context.get("focus_id") == task.pk
    assignee = task.assignee
    who = (
        format_html('<span class="assignee">{}{}</span>', avatar(assignee), people.display_name(assignee))
        if assignee is not None
        else mark_safe('<span class="assignee none">Unassigned</span>')
    )
    created = timezone.localtime(task.created_at) if task.created_at else None
    return format_html(
        '<article class="card" id="card-{id}" data-id="{id}" data-version="{version}"'
        ' aria-labelledby="card-{id}-title"{oob}>'
        '<h3 class="card-title" id="card-{id}-title"><a href="{url}"{focus}>{title}</a></h3>'
        "{badges}"
        '<p class="card-meta"><span class="card-key">{key}-{number}</span> {who} '
        '<time class="age" datetime="{created}">{age}</time></p>'
        "{menu}</article>",
        id=refs["id"],
        url=refs["url"],
        version=int(task.version),
        oob=mark_safe(' hx-swap-oob="true"') if context.get("oob") else "",
        focus=mark_safe(" data-focus") if focus else "",
        title=task.title,
        badges=card_badges(context, task),
        key=context["project"].key,
        number=task.number,
        who=who,
        created=created.isoformat(timespec="seconds") if created else "",
        age=age(task.created_at),
        menu=card_menu(task, refs) if context.get("can_edit") else "",
    )


PRIORITY_ICONS = {1: "↓", 2: "=", 3: "↑", 4: "⇈"}
DUE_SOON_DAYS = 2


@register.filter
def priority_icon(priority) -> str:
    """The card face's priority mark: ↓ low, = medium, ↑ high, ⇈ urgent (none shows nothing)."""
    return PRIORITY_ICONS.get(priority, "")


def due_state(task, today=None) -> str:
    """ "overdue", "soon" (today or within DUE_SOON_DAYS) or "later": by the instant when a time
    was given, else by the viewer's day (the active time zone)."""
    if task.due_at is not None:
        now = timezone.now()
        if task.due_at < now:
            return "overdue"
        return "soon" if task.due_at - now <= timedelta(days=DUE_SOON_DAYS) else "later"
    today = today or timezone.localdate()
    if task.due_date < today:
        return "overdue"
    return "soon" if (task.due_date - today).days <= DUE_SOON_DAYS else "later"


DUE_WORDS = {"overdue": "Overdue", "soon": "Due soon", "later": "Due"}


@register.filter
def due_badge(task, today=None) -> str:
    """The card face's due date: its state as a class and in words, the day (and time) in the
    viewer's time zone."""
    if task.due_date is None:
        return ""
    state = due_state(task, today)
    if task.due_at is not None:
        local = timezone.localtime(task.due_at)
        shown, stamp = local.strftime("%-d %b %H:%M"), local.isoformat()
    else:
        shown, stamp = task.due_date.strftime("%-d %b"), task.due_date.isoformat()
    return format_html(
        '<time class="due due-{}" datetime="{}"><span class="visually-hidden">{} </span>{}</time>',
        state,
        stamp,
        DUE_WORDS[state],
        shown,
    )


def _chip(label) -> str:
    """A label's chip, made once per label per request (kept on the Label of the board's map)."""
    chip = getattr(label, "_chip", None)
    if chip is None:
        # A class per palette colour (app.css), not a style attribute: the CSP allows no inline styles.
        chip = label._chip = format_html('<span class="label label-{}">{}</span>', label.colour.lstrip("#"), label.name)
        label._order = (label.name.lower(), label.pk)
    return chip


@register.filter
def label_chips(label_ids, labels) -> str:
    """The card face's labels, from the project's {id: Label} map (one query per board, not per card).
    An id with no label (deleted meanwhile) shows nothing."""
    if not label_ids or not labels:
        return ""
    chosen = [labels[pk] for pk in label_ids if pk in labels]
    chips = [_chip(label) for label in chosen]
    if len(chosen) > 1:
        chips = [chip for _, chip in sorted(zip((label._order for label in chosen), chips, strict=True))]
    return mark_safe("".join(chips))  # noqa: S308 - each chip was built by format_html


PRIORITY_BADGES = {
    value: format_html(
        '<span class="priority priority-{}" title="{} priority" role="img" aria-label="{} priority">{}</span>',
        value,
        name,
        name,
        PRIORITY_ICONS[value],
    )
    for value, name in Priority.choices
    if value
}


def _count(number, noun: str) -> str:
    """ "1 comment", "3 comments": a badge's spoken text."""
    number = int(number)
    return f"{number} {noun}{'' if number == 1 else 's'}"


@register.simple_tag(takes_context=True)
def card_badges(context, task) -> str:
    """The card face's badges (priority, labels, due date, checklist, comments, attachments) in
    one tag: a board renders hundreds of faces, and a template node per badge cost more than the
    rest of the face. Today's date is read once per render, not per card."""
    if not (
        task.priority
        or task.due_date
        or task.label_ids
        or task.checklist_total
        or task.comment_count
        or task.attachment_count
    ):
        return ""
    parts = []
    if task.priority:
        parts.append(PRIORITY_BADGES.get(task.priority, ""))
    if task.label_ids:
        parts.append(label_chips(task.label_ids, context.get("labels")))
    if task.due_date:
        cache = context.render_context
        if "badges_today" not in cache:
            cache["badges_today"] = timezone.localdate()
        parts.append(due_badge(task, cache["badges_today"]))
    if task.checklist_total:
        done, total = int(task.checklist_done), int(task.checklist_total)
        parts.append(
            f'<span class="face-checklist{" complete" if done == total else ""}" title="Checklist" role="img"'
            f' aria-label="{done} of {total} checklist items done">☑ {done}/{total}</span>'
        )
    if task.comment_count:
        parts.append(
            f'<span class="face-comments" title="Comments" role="img"'
            f' aria-label="{_count(task.comment_count, "comment")}">💬 {int(task.comment_count)}</span>'
        )
    if task.attachment_count:
        parts.append(
            f'<span class="face-attachments" title="Attachments" role="img"'
            f' aria-label="{_count(task.attachment_count, "attachment")}">📎 {int(task.attachment_count)}</span>'
        )
    # Integers and strings built by format_html only.
    return mark_safe('<p class="card-badges">' + "".join(parts) + "</p>")  # noqa: S308
