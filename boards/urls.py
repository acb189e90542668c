"""The boards' URLs. Ids in paths are ASCII digits of bigint range (the `id` converter): anything
else is a 404 before any view runs."""

from django.urls import path, register_converter

from boards.web import attachments, checklists, column_all, comments, teams, transfer, views, workspaces
from boards.web import history as views_history
from boards.web import labels as views_labels
from boards.web import search as views_search


class IdConverter:
    """A row id: 1 to 18 ASCII digits, always within bigint."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "id")


class TokenConverter:
    """An invitation token as secrets.token_urlsafe writes it: anything else is a 404."""

    regex = "[A-Za-z0-9_-]{20,100}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TokenConverter, "token")


class FileTokenConverter:
    """An attachment's token (secrets.token_hex(16)): anything else is a 404."""

    regex = "[0-9a-f]{32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FileTokenConverter, "file_token")


class CardKeyConverter:
    """A card's key, KEY-n (any case): anything else is a 404."""

    regex = "[A-Za-z0-9]{1,10}-[0-9]{1,9}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CardKeyConverter, "cardkey")

urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/", workspaces.workspaces, name="workspaces"),
    path("workspaces/new/", workspaces.workspace_create, name="workspace_create"),
    path("workspaces/<id:application_id>/", workspaces.workspace, name="workspace"),
    path("workspaces/<id:application_id>/rename/", workspaces.workspace_rename, name="workspace_rename"),
    path("workspaces/<id:application_id>/delete/", workspaces.workspace_delete, name="workspace_delete"),
    path("workspaces/<id:application_id>/projects/new/", views.project_create, name="project_create"),
    path("workspaces/<id:application_id>/members/", teams.members, name="members"),
    path("workspaces/<id:application_id>/members/<id:user_id>/role/", teams.member_role, name="member_role"),
    path("workspaces/<id:application_id>/members/<id:user_id>/remove/", teams.member_remove, name="member_remove"),
    path("workspaces/<id:application_id>/leave/", teams.workspace_leave, name="workspace_leave"),
    path("workspaces/<id:application_id>/invitations/", teams.invitation_create, name="invitation_create"),
    path(
        "workspaces/<id:application_id>/invitations/<id:invitation_id>/revoke/",
        teams.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/<token:token>/", teams.invitation, name="invitation"),
    path("invitations/<token:token>/join/", teams.invitation_join, name="invitation_join"),
    path("invitations/<token:token>/sign-up/", teams.invitation_sign_up, name="invitation_sign_up"),
    path("projects/<id:project_id>/", views.board, name="board"),
    path("projects/<id:project_id>/rename/", views.project_rename, name="project_rename"),
    path("projects/<id:project_id>/delete/", workspaces.project_delete, name="project_delete"),
    path("projects/<id:project_id>/archive/", workspaces.project_archive, name="project_archive"),
    path("projects/<id:project_id>/unarchive/", workspaces.project_unarchive, name="project_unarchive"),
    path("projects/<id:project_id>/move/", workspaces.project_move, name="project_move"),
    path("projects/<id:project_id>/archived/", views.archived, name="archived"),
    path("projects/<id:project_id>/columns/", views.columns, name="columns"),
    path("projects/<id:project_id>/columns/add/", views.column_add, name="column_add"),
    path("projects/<id:project_id>/columns/reorder/", views.column_reorder, name="column_reorder"),
    path("projects/<id:project_id>/columns/<id:status_id>/edit/", views.column_update, name="column_update"),
    path("projects/<id:project_id>/columns/<id:status_id>/delete/", views.column_delete, name="column_delete"),
    path("projects/<id:project_id>/columns/<id:status_id>/cards/", views.column_more, name="column_more"),
    path("projects/<id:project_id>/columns/<id:status_id>/cards/all/", column_all.column_all, name="column_all"),
    path("projects/<id:project_id>/columns/<id:status_id>/cards/new/", views.card_create, name="card_create"),
    path("projects/<id:project_id>/cards/<id:task_id>/", views.card, name="card"),
    path("projects/<id:project_id>/cards/<id:task_id>/edit/", views.card_update, name="card_update"),
    path("projects/<id:project_id>/cards/<id:task_id>/move/", views.card_move, name="card_move"),
    path("projects/<id:project_id>/cards/<id:task_id>/assign-me/", views.card_assign_me, name="card_assign_me"),
    path("projects/<id:project_id>/cards/<id:task_id>/archive/", views.card_archive, name="card_archive"),
    path("projects/<id:project_id>/cards/<id:task_id>/unarchive/", views.card_unarchive, name="card_unarchive"),
    path("projects/<id:project_id>/cards/<id:task_id>/delete/", views.card_delete, name="card_delete"),
    # Checklists and attachments (issue 14, items 6 and 7).
    path("projects/<id:project_id>/cards/<id:task_id>/checklist/", checklists.card_checklist, name="card_checklist"),
    path("projects/<id:project_id>/cards/<id:task_id>/attachments/", attachments.attachment_add, name="attachment_add"),
    path(
        "projects/<id:project_id>/attachments/<id:attachment_id>/remove/",
        attachments.attachment_remove,
        name="attachment_remove",
    ),
    path("projects/<id:project_id>/files/<file_token:file_token>", attachments.attachment_download, name="attachment"),
    path(
        "projects/<id:project_id>/files/<file_token:file_token>/thumbnail",
        attachments.attachment_thumbnail,
        name="attachment_thumbnail",
    ),
    # Comments and mentions (issue 14)
    path("projects/<id:project_id>/cards/<id:task_id>/comments/", comments.comment_add, name="comment_add"),
    path(
        "projects/<id:project_id>/cards/<id:task_id>/comments/<id:comment_id>/edit/",
        comments.comment_update,
        name="comment_update",
    ),
    path(
        "projects/<id:project_id>/cards/<id:task_id>/comments/<id:comment_id>/delete/",
        comments.comment_delete,
        name="comment_delete",
    ),
    path("projects/<id:project_id>/mentions/", comments.mention_candidates, name="mention_candidates"),
    path("projects/<id:project_id>/insights/", views_history.project_insights, name="project_insights"),
    path("projects/<id:project_id>/export/tasks.csv", views_history.export_tasks, name="export_tasks"),
    path("projects/<id:project_id>/export/events.csv", views_history.export_events, name="export_events"),
    # Labels, and the cards due this week across projects (issue 14).
    path("projects/<id:project_id>/labels/", views_labels.labels, name="labels"),
    path("projects/<id:project_id>/labels/add/", views_labels.label_add, name="label_add"),
    path("projects/<id:project_id>/labels/<id:label_id>/edit/", views_labels.label_update, name="label_update"),
    path("projects/<id:project_id>/labels/<id:label_id>/delete/", views_labels.label_delete, name="label_delete"),
    path("due/", views_labels.due_soon, name="due_soon"),
    # -- finding cards (issue 14)
    path("search/", views_search.search_page, name="search"),
    path(
        "projects/<id:project_id>/cards/<id:task_id>/transfer/", transfer.card_transfer_form, name="card_transfer_form"
    ),
    path("projects/<id:project_id>/cards/<id:task_id>/transfer/move/", transfer.card_transfer, name="card_transfer"),
    path("<cardkey:key>/", views_search.card_by_key, name="card_by_key"),
]
