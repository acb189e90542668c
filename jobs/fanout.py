"""What a worker does with a batch of recorded events: hand them to each consumer in turn.

A consumer is a callable taking the events (TaskEvents of one project, in sequence order, their
task and actor loaded). A job may run more than once (a retry after a worker died), so consumers
are idempotent: what they write is keyed by the event.
"""

from collections.abc import Callable, Sequence

from boards.models import TaskEvent
from webhooks.services import queue_deliveries

Consumer = Callable[[Sequence[TaskEvent]], None]

CONSUMERS: tuple[Consumer, ...] = (queue_deliveries,)


def events_between(project_id: int, first_seq: int, last_seq: int) -> list[TaskEvent]:
    return list(
        TaskEvent.objects.filter(project_id=project_id, seq__range=(first_seq, last_seq))
        .select_related("task", "actor")
        .order_by("seq")
    )


def fan_out(project_id: int, first_seq: int, last_seq: int, consumers: Sequence[Consumer] | None = None) -> int:
    """Hand the events to every consumer; how many events there were."""
    events = events_between(project_id, first_seq, last_seq)
    if events:
        for consumer in CONSUMERS if consumers is None else consumers:
            consumer(events)
    return len(events)
