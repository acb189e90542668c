"""The order of cards in a column: a float rank between the new neighbours, renumbered only when
ranks run out."""

from django.db.models import Case, OuterRef, Q, Subquery, When

from boards.models import Task, TaskStatus

RANK_STEP = 1024.0
RANK_MIN_GAP = 1e-6  # below this a column is renumbered: floats run out after ~40 halvings

Spot = tuple[float, int] | None  # a card's (position, id) in a column, or none there


def _place(
    column: TaskStatus, *, after_id=None, before_id=None, moving_id=None, read: tuple | None = None
) -> tuple[float, int | None]:
    """A position between the new neighbours, and the card that will then be just above (None: the
    top); renumbers the column only when ranks run out. `read`: _neighbours' answer, read already
    (services.locks reads it with the card's locks)."""
    anchor_id, above = (after_id, True) if after_id else (before_id, False)
    anchor, nearest, bottom = read or _neighbours(column, anchor_id, above=above, moving_id=moving_id)
    if anchor is None:  # no neighbour given, or it left the column meanwhile: the bottom
        if bottom is None:
            return 0.0, None
        return bottom[0] + RANK_STEP, bottom[1]
    next_position, next_id = nearest or (None, None)
    if above:
        low, high, previous = anchor[0], next_position, anchor[1]
    else:
        low, high, previous = next_position, anchor[0], next_id
    if low is None:
        return high - RANK_STEP, None
    if high is None:
        return low + RANK_STEP, previous
    if high - low < RANK_MIN_GAP:
        renumber_column(column)
        return _place(column, after_id=after_id, before_id=before_id, moving_id=moving_id)
    return (low + high) / 2, previous


def _place_back(column: TaskStatus, above: Spot, below: Spot, *, moving_id) -> tuple[float, int | None]:
    """A card's rank back where it was (unarchived): between the live cards now just above and just
    below its stored rank (_old_spot), which are the neighbours it left when nothing moved since;
    else the nearest place that still exists. Returns what _place returns."""
    if above is not None:
        return _place(column, after_id=above[1], moving_id=moving_id, read=(above, below, None))
    if below is not None:
        return _place(column, before_id=below[1], moving_id=moving_id, read=(below, None, None))
    return 0.0, None


def _old_spot(column: TaskStatus, task: Task) -> tuple[Spot, Spot]:
    """The live cards of `column` just above and just below `task`'s stored (position, id): the
    spot it held before it was archived. Archiving keeps the rank, and renumber_column renumbers
    archived cards too, so the rank still says where the card was. Two queries."""
    siblings = Task.objects.live().filter(project_id=column.project_id, task_status_id=column.pk).exclude(pk=task.pk)
    here = task.position
    above = (
        siblings.filter(Q(position__lt=here) | Q(position=here, pk__lt=task.pk), position__lte=here)
        .order_by("-position", "-pk")
        .values_list("position", "pk")
        .first()
    )
    below = (
        siblings.filter(Q(position__gt=here) | Q(position=here, pk__gt=task.pk), position__gte=here)
        .order_by("position", "pk")
        .values_list("position", "pk")
        .first()
    )
    return above, below


def _neighbours(column: TaskStatus, anchor_id, *, above: bool, moving_id) -> tuple[Spot, Spot, Spot]:
    """The anchor card, its nearest card on the far side (below it when `above`: the card goes
    below the anchor), and the column's bottom card when the anchor is not in the column.
    One query, two when the anchor is missing."""
    # project_id too: the task_board_live index (project, task_status, position) then answers
    # each neighbour from one end of a range, instead of scanning the whole column.
    siblings = Task.objects.live().filter(project_id=column.project_id, task_status_id=column.pk).exclude(pk=moving_id)
    if anchor_id:
        here = OuterRef("position")
        if above:
            beyond = Q(position__gt=here) | Q(position=here, pk__gt=OuterRef("pk"))
            nearest = siblings.filter(beyond, position__gte=here).order_by("position", "pk")
        else:
            beyond = Q(position__lt=here) | Q(position=here, pk__lt=OuterRef("pk"))
            nearest = siblings.filter(beyond, position__lte=here).order_by("-position", "-pk")
        found = (
            siblings.filter(pk=anchor_id)
            .annotate(
                next_position=Subquery(nearest.values("position")[:1]),
                next_id=Subquery(nearest.values("pk")[:1]),
            )
            .values_list("position", "pk", "next_position", "next_id")
            .first()
        )
        if found is not None:
            position, pk, next_position, next_id = found
            return (position, pk), (None if next_id is None else (next_position, next_id)), None
    bottom = siblings.order_by("-position", "-pk").values_list("position", "pk").first()
    return None, None, bottom


def renumber_column(column: TaskStatus) -> None:
    """Spread a column's ranks out again, keeping their order. Rare: only when ranks run out."""
    ids = list(Task.objects.filter(task_status_id=column.pk).order_by("position", "pk").values_list("pk", flat=True))
    whens = [When(pk=pk, then=index * RANK_STEP) for index, pk in enumerate(ids)]
    if whens:
        Task.objects.filter(pk__in=ids).update(position=Case(*whens, output_field=Task._meta.get_field("position")))
