"""Live boards: data events published on commit, the fragments they render, the board socket."""

from boards.live.events import (
    CLIENT_HEADER,
    clean_client_id,
    current_seq,
    flush,
    group_name,
    origin_client,
    publish,
    publish_lock,
    publish_on_commit,
)
from boards.live.fragments import meta, render_change

__all__ = [
    "CLIENT_HEADER",
    "clean_client_id",
    "current_seq",
    "flush",
    "group_name",
    "meta",
    "origin_client",
    "publish",
    "publish_lock",
    "publish_on_commit",
    "render_change",
]
