"""The append-only event log: one TaskEvent per committed change, numbered per project.

Writers call record_* inside the transaction of their change, after the change itself (the
counts row is locked first, the sequence row last, in every writer: no lock cycle). One event
costs one statement: the upsert that takes its sequence number feeds the INSERT; a
bulk call takes n numbers with the same upsert and inserts n events with one bulk INSERT. The sequence row stays
locked until the writer commits, so writers of one project number their events in commit order,
and a rollback gives its numbers back: no gaps, no duplicates.

Raw SQL here (table names from _meta): the ORM cannot express an upsert that increments and
returns the new value (INSERT … ON CONFLICT DO UPDATE … RETURNING), nor feed it to the INSERT of
the event in one statement; tests/boards/test_history.py holds the numbering gapless under
concurrent writers and the one-statement and bulk paths to the same events.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Min
from django.utils import timezone

from accounts import people
from boards import clock, signals
from boards.models import CardNumberSequence, Category, ProjectSequence, Task, TaskEvent, TaskStatus

Kind = TaskEvent.Kind
REPLAY_LIMIT = 200
ACTIVITY_LIMIT = 50
# The events that carry a card into a category; archive, unarchive and deletion do not count.
FLOW_KINDS = (Kind.CREATED, Kind.MOVED)

_SEQ_TABLE = ProjectSequence._meta.db_table
_EVENT_TABLE = TaskEvent._meta.db_table
_TAKE_SEQ = (
    f"INSERT INTO {_SEQ_TABLE} (project_id, last_seq) VALUES (%s, %s) "
    f"ON CONFLICT (project_id) DO UPDATE SET last_seq = {_SEQ_TABLE}.last_seq + EXCLUDED.last_seq "
    "RETURNING last_seq"
)


def take_seqs(project_id: int, n: int = 1) -> int:
    """Reserve n sequence numbers and return the last one. Call inside atomic()."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SEQ, [project_id, n])
        return cursor.fetchone()[0]


# Card numbers, in one statement: the ORM cannot UPDATE ... RETURNING (its counterpart,
# CardNumberSequence.take_numbers, takes two, for saves that bypass the services).
_NUMBER_TABLE = CardNumberSequence._meta.db_table
_TAKE_NUMBERS = (
    f"INSERT INTO {_NUMBER_TABLE} (project_id, last_number) VALUES (%s, %s) "
    f"ON CONFLICT (project_id) DO UPDATE SET last_number = {_NUMBER_TABLE}.last_number + EXCLUDED.last_number "
    "RETURNING last_number"
)


def take_card_numbers(project_id: int, n: int = 1) -> int:
    """Reserve n card numbers (Task.number) and return the first. Call inside atomic()."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_NUMBERS, [project_id, n])
        return cursor.fetchone()[0] - n + 1


def current_seq(project_id: int) -> int:
    """The project's last committed sequence number (0 before its first event)."""
    return ProjectSequence.objects.filter(project_id=project_id).values_list("last_seq", flat=True).first() or 0


def _column(status: TaskStatus) -> dict:
    return {"id": status.pk, "name": status.name, "category": status.category}


def _event(task: Task, kind: str, actor, data: dict, *, from_category=None, to_category=None) -> TaskEvent:
    return TaskEvent(
        project_id=task.project_id,
        task_id=task.pk,
        task_title=task.title,
        actor_id=getattr(actor, "pk", actor),
        kind=kind,
        from_category=from_category,
        to_category=to_category,
        data=data,
    )


def _save(events: Sequence[TaskEvent]) -> list[TaskEvent]:
    """Number the events of one project and insert them: one statement for one event, else two
    whatever their number."""
    if not events:
        return []
    saved = _number_and_insert(events)
    signals.events_recorded.send(
        sender=TaskEvent, project_id=saved[0].project_id, first_seq=saved[0].seq, last_seq=saved[-1].seq
    )
    return saved


def _number_and_insert(events: Sequence[TaskEvent]) -> list[TaskEvent]:
    if _in_one_statement(len(events)):
        return [_save_one(events[0])]
    project_id = events[0].project_id
    last = take_seqs(project_id, len(events))
    now = clock.now()
    for offset, event in enumerate(events, start=last - len(events) + 1):
        event.seq = offset
        _stamp(event, now)
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        TaskEvent.objects.bulk_create(events, batch_size=5000)
    return list(events)


def _in_one_statement(events: int) -> bool:
    """Whether _save writes this many events with _save_one: one event."""
    return events == 1


def _stamp(event: TaskEvent, now) -> None:
    event.at = now
    if getattr(event, "starts_now", False):
        event.started_at = now


def _save_one(event: TaskEvent) -> TaskEvent:
    """The sequence upsert feeding the INSERT: the same two writes in the same lock order as
    take_seqs() then save(), in one round trip."""
    _stamp(event, clock.now())
    fields = [f for f in TaskEvent._meta.concrete_fields if f.attname not in ("id", "seq")]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = [[f.get_db_prep_save(getattr(event, f.attname), connection)] for f in fields]
    placeholders = ["%s"] * len(fields)
    if getattr(event, "start_from_log", False):
        # As _mark_arrivals looks it up: when the card first went past todo, else its creation.
        index = [f.attname for f in fields].index("started_at")
        placeholders[index] = _FIRST_START
        values[index] = [event.task_id, *FLOW_KINDS, Category.TODO, event.task_created_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH s AS ({_TAKE_SEQ}) INSERT INTO {_EVENT_TABLE} (seq, {columns}) "
            f"SELECT s.last_seq, {', '.join(placeholders)} FROM s RETURNING id, seq, started_at",
            [event.project_id, 1, *(value for group in values for value in group)],
        )
        event.pk, event.seq, event.started_at = cursor.fetchone()
    event._state.adding = False
    return event


_FIRST_START = (
    f"COALESCE((SELECT MIN(e.at) FROM {_EVENT_TABLE} e WHERE e.task_id = %s AND e.kind IN (%s, %s) "
    "AND e.to_category IS NOT NULL AND e.to_category <> %s), %s)"
)


def _mark_arrivals(pairs: Sequence[tuple[TaskEvent, Task]]) -> None:
    """Give each arrival in done the time its card first went past todo.

    A card coming straight from todo (or created in done) starts now; the others are looked up
    with one query for all of them (an indexed read; no query when there are none), or for one
    event inside its INSERT (_save_one).
    """
    arrivals = [(event, task) for event, task in pairs if _arrives_done(event)]
    for event, task in arrivals:
        event.starts_now = event.from_category in (None, Category.TODO)
        event.task_created_at = task.created_at
    earlier = [task.pk for event, task in arrivals if not event.starts_now]
    if not earlier:
        return
    if _in_one_statement(len(pairs)):
        pairs[0][0].start_from_log = True  # _save_one reads it in the INSERT itself
        return
    first = dict(
        TaskEvent.objects.filter(task_id__in=earlier, kind__in=FLOW_KINDS, to_category__isnull=False)
        .exclude(to_category=Category.TODO)
        .values_list("task_id")
        .annotate(first=Min("at"))
        .order_by()
    )
    for event, task in arrivals:
        if not event.starts_now:
            # Nothing logged (the card moved on before the log existed): count from its creation.
            event.started_at = first.get(task.pk, task.created_at)


def _arrives_done(event: TaskEvent) -> bool:
    return event.to_category == Category.DONE and event.from_category != Category.DONE


def _live_category(task: Task, status: TaskStatus) -> str | None:
    return None if task.archived_at else status.category


def _created_data(task: Task, status: TaskStatus) -> dict:
    """Where a new card landed, and whom it was assigned to when created (later edits change the card)."""
    data = {"to": _column(status)}
    if task.assignee_id is not None:
        data["assignee_id"] = task.assignee_id
    return data


def record_created(task: Task, *, actor=None) -> TaskEvent:
    """A new card. Call inside the creating transaction, after the save."""
    status = task.task_status
    event = _event(task, Kind.CREATED, actor, _created_data(task, status), to_category=_live_category(task, status))
    _mark_arrivals([(event, task)])
    return _save([event])[0]


def record_bulk_created(tasks: Sequence[Task], statuses: dict[int, TaskStatus], *, actor=None) -> list[TaskEvent]:
    """One `created` event per card of a bulk insert (tasks of one project)."""
    pairs = [
        (
            _event(
                task,
                Kind.CREATED,
                actor,
                _created_data(task, statuses[task.task_status_id]),
                to_category=_live_category(task, statuses[task.task_status_id]),
            ),
            task,
        )
        for task in tasks
    ]
    _mark_arrivals(pairs)
    return _save([event for event, _ in pairs])


def _edited(task: Task, actor, changes: dict) -> TaskEvent:
    data = {"fields": sorted(changes)}
    for field, (old, new) in changes.items():
        # Descriptions can be long: the log keeps only that they changed.
        if field != "description":
            data[field] = {"from": old, "to": new}
    return _event(task, Kind.EDITED, actor, data)


def record_edited(task: Task, *, actor=None, changes: dict) -> TaskEvent:
    """Text or assignee changed; `changes` maps a field to its (old, new) values."""
    return _save([_edited(task, actor, changes)])[0]


def record_moved_and_edited(
    task: Task, *, actor=None, from_status: TaskStatus, to_status: TaskStatus, changes: dict
) -> list[TaskEvent]:
    """A move that also changed the card (a drop into another lane of a grouped board): its `moved`
    event when the column changed, then its `edited` one, numbered together as one change."""
    pairs = []
    if from_status.pk != to_status.pk:
        pairs.append((_moved(task, actor, from_status, to_status), task))
    pairs.append((_edited(task, actor, changes), task))
    _mark_arrivals(pairs)
    return _save([event for event, _ in pairs])


def _moved(task: Task, actor, from_status: TaskStatus, to_status: TaskStatus) -> TaskEvent:
    if from_status.pk == to_status.pk:
        return _event(task, Kind.REORDERED, actor, {"column": _column(to_status)})
    return _event(
        task,
        Kind.MOVED,
        actor,
        {"from": _column(from_status), "to": _column(to_status)},
        from_category=from_status.category,
        to_category=to_status.category,
    )


def record_moved(task: Task, *, actor=None, from_status: TaskStatus, to_status: TaskStatus) -> TaskEvent:
    """A card moved to another column, or within its column (`reordered`)."""
    event = _moved(task, actor, from_status, to_status)
    _mark_arrivals([(event, task)])
    return _save([event])[0]


def record_bulk_moved(
    moves: Sequence[tuple[Task, TaskStatus]], *, actor=None, to_status: TaskStatus
) -> list[TaskEvent]:
    """One `moved` event per card of a bulk move; `moves` pairs each card with its old column."""
    pairs = [(_moved(task, actor, from_status, to_status), task) for task, from_status in moves]
    _mark_arrivals(pairs)
    return _save([event for event, _ in pairs])


def record_archived(tasks: Sequence[Task], *, actor=None) -> list[TaskEvent]:
    """Cards taken off the board (one event each); their columns must be loaded."""
    return _save(
        [
            _event(
                task,
                Kind.ARCHIVED,
                actor,
                {"column": _column(task.task_status)},
                from_category=task.task_status.category,
            )
            for task in tasks
        ]
    )


def record_unarchived(task: Task, *, actor=None) -> TaskEvent:
    """A card put back on the board."""
    status = task.task_status
    return _save([_event(task, Kind.UNARCHIVED, actor, {"column": _column(status)}, to_category=status.category)])[0]


def record_deleted(task: Task, *, actor=None, task_id: int, was_live: bool) -> TaskEvent:
    """A card deleted for good; call after the delete. The event keeps its id and title."""
    status = task.task_status
    event = _event(
        task,
        Kind.DELETED,
        actor,
        {"task_id": task_id, "column": _column(status), "archived": not was_live},
        from_category=status.category if was_live else None,
    )
    event.task_id = None  # the row is gone
    return _save([event])[0]


def record_attached(task: Task, *, actor=None, attachment) -> TaskEvent:
    """A file attached to a card; call after the attachment's save."""
    data = {"attachment": {"id": attachment.pk, "name": attachment.name, "size": attachment.size}}
    return _save([_event(task, Kind.ATTACHED, actor, data)])[0]


def record_detached(task: Task, *, actor=None, attachment) -> TaskEvent:
    """A file removed from a card."""
    data = {"attachment": {"id": attachment.pk, "name": attachment.name, "size": attachment.size}}
    return _save([_event(task, Kind.DETACHED, actor, data)])[0]


def record_column_category(column: TaskStatus, *, actor=None, old_category: str) -> TaskEvent:
    """A column changed category; its live cards moved between categories with it.

    Call with the column locked FOR UPDATE (no card can enter or leave it meanwhile).
    """
    live_tasks = Task.objects.live().filter(task_status_id=column.pk).count()
    event = TaskEvent(
        project_id=column.project_id,
        actor_id=getattr(actor, "pk", actor),
        kind=Kind.COLUMN_CATEGORY,
        from_category=old_category,
        to_category=column.category,
        task_count=live_tasks,
        data={"column": _column(column), "from_category": old_category, "to_category": column.category},
    )
    return _save([event])[0]


# -- comments (issue 14) ------------------------------------------------------------------------

EXCERPT_MAX = 200  # characters of a comment kept in its events: the activity and the CSV export quote it


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """The comment's text on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _comment_data(comment) -> dict:
    return {"comment_id": comment.pk, "author_id": comment.author_id, "excerpt": excerpt(comment.body)}


def record_commented(task: Task, *, actor=None, comment) -> TaskEvent:
    """A comment added to the card. Call inside its transaction, after the save."""
    return _save([_event(task, Kind.COMMENTED, actor, _comment_data(comment))])[0]


def record_comment_edited(task: Task, *, actor=None, comment) -> TaskEvent:
    """A comment's text changed; the excerpt is the new text's."""
    return _save([_event(task, Kind.COMMENT_EDITED, actor, _comment_data(comment))])[0]


def record_comment_deleted(task: Task, *, actor=None, comment) -> TaskEvent:
    """A comment deleted (by its author, or by an owner); keeps its id and an excerpt."""
    return _save([_event(task, Kind.COMMENT_DELETED, actor, _comment_data(comment))])[0]


def _describe_comment(event: TaskEvent, who: str) -> str:
    quoted = excerpt(event.data.get("excerpt", ""), 80)
    match event.kind:
        case Kind.COMMENTED:
            return f"{who} commented “{quoted}”"
        case Kind.COMMENT_EDITED:
            return f"{who} edited a comment to “{quoted}”"
    if event.data.get("author_id") not in (None, event.actor_id):
        return f"{who} deleted someone's comment “{quoted}”"
    return f"{who} deleted a comment “{quoted}”"


def as_dict(event: TaskEvent) -> dict:
    """A JSON-ready event for replay and export."""
    return {
        "seq": event.seq,
        "kind": event.kind,
        "task_id": event.task_id or event.data.get("task_id"),
        "task_title": event.task_title,
        "actor_id": event.actor_id,
        "at": event.at.isoformat(),
        "data": event.data,
    }


def events_after(project_id: int, seq: int, limit: int = REPLAY_LIMIT) -> list[dict] | None:
    """The events after `seq`, oldest first; None when more than `limit` (re-fetch the board).

    None too for a number the project never reached (a client from before a reset).
    """
    seq = int(seq)
    rows = list(TaskEvent.objects.filter(project_id=project_id, seq__gt=seq).order_by("seq")[: limit + 1])
    if len(rows) > limit or seq < 0:
        return None
    if not rows and seq > current_seq(project_id):
        return None
    return [as_dict(row) for row in rows]


def card_activity(task: Task, limit: int = ACTIVITY_LIMIT) -> list[TaskEvent]:
    """A card's history, newest first, each with a `sentence` to show."""
    events = list(TaskEvent.objects.filter(task_id=task.pk).select_related("actor__profile").order_by("-seq")[:limit])
    now = timezone.now()
    for event in events:
        event.sentence = describe(event)
        event.ago = clock.ago(event.at, now)
    return events


def actor_name(event: TaskEvent) -> str:
    if event.actor_id is None:
        return "Tasktrack"
    if event.actor is None:
        return "A former member"
    return people.display_name(event.actor)


def describe(event: TaskEvent) -> str:
    """'Ana moved this from In Progress to In Review' (the actor must be loaded)."""
    who = actor_name(event)
    data = event.data
    if event.kind in (Kind.MOVED_OUT, Kind.MOVED_IN):
        return _describe_transfer(who, event)
    match event.kind:
        case Kind.CREATED:
            return f"{who} created this in {data['to']['name']}"
        case Kind.EDITED:
            return f"{who} changed the {_and(data['fields'])}"
        case Kind.MOVED:
            return f"{who} moved this from {data['from']['name']} to {data['to']['name']}"
        case Kind.REORDERED:
            return f"{who} reordered this within {data['column']['name']}"
        case Kind.ARCHIVED:
            return f"{who} archived this"
        case Kind.UNARCHIVED:
            return f"{who} put this back on the board in {data['column']['name']}"
        case Kind.DELETED:
            return f"{who} deleted this"
        case Kind.ATTACHED:
            return f"{who} attached {data['attachment']['name']}"
        case Kind.DETACHED:
            return f"{who} removed the attachment {data['attachment']['name']}"
        case Kind.COLUMN_CATEGORY:
            return (
                f"{who} changed the category of {data['column']['name']} "
                f"from {data['from_category']} to {data['to_category']}"
            )
    if event.kind in (Kind.COMMENTED, Kind.COMMENT_EDITED, Kind.COMMENT_DELETED):
        return _describe_comment(event, who)
    return f"{who} changed this"


def _and(words: Sequence[str]) -> str:
    words = [word.replace("_id", "") for word in words]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# -- cards moving between projects (issue 14) ----------------------------------------------------


def record_moved_to_project(
    task: Task, *, actor=None, from_project_id: int, from_status: TaskStatus, from_key: str, to_key: str
) -> list[TaskEvent]:
    """A live card left one project for another (task already saved in its new project and
    column): `moved_out` in the old project's log, its column's category leaving, and `moved_in`
    in the new one's, the new column's entering, so each project's flow stays whole."""
    to_status = task.task_status
    data = {"from_key": from_key, "to_key": to_key, "from": _column(from_status), "to": _column(to_status)}
    out = _event(task, Kind.MOVED_OUT, actor, data, from_category=from_status.category)
    out.project_id = from_project_id
    arrived = _event(task, Kind.MOVED_IN, actor, data, to_category=to_status.category)
    return [*_save([out]), *_save([arrived])]


def _describe_transfer(who: str, event: TaskEvent) -> str:
    data = event.data
    if event.kind == Kind.MOVED_OUT:
        return f"{who} moved this from {data['from_key']} to another project as {data['to_key']}"
    return f"{who} moved this here from {data['from_key']}, into {data['to']['name']}"
