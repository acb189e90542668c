"""Re-render stored descriptions in batches: after a renderer change, and in migration 0006.

Takes the Task model as an argument so the migration can pass its historical model. Only
description_html and description_renderer are written, with the checklist counts the HTML shows
(checklist_done/total, when the model has them): no counts, history or live push follow.
"""

from django.db import transaction

from boards.text import RENDERER_VERSION, render

BATCH_SIZE = 500


def rerender_descriptions(task_model, *, batch_size: int = BATCH_SIZE, force: bool = False) -> tuple[int, int]:
    """Render every description not rendered by RENDERER_VERSION (all with `force`), in batches.

    Returns (rendered, skipped). Memory holds one batch. Cards locked by an edit in progress are
    skipped, not waited for: that edit stores fresh HTML itself, and a later run catches the rest.
    """
    manager = task_model._base_manager
    # Migration 0006's historical model predates the checklist counts.
    checklist = any(field.name == "checklist_total" for field in task_model._meta.get_fields())
    fields = ["description_html", "description_renderer"] + (["checklist_done", "checklist_total"] if checklist else [])
    stale = manager.all() if force else manager.exclude(description_renderer=RENDERER_VERSION)
    last_pk, rendered, skipped = 0, 0, 0
    while True:
        with transaction.atomic():
            ids = list(stale.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return rendered, skipped
            # Locked and read in the same transaction as the write: an edit cannot slip in between.
            rows = list(manager.filter(pk__in=ids).select_for_update(skip_locked=True).values_list("pk", "description"))
            tasks = [_rendered(task_model, pk, text, checklist) for pk, text in rows]
            manager.bulk_update(tasks, fields)
        last_pk = ids[-1]
        rendered += len(tasks)
        skipped += len(ids) - len(tasks)


def _rendered(task_model, pk: int, text: str, checklist: bool):
    rendered = render(text)
    task = task_model(pk=pk, description_html=rendered.html, description_renderer=RENDERER_VERSION)
    if checklist:
        task.checklist_total = len(rendered.items)
        task.checklist_done = sum(item.done for item in rendered.items)
    return task
