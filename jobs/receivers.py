"""Queue, inside the transaction of a change, the work that follows from it.

The job is written on the change's own database connection (tasktrack.queue), even when the change
is made inside a worker (an import): it commits or rolls back with the change, so no job for a
change that did not happen, none lost for one that did (ARCHITECTURE.md, invariant 4).
"""

from tasktrack import queue

FAN_OUT_TASK = "jobs.fan_out"  # jobs.tasks.fan_out


def queue_fan_out(sender, *, project_id: int, first_seq: int, last_seq: int, **kwargs) -> None:
    queue.defer(FAN_OUT_TASK, queue="events", project_id=project_id, first_seq=first_seq, last_seq=last_seq)
