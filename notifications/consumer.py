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

    watches: dict[tuple[int, int], bool]  # (task_id, user_id) -> watching, as stored or as made now
    new_watches: list[tuple[int, int]] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def watch(self, task_id: int, user_id: int | None) -> None:
        if user_id is not None and (task_id, user_id) not in self.watches:
            self.watches[(task_id, user_id)] = True
            self.new_watches.append((task_id, user_id))

    def watchers(self, task_id: int) -> list[int]:
        return [user for (task, user), watching in self.watches.items() if task == task_id and watching]

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


def _creation_assignee(event: TaskEvent, events: Sequence[TaskEvent]) -> int | None:
    """Who the card was assigned to when created: the event does not say, so the card's assignee
    now, or what a later edit in this batch changed it from. (A reassignment in a later batch,
    before this one ran, can make the new assignee hear of it twice.)"""
    for later in events:
        if later.seq > event.seq and later.task_id == event.task_id and later.kind == EventKind.EDITED:
            change = later.data.get("assignee_id")
            if change is not None:
                return change.get("from")
    return event.task.assignee_id


def plan(events: Sequence[TaskEvent]) -> _Plan:
    """Work out the batch's watches and notifications (members not yet checked)."""
    task_ids = {e.task_id for e in events}
    stored = Watch.objects.filter(task_id__in=task_ids).values_list("task_id", "user_id", "watching")
    result = _Plan(watches={(task, user): watching for task, user, watching in stored})
    mentions = _mentions(events)
    for event in events:
        task = event.task
        if event.kind == EventKind.CREATED:
            result.watch(task.pk, event.actor_id)
            result.watch(task.pk, task.reporter_id)
            assignee = _creation_assignee(event, events)
            result.watch(task.pk, assignee)
            result.tell(event, assignee, Kind.ASSIGNED)
        elif event.kind == EventKind.EDITED and "assignee_id" in event.data.get("fields", []):
            assignee = (event.data.get("assignee_id") or {}).get("to")
            result.watch(task.pk, assignee)
            result.tell(event, assignee, Kind.ASSIGNED)
        elif event.kind == EventKind.MOVED:
            column = (event.data.get("to") or {}).get("name", "")
            for user in result.watchers(task.pk):
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
            result.watch(task.pk, event.actor_id)
            for user in result.watchers(task.pk):
                if user not in told:
                    result.tell(event, user, Kind.COMMENTED, detail=event.data.get("excerpt", ""))
    return result


def notify(events: Sequence[TaskEvent]) -> None:
    """The consumer: make the batch's watches and notifications, then (on commit) update each
    recipient's bell and queue their e-mail digest."""
    events = [e for e in events if _relevant(e)]
    if not events:
        return
    result = plan(events)
    people = {user for _, user in result.new_watches} | {n.recipient_id for n in result.notifications}
    if not people:
        return
    members = set(
        Membership.objects.filter(application__projects__id=events[0].project_id, user_id__in=people).values_list(
            "user_id", flat=True
        )
    )
    watches = [Watch(task_id=task, user_id=user) for task, user in result.new_watches if user in members]
    notifications = [n for n in result.notifications if n.recipient_id in members]
    with transaction.atomic():
        Watch.objects.bulk_create(watches, ignore_conflicts=True)
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
        recipients = sorted({n.recipient_id for n in notifications})
        if recipients:
            transaction.on_commit(lambda: _told(recipients))


def _told(user_ids: list[int]) -> None:
    live.push_bells(user_ids)
    for user_id in user_ids:
        tasks.queue_digest(user_id)
