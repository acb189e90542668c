"""The fan-out consumer (jobs/fanout.py): who is told what about a batch of recorded events.

- `mentioned`: the people a comment or a card's description newly mentions (boards' Mention
  rows, recorded by the write itself); each mention is told once.
- `assigned`: the new assignee of a card (an edit of its assignee, or a card created assigned).
- `commented`, `moved`: the card's watchers. A comment that mentions a watcher tells them only
  `mentioned`.

Never the person who acted, never anyone who is not a member of the card's workspace. Watches
are made here too, off the write path: the card's creator and reporter, its assignee, each
commenter. An explicit unwatch stays (an automatic watch never overrides it).

A job may run again: every row is keyed (watch by card and user, notification by recipient,
event and kind, and by mention) and inserted with ON CONFLICT DO NOTHING.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from boards.models import Membership, Mention, TaskEvent
from notifications import live, tasks
from notifications.models import Notification, Watch

Kind = Notification.Kind
EventKind = TaskEvent.Kind
DETAIL_MAX = 200


@dataclass
class _Plan:
    """What one batch will write, worked out in memory from three reads."""

    # (task_id, user_id) -> (watching, since), as stored or as made now
    watches: dict[tuple[int, int], tuple[bool, datetime]]
    new_watches: list[Watch] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def watch(self, event: TaskEvent, user_id: int | None) -> None:
        key = (event.task_id, user_id)
        if user_id is not None and key not in self.watches:
            self.watches[key] = (True, event.at)
            self.new_watches.append(Watch(task_id=event.task_id, user_id=user_id, since=event.at))

    def watchers(self, event: TaskEvent) -> list[int]:
        """Who watched the event's card when it happened."""
        return [
            user
            for (task, user), (watching, since) in self.watches.items()
            if task == event.task_id and watching and since <= event.at
        ]

    def tell(self, event: TaskEvent, user_id: int | None, kind: str, *, detail: str = "", actor_id=None, mention=None):
        actor_id = event.actor_id if actor_id is None else actor_id
        if user_id is None or user_id == actor_id:
            return
        self.notifications.append(
            Notification(
                recipient_id=user_id,
                event_id=event.pk,
                task_id=event.task_id,
                project_id=event.project_id,
                actor_id=actor_id,
                kind=kind,
                detail=detail[:DETAIL_MAX],
                mention_id=mention,
            )
        )


def _relevant(event: TaskEvent) -> bool:
    if event.task is None:  # deleted since: nothing to point at
        return False
    if event.kind == EventKind.EDITED:
        fields = event.data.get("fields", [])
        return "assignee_id" in fields or "description" in fields
    return event.kind in (EventKind.CREATED, EventKind.MOVED, EventKind.COMMENTED, EventKind.COMMENT_EDITED)


def _comment_id(event: TaskEvent) -> int | None:
    """The comment a comment's event is about; None for other events."""
    if event.kind in (EventKind.COMMENTED, EventKind.COMMENT_EDITED):
        return event.data.get("comment_id")
    return None


def _describes(event: TaskEvent) -> bool:
    """Whether the event wrote the card's description (where mentions may be)."""
    return event.kind == EventKind.CREATED or (
        event.kind == EventKind.EDITED and "description" in event.data.get("fields", [])
    )


def _mentions(events: Sequence[TaskEvent]) -> dict[tuple[int, int | None], list[Mention]]:
    """The mentions of the batch's comments and descriptions, by (task, comment or None)."""
    comment_ids = [c for c in map(_comment_id, events) if c is not None]
    described = [e.task_id for e in events if _describes(e)]
    query = Q(comment_id__in=comment_ids) | Q(task_id__in=described, comment__isnull=True)
    found: dict[tuple[int, int | None], list[Mention]] = {}
    if comment_ids or described:
        for mention in Mention.objects.filter(query).order_by("pk"):
            found.setdefault((mention.task_id, mention.comment_id), []).append(mention)
    return found


def _creation_assignees(events: Sequence[TaskEvent]) -> dict[int, int | None]:
    """Who each card created in the batch was assigned to when created. Its event says so; for
    events written before it did: the card's assignee now, unless a later edit changed it (then
    what that edit changed it from), with one query, only when such a card was created assigned."""
    found = {e.task_id: e.data.get("assignee_id") for e in events if e.kind == EventKind.CREATED}
    created = {
        e.task_id: e.seq
        for e in events
        if e.kind == EventKind.CREATED and "assignee_id" not in e.data and e.task.assignee_id
    }
    if not created:
        return found
    reassigned: dict[int, int | None] = {}
    edits = TaskEvent.objects.filter(
        task_id__in=created, kind=EventKind.EDITED, data__fields__contains=["assignee_id"]
    ).order_by("seq")
    for task_id, seq, data in edits.values_list("task_id", "seq", "data"):
        if seq > created[task_id] and task_id not in reassigned:
            reassigned[task_id] = (data.get("assignee_id") or {}).get("from")
    assignees = {e.task_id: e.task.assignee_id for e in events if e.task_id in created}
    for task_id in created:
        found[task_id] = reassigned.get(task_id, assignees[task_id])
    return found


def plan(events: Sequence[TaskEvent]) -> _Plan:
    """Work out the batch's watches and notifications (members not yet checked)."""
    task_ids = {e.task_id for e in events}
    stored = Watch.objects.filter(task_id__in=task_ids).values_list("task_id", "user_id", "watching", "since")
    result = _Plan(watches={(task, user): (watching, since) for task, user, watching, since in stored})
    mentions = _mentions(events)
    creation_assignees = _creation_assignees(events)
    for event in events:
        task = event.task
        if event.kind == EventKind.CREATED:
            result.watch(event, event.actor_id)
            result.watch(event, task.reporter_id)
            assignee = creation_assignees[task.pk]
            result.watch(event, assignee)
            result.tell(event, assignee, Kind.ASSIGNED)
        elif event.kind == EventKind.EDITED and "assignee_id" in event.data.get("fields", []):
            assignee = (event.data.get("assignee_id") or {}).get("to")
            result.watch(event, assignee)
            result.tell(event, assignee, Kind.ASSIGNED)
        elif event.kind == EventKind.MOVED:
            column = (event.data.get("to") or {}).get("name", "")
            for user in result.watchers(event):
                result.tell(event, user, Kind.MOVED, detail=column)
        comment_id = _comment_id(event)
        told = set()
        if comment_id is not None or _describes(event):
            excerpt = event.data.get("excerpt", "") if comment_id is not None else ""
            for mention in mentions.pop((task.pk, comment_id), []):
                told.add(mention.user_id)
                by = mention.mentioned_by_id
                result.tell(event, mention.user_id, Kind.MENTIONED, detail=excerpt, actor_id=by, mention=mention.pk)
        if event.kind == EventKind.COMMENTED:
            result.watch(event, event.actor_id)
            for user in result.watchers(event):
                if user not in told:
                    result.tell(event, user, Kind.COMMENTED, detail=event.data.get("excerpt", ""))
    return result


def notify(events: Sequence[TaskEvent]) -> None:
    """The consumer: make the batch's watches and notifications and queue each recipient's
    e-mail digest, in one transaction; on commit, update their bells."""
    events = [e for e in events if _relevant(e)]
    if not events:
        return
    result = plan(events)
    people = {w.user_id for w in result.new_watches} | {n.recipient_id for n in result.notifications}
    if not people:
        return
    members = set(
        Membership.objects.filter(application__projects__id=events[0].project_id, user_id__in=people).values_list(
            "user_id", flat=True
        )
    )
    watches = [w for w in result.new_watches if w.user_id in members]
    notifications = [n for n in result.notifications if n.recipient_id in members]
    with transaction.atomic():
        Watch.objects.bulk_create(watches, ignore_conflicts=True)
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
        recipients = sorted({n.recipient_id for n in notifications})
        for user_id in recipients:
            tasks.queue_digest(user_id)
        if recipients:
            transaction.on_commit(lambda: live.push_bells(recipients))
