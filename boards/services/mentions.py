"""Who was mentioned where: Mention rows for `@username` in comments and card descriptions.

The notifications deliver them (a later issue); here they are only recorded, once per person and
place: editing a comment or a description that already mentioned someone records nobody again,
only people newly mentioned there. Self-mentions are not recorded: nobody needs telling that they
wrote their own name. Only members of the card's workspace are recorded; anyone else's @name
stays plain text (boards.mentions links only members too).
"""

from boards import mentions, queries
from boards.models import Comment, Mention, Project, Task


def record_mentions(*, project: Project, task: Task, html: str, actor, comment: Comment | None = None) -> list[Mention]:
    """Record the members newly mentioned in `html` (a comment's body_html, or the card's
    description_html when `comment` is None). Call inside the write's transaction, after the
    save. No query when the text mentions nobody; else one read and one insert."""
    names = mentions.mentioned(html)
    if not names:
        return []
    users = queries.members_named(
        project,
        names,
        besides_user=actor,
        not_mentioned_in=(task.pk, comment.pk if comment is not None else None),
    )
    rows = [
        Mention(user=user, task_id=task.pk, comment=comment, mentioned_by_id=getattr(actor, "pk", actor))
        for user in users
    ]
    return Mention.objects.bulk_create(rows) if rows else []
