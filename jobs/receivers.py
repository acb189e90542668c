"""Queue, inside the transaction of a change, the work that follows from it.

The job is written by procrastinate's Django connector on the change's own database connection,
so it commits or rolls back with the change: no job for a change that did not happen, none lost
for one that did (ARCHITECTURE.md, invariant 4).
"""

from jobs import tasks


def queue_fan_out(sender, *, project_id: int, first_seq: int, last_seq: int, **kwargs) -> None:
    tasks.fan_out.defer(project_id=project_id, first_seq=first_seq, last_seq=last_seq)
