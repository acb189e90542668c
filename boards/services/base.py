"""What every write shares: the refusals a service raises, the deadlock retry, and the rules
for a card's text.

The refusals are the contract with the callers: ValidationError (bad input, 422), Conflict (valid,
but the board moved on: 409), Task.DoesNotExist (the card is gone: 404).
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction

from boards.models import Task

TITLE_MAX = Task._meta.get_field("title").max_length
DESCRIPTION_MAX = Task._meta.get_field("description").max_length

# PostgreSQL breaks a deadlock by aborting one writer (40P01); a serialization failure (40001) is
# the same kind of refusal. The other writer has gone on, so a fresh attempt sees its result.
RETRIED_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 3


def retry_on_deadlock(operation):
    """Run an operation again when the database aborted it to break a deadlock.

    Only as the outermost transaction: inside a caller's atomic() the whole transaction is lost,
    and the caller must decide.
    """

    @functools.wraps(operation)
    def run(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            outermost = not transaction.get_connection().in_atomic_block
            try:
                return operation(*args, **kwargs)
            except OperationalError as error:
                sqlstate = getattr(error.__cause__, "sqlstate", None)
                if not outermost or attempt == ATTEMPTS or sqlstate not in RETRIED_SQLSTATES:
                    raise

    return run


class Conflict(Exception):
    """The change is valid but the board moved on: a stale edit, a full column."""


class StaleVersion(Conflict):
    pass


class WipLimitReached(Conflict):
    pass


def clean_title(title: str) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError({"title": "A card needs a title."})
    if len(title) > TITLE_MAX:
        raise ValidationError({"title": f"Keep the title to {TITLE_MAX} characters (this one has {len(title)})."})
    return title


def clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError(
            {"description": f"Keep the description to {DESCRIPTION_MAX} characters (this one has {len(description)})."}
        )
    return description


NO_COLUMN = {"task_status": "That column is not on this board (it may have been deleted)."}

GONE = "That card no longer exists: someone may have deleted it."


def _column_id(status_id) -> int:
    try:
        return int(status_id)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(NO_COLUMN) from None


def _task_id(task_id) -> int:
    try:
        return int(task_id)
    except (TypeError, ValueError, OverflowError):
        raise Task.DoesNotExist(GONE) from None


@contextmanager
def unique_or_refused(refusals: dict[str, dict[str, str]]) -> Iterator[None]:
    """Run an insert or update in a savepoint; a violation of one of the named unique constraints
    becomes ValidationError(refusals[name]) (the form's error), the transaction stays usable.

    The constraint is the guarantee: a check with exists() first cannot see a concurrent writer's
    uncommitted row, and two people creating the same key at once got an IntegrityError (a 500).
    """
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if name not in refusals:
            raise
        raise ValidationError(refusals[name]) from None
