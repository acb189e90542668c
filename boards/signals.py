"""Domain signals that model signals cannot carry, and the hand-over to the counts handlers.

`aggregates` receives these; boards never imports aggregates. Both sides import this module.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.dispatch import Signal

# A project's columns were added, reordered, recategorised or removed.
# kwargs: project_id
columns_changed = Signal()

# A bulk operation changed counted fields without per-row model signals.
# kwargs: deltas, a {(project_id, category): change} mapping of live-task counts
tasks_bulk_changed = Signal()

# History events were written, inside the transaction of their change (boards.history): what
# must follow from them (notifications, webhooks) is queued by the receivers in that same
# transaction. kwargs: project_id, first_seq, last_seq (the events' sequence numbers, inclusive)
events_recorded = Signal()


# The hand-over. A card write (boards.services.locks) reads the card's stored state under the
# same locks the pre-save/pre-delete handler would take, in the statement that locks the card;
# handing it over spares the handler a second locking read of the same rows, one query per write
# (tests/boards/test_write_costs.py pins the counts that depend on it). The contract:
# - the state was read in the current transaction, under the locks the handler's own read takes
#   (the card FOR UPDATE, its stored and new columns FOR SHARE or stronger, in id order);
# - it describes the row the save or delete of `instance` writes, and names the column it saves to;
# - it serves one save or delete of that very instance inside the block, then is spent; any other
#   write, or one outside the block, reads for itself.


@dataclass(frozen=True)
class StoredState:
    """A stored card as the counts handlers read it under its locks."""

    project_id: int  # its stored project
    category: str  # the category of its stored column
    live: bool  # not archived
    has_row: bool  # whether its project has a counts row
    new_category: str | None  # the category of the column the save writes; None when none named

    @property
    def counted(self) -> tuple[int, str] | None:
        """(project_id, category) it counts in now: None when archived."""
        return (self.project_id, self.category) if self.live else None


@dataclass(frozen=True)
class NewCardState:
    """The column a new card goes to, as the counts handlers read it under its lock."""

    category: str
    has_row: bool  # whether its project has a counts row


HandedState = StoredState | NewCardState

_handed: ContextVar[tuple[object, HandedState] | None] = ContextVar("boards_handed_state", default=None)


@contextmanager
def handing_over(instance, state: HandedState) -> Iterator[None]:
    """Give the handler of the next save or delete of `instance` inside this block its state."""
    token = _handed.set((instance, state))
    try:
        yield
    finally:
        _handed.reset(token)


def take_handed_over(instance) -> HandedState | None:
    """The state handed over for this instance's write, once; None when there is none."""
    handed = _handed.get()
    if handed is None or handed[0] is not instance:
        return None
    _handed.set(None)  # one write only
    return handed[1]
