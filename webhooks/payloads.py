"""What a webhook receives: one JSON document per event, and the headers that go with it."""

import json
from collections.abc import Sequence

from django.utils import timezone

from boards.models import Project, Task, TaskEvent
from webhooks.sending import USER_AGENT, sign


def _person(user) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name() or user.get_username()}


def _project(project: Project) -> dict:
    return {"id": project.pk, "key": project.key, "name": project.name}


def _card(project: Project, event: TaskEvent, task: Task | None) -> dict | None:
    if task is None:
        # Deleted (its event keeps the id in data), or gone since: what the event kept.
        task_id = event.task_id or (event.data or {}).get("task_id")
        if task_id is None:
            return None  # an event about a column, not a card
        return {"id": task_id, "key": None, "title": event.task_title, "exists": False}
    return {
        "id": task.pk,
        "key": f"{project.key}-{task.number}",
        "title": task.title,
        "column": {"id": task.task_status_id, "name": task.task_status.name, "category": task.task_status.category},
        "assignee": _person(task.assignee),
        "priority": task.priority,
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "archived": task.archived_at is not None,
        "exists": True,
    }


def event_payloads(project: Project, events: Sequence[TaskEvent], tasks: dict[int, Task]) -> dict[int, dict]:
    """Each event's payload by its seq (the card as it is now; `data` is what the event recorded)."""
    return {
        event.seq: {
            "id": event.pk,
            "seq": event.seq,
            "kind": event.kind,
            "project": _project(project),
            "card": _card(project, event, tasks.get(event.task_id)),
            "actor": _person(event.actor),
            "data": event.data,
            "timestamp": event.at.isoformat(),
        }
        for event in events
    }


def ping_payload(project: Project, actor) -> dict:
    return {
        "id": None,
        "seq": None,
        "kind": "ping",
        "project": _project(project),
        "card": None,
        "actor": _person(actor),
        "data": {"message": "A test delivery from Tasktrack."},
        "timestamp": timezone.now().isoformat(),
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def headers(*, secret: str, kind: str, delivery_id: int, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Tasktrack-Event": kind,
        "X-Tasktrack-Delivery": str(delivery_id),
        "X-Tasktrack-Signature": sign(secret, timestamp, body),
    }
