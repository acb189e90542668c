"""Domain signals that model signals cannot carry; `aggregates` receives them."""

from django.dispatch import Signal

# A project's columns were added, reordered, recategorised or removed.
# kwargs: project_id
columns_changed = Signal()

# A bulk operation changed counted fields without per-row model signals.
# kwargs: deltas, a {(project_id, category): change} mapping of live-task counts
tasks_bulk_changed = Signal()
