"""The API's own reads: bounded pages by id (keyset, so page 200 costs what page 2 does), and
the JSON shapes of what the pages read through boards.queries. Reads only."""

from accounts import people
from boards import history
from boards.models import Comment, Project, Task, TaskEvent
from boards.queries import workspace_members

PAGE_MAX = 100
PAGE_DEFAULT = 50


def cards_page(project: Project, *, after: int, limit: int, archived: bool | None, column_id: int | None) -> list:
    """Up to limit + 1 cards of the project after id `after`, by id; one query (the description
    included: the API returns whole cards)."""
    cards = Task.objects.filter(project_id=project.pk, pk__gt=after)
    if archived is not None:
        cards = cards.filter(archived_at__isnull=not archived)
    if column_id is not None:
        cards = cards.filter(task_status_id=column_id)
    return list(cards.defer("description_html", "search").order_by("pk")[: limit + 1])


def card(project: Project, task_id: int) -> Task | None:
    return Task.objects.filter(pk=task_id, project_id=project.pk).defer("description_html", "search").first()


def comments_page(project: Project, task_id: int, *, after: int, limit: int) -> list | None:
    """Up to limit + 1 comments of the card after id `after`, oldest first; None when the card is
    not on this board. One query (the card's existence read in the same statement)."""
    comments = list(
        Comment.objects.filter(task_id=task_id, task__project_id=project.pk, pk__gt=after)
        .defer("search")
        .order_by("pk")[: limit + 1]
    )
    if comments or Task.objects.filter(pk=task_id, project_id=project.pk).exists():
        return comments
    return None


def events_page(project: Project, *, since: int, limit: int) -> list[TaskEvent]:
    """Up to limit + 1 of the project's events after sequence number `since`, in order. One query."""
    return list(TaskEvent.objects.filter(project_id=project.pk, seq__gt=since).order_by("seq")[: limit + 1])


def members_json(application_id: int) -> list[dict]:
    return [
        {
            "id": membership.user_id,
            "username": membership.user.get_username(),
            "display_name": people.display_name(membership.user),
            "role": membership.role,
        }
        for membership in workspace_members(application_id)
    ]


# -- JSON shapes (api.serializers.*Out describe them for the schema) -----------------------------


def card_json(project: Project, task: Task) -> dict:
    return {
        "id": task.pk,
        "key": f"{project.key}-{task.number}",
        "number": task.number,
        "column_id": task.task_status_id,
        "title": task.title,
        "description": task.description,
        "assignee_id": task.assignee_id,
        "reporter_id": task.reporter_id,
        "position": task.position,
        "labels": list(task.label_ids),
        "priority": task.priority,
        "due_date": task.due_date,
        "due_at": task.due_at,
        "archived": task.archived_at is not None,
        "archived_at": task.archived_at,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "version": task.version,
        "comment_count": task.comment_count,
        "attachment_count": task.attachment_count,
    }


def counts_json(project: Project, agg) -> dict:
    derived = project.derived_status
    return {
        "total": agg.total_tasks,
        "todo": agg.todo_tasks,
        "active": agg.active_tasks,
        "review": agg.review_tasks,
        "issue": agg.issue_tasks,
        "done": agg.done_tasks,
        "derived_status": derived.category if derived else None,
        "derived_column_id": derived.pk if derived else None,
    }


def project_json(project: Project, agg) -> dict:
    return {
        "id": project.pk,
        "workspace_id": project.application_id,
        "name": project.name,
        "key": project.key,
        "archived": project.archived_at is not None,
        "counts": counts_json(project, agg),
    }


def column_json(column) -> dict:
    return {
        "id": column.pk,
        "name": column.name,
        "category": column.category,
        "position": column.position,
        "wip_limit": column.wip_limit,
        "wip_hard": column.wip_hard,
        "count": column.count,
    }


def comment_json(comment: Comment) -> dict:
    return {
        "id": comment.pk,
        "card_id": comment.task_id,
        "author_id": comment.author_id,
        "body": comment.body,
        "body_html": comment.body_html,
        "created_at": comment.created_at,
        "edited_at": comment.edited_at,
    }


def label_json(label) -> dict:
    return {"id": label.pk, "name": label.name, "colour": label.colour}


def event_json(event: TaskEvent) -> dict:
    return history.as_dict(event)
