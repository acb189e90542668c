"""The board page's live socket: `{% live_socket project %}` (after `{% load live_tags %}`)."""

import uuid

from django import template

from boards.live import events as live

register = template.Library()


@register.inclusion_tag("boards/live/socket.html", takes_context=True)
def live_socket(context, project, board_target="#board"):
    """The element that holds the WebSocket, presence and the page's client id.

    The view should put `live_seq` in the context, read before the board's cards: read after
    them, a change committed in between would be counted as seen.
    """
    seq = context.get("live_seq")
    if seq is None:
        seq = live.current_seq(project.pk)
    return {
        "project": project,
        "user": context.get("user"),
        "client_id": uuid.uuid4().hex,
        "seq": seq,
        "board_target": board_target,
    }
