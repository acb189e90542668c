"""/api/v1/: the REST API, its schema and docs; /account/tokens/: the tokens page."""

from django.urls import path, re_path, register_converter

from api import docs, views, web


class PkConverter:
    """A row id: 1 to 18 ASCII digits, always within bigint; anything else is a 404."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(PkConverter, "pk")

P = "api/v1/projects/<pk:project_id>"
C = f"{P}/cards/<pk:card_id>"

urlpatterns = [
    path("account/tokens/", web.tokens, name="api_tokens"),
    path("account/tokens/revoke/", web.token_revoke, name="api_token_revoke"),
    path("api/v1/schema/", docs.Schema.as_view(), name="api_schema"),
    path("api/v1/docs/", docs.docs, name="api_docs"),
    path("api/v1/workspaces/", views.Workspaces.as_view(), name="api_workspaces"),
    path("api/v1/workspaces/<pk:workspace_id>/", views.Workspace.as_view(), name="api_workspace"),
    path("api/v1/workspaces/<pk:workspace_id>/projects/", views.WorkspaceProjects.as_view(), name="api_projects"),
    path("api/v1/workspaces/<pk:workspace_id>/members/", views.WorkspaceMembers.as_view(), name="api_members"),
    path(f"{P}/", views.ProjectDetail.as_view(), name="api_project"),
    path(f"{P}/counts/", views.ProjectCounts.as_view(), name="api_counts"),
    path(f"{P}/columns/", views.Columns.as_view(), name="api_columns"),
    path(f"{P}/events/", views.Events.as_view(), name="api_events"),
    path(f"{P}/labels/", views.Labels.as_view(), name="api_labels"),
    path(f"{P}/labels/<pk:label_id>/", views.LabelDetail.as_view(), name="api_label"),
    path(f"{P}/cards/", views.Cards.as_view(), name="api_cards"),
    path(f"{C}/", views.CardDetail.as_view(), name="api_card"),
    path(f"{C}/move/", views.CardMove.as_view(), name="api_card_move"),
    path(f"{C}/archive/", views.CardArchive.as_view(), name="api_card_archive"),
    path(f"{C}/unarchive/", views.CardUnarchive.as_view(), name="api_card_unarchive"),
    path(f"{C}/comments/", views.Comments.as_view(), name="api_comments"),
    path(f"{C}/comments/<pk:comment_id>/", views.CommentDetail.as_view(), name="api_comment"),
    re_path(r"^api/v1/", views.NotFound.as_view()),
]
