"""Every write: one function per operation, one transaction each, one module per noun.

Views, the admin, consumers and commands call these (`services.move_task(...)`); none of them
writes tasks itself. Counts follow through the model signals (aggregates.signals); the bulk
operations, which bypass those signals, send boards.signals.tasks_bulk_changed with their delta.
Every locking read is in services.locks, the card order in services.ranks.
"""

from boards.services.attachments import add_attachment, remove_attachment
from boards.services.base import (
    DESCRIPTION_MAX,
    GONE,
    NO_COLUMN,
    TITLE_MAX,
    Conflict,
    StaleVersion,
    WipLimitReached,
    clean_description,
    clean_title,
    retry_on_deadlock,
)
from boards.services.bulk import bulk_archive_tasks, bulk_create_tasks, bulk_move_tasks
from boards.services.cards import (
    archive_task,
    assign_task_to,
    create_task,
    delete_task,
    move_task,
    unarchive_task,
    update_task,
)
from boards.services.checklists import set_checklist_items, toggle_checklist_item
from boards.services.columns import add_column, delete_column, reorder_columns, update_column
from boards.services.comments import add_comment, delete_comment, edit_comment
from boards.services.invitations import (
    InvitationClosed,
    Joined,
    accept_invitation,
    create_invitation,
    revoke_invitation,
    sign_up_and_accept,
)
from boards.services.labels import create_label, delete_label, update_label
from boards.services.members import NotAMember, change_role, leave_workspace, remove_member
from boards.services.mentions import record_mentions
from boards.services.projects import (
    archive_project,
    create_project,
    delete_project,
    move_project,
    rename_project,
    unarchive_project,
)
from boards.services.ranks import RANK_STEP, renumber_column
from boards.services.transfer import move_task_to_project
from boards.services.workspaces import create_workspace, delete_workspace, rename_workspace

__all__ = [
    "add_attachment",
    "remove_attachment",
    "set_checklist_items",
    "toggle_checklist_item",
    # comments and mentions (issue 14)
    "add_comment",
    "delete_comment",
    "edit_comment",
    "record_mentions",
    "Conflict",
    "sign_up_and_accept",
    "revoke_invitation",
    "remove_member",
    "leave_workspace",
    "create_invitation",
    "create_label",
    "delete_label",
    "update_label",
    "change_role",
    "accept_invitation",
    "NotAMember",
    "Joined",
    "InvitationClosed",
    "DESCRIPTION_MAX",
    "GONE",
    "NO_COLUMN",
    "RANK_STEP",
    "StaleVersion",
    "TITLE_MAX",
    "WipLimitReached",
    "add_column",
    "archive_project",
    "archive_task",
    "bulk_archive_tasks",
    "bulk_create_tasks",
    "bulk_move_tasks",
    "clean_description",
    "clean_title",
    "create_project",
    "create_task",
    "create_workspace",
    "delete_column",
    "delete_project",
    "delete_task",
    "delete_workspace",
    "move_project",
    "move_task",
    "move_task_to_project",
    "rename_project",
    "rename_workspace",
    "renumber_column",
    "reorder_columns",
    "retry_on_deadlock",
    "unarchive_project",
    "unarchive_task",
    "update_column",
    "update_task",
    "assign_task_to",
]
