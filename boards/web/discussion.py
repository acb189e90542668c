"""What the card detail shows of its discussion: the comments, and mentions linked to members.

Mentions are linked when a card is shown, not when its text is saved: the stored HTML stays the
same for everyone, and someone who leaves the workspace stops being linked at once.
"""

from django.urls import reverse

from accounts import people
from boards import mentions, queries
from boards.models import Project, Task
from boards.queries import is_owner


def mention_links(project: Project, members) -> dict[str, tuple[str, str]]:
    """{lowercased username: (their row on the members page, their display name)}."""
    page = reverse("members", args=[project.application_id])
    return {
        member.get_username().lower(): (f"{page}#member-{member.pk}", people.display_name(member)) for member in members
    }


def discussion(project: Project, task: Task, members) -> dict:
    """The comments region's context: the card's latest comments (each with `html`, mentions
    linked), how many older ones are not shown, and whether the user may delete anyone's.
    Links mentions in `task.description_html` too (the loaded card only; nothing is saved)."""
    links = mention_links(project, members)
    comments = queries.card_comments(task) if task.comment_count else []  # no query for a quiet card
    for comment in comments:
        comment.html = mentions.link_mentions(comment.body_html, links)
    task.description_html = mentions.link_mentions(task.description_html, links)
    return {
        "comments": comments,
        "comments_hidden": max(0, task.comment_count - len(comments)),
        "is_owner": is_owner(project),
    }
