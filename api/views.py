"""The REST API under /api/v1/: validate (api.serializers, api.forms), check access with the pages'
helpers (boards.queries.get_project_for: another workspace's objects are 404; check_can_edit:
viewers and archived projects 403), call one service or query, answer JSON.

Every endpoint's query count is fixed whatever the data (tests/api/test_queries.py pins them).
"""

import contextlib

from django.core.exceptions import ValidationError
from django.http.request import RawPostDataException
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from aggregates.counts import get_or_create_project_aggregation
from api import forms, queries
from api import serializers as s
from api.errors import refusal
from boards import queries as board_queries
from boards import services
from boards.models import Project
from boards.queries import BoardFilter, check_can_edit, get_project_for, get_workspace_for

ERRORS = {400: s.ErrorOut, 401: s.ErrorOut, 403: s.ErrorOut, 404: s.ErrorOut, 429: s.ErrorOut}
WRITE_ERRORS = {**ERRORS, 409: s.ErrorOut}
PAGE_PARAMETERS = [
    OpenApiParameter("after", OpenApiTypes.INT, description="The last id of the previous page (default 0)."),
    OpenApiParameter(
        "limit", OpenApiTypes.INT, description=f"1 to {queries.PAGE_MAX} (default {queries.PAGE_DEFAULT})."
    ),
]


class ApiView(APIView):
    """JSON in, JSON out; authenticated by token or session (never redirected to the log-in page)."""

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        # LoginRequiredMiddleware would send a token's request to the log-in page: the API answers 401.
        view.login_required = False
        return view

    def initial(self, request, *args, **kwargs):
        if request.method not in SAFE_METHODS:
            # Read through Django's request, which refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE
            # (RequestDataTooBig: 413); the JSON parser alone would read any size into memory.
            # A form body was read already (within Django's limits) by the middleware: not JSON anyway.
            with contextlib.suppress(RawPostDataException):
                request._request.body  # noqa: B018
        super().initial(request, *args, **kwargs)


class NotFound(ApiView):
    """Any other path under /api/v1/: a JSON 404, not the site's log-in page or HTML."""

    permission_classes = []
    throttle_classes = []
    schema = None

    def http_method_not_allowed(self, request, *args, **kwargs):
        return refusal("No such endpoint: see /api/v1/docs/.", status.HTTP_404_NOT_FOUND)


def _bound(form_class, data):
    form = form_class(data)
    if not form.is_valid():
        raise forms.errors_of(form)
    return form.cleaned_data


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _project(request, project_id: int, *, write: bool = False) -> Project:
    """The project as the user may see it (404 otherwise); with write, as they may change it (403)."""
    project = get_project_for(request.user, project_id)
    if write:
        check_can_edit(project)
    return project


def _counts(project: Project):
    """The project's counts row, bootstrapped (one GROUP BY) when it is missing, as the pages do."""
    agg = getattr(project, "status_aggregation", None)
    return agg if agg is not None else get_or_create_project_aggregation(project)


NOT_A_MEMBER = {"assignee_id": "Pick a member of this workspace (or nobody)."}


def _member(project: Project, user_id: int | None):
    """A new card's assignee: a member of the workspace, or None for nobody."""
    if user_id is None:
        return None
    user = board_queries.member(project, user_id)
    if user is None:
        raise ValidationError(NOT_A_MEMBER)
    return user


def _assignee(project: Project, card_id: int, user_id: int | None):
    """An edit's assignee: a member, nobody, or the card's current assignee kept although they have
    left the workspace (the pages' rule, boards.forms.AssigneeMixin)."""
    if user_id is None:
        return None
    user = board_queries.member(project, user_id)
    if user is not None:
        return user
    current = queries.card(project, card_id)
    if current is not None and current.assignee_id == user_id:
        return user_id
    raise ValidationError(NOT_A_MEMBER)


# -- workspaces ---------------------------------------------------------------------------------


class Workspaces(ApiView):
    @extend_schema(summary="Your workspaces", responses={200: s.WorkspaceOut(many=True), **ERRORS}, tags=["workspaces"])
    def get(self, request):
        return Response(
            [
                {"id": m.application_id, "name": m.application.name, "role": m.role}
                for m in board_queries.workspaces_of(request.user)
            ]
        )


class Workspace(ApiView):
    @extend_schema(summary="A workspace", responses={200: s.WorkspaceOut, **ERRORS}, tags=["workspaces"])
    def get(self, request, workspace_id: int):
        membership = get_workspace_for(request.user, workspace_id)
        return Response({"id": membership.application_id, "name": membership.application.name, "role": membership.role})


class WorkspaceProjects(ApiView):
    @extend_schema(
        summary="A workspace's projects (archived ones too)",
        responses={200: s.ProjectOut(many=True), **ERRORS},
        tags=["workspaces"],
    )
    def get(self, request, workspace_id: int):
        membership = get_workspace_for(request.user, workspace_id)
        live, archived = board_queries.workspace_projects(membership.application_id)
        return Response([queries.project_json(p, _counts(p)) for p in [*live, *archived]])


class WorkspaceMembers(ApiView):
    @extend_schema(
        summary="A workspace's members", responses={200: s.MemberOut(many=True), **ERRORS}, tags=["workspaces"]
    )
    def get(self, request, workspace_id: int):
        membership = get_workspace_for(request.user, workspace_id)
        return Response(queries.members_json(membership.application_id))


# -- projects, columns, counts, events ----------------------------------------------------------


class ProjectDetail(ApiView):
    @extend_schema(summary="A project, with its counts", responses={200: s.ProjectOut, **ERRORS}, tags=["projects"])
    def get(self, request, project_id: int):
        project = _project(request, project_id)
        return Response(queries.project_json(project, _counts(project)))


class ProjectCounts(ApiView):
    @extend_schema(
        summary="A project's live card counts per category, and its derived status",
        responses={200: s.CountsOut, **ERRORS},
        tags=["projects"],
    )
    def get(self, request, project_id: int):
        project = _project(request, project_id)
        return Response(queries.counts_json(project, _counts(project)))


class Columns(ApiView):
    @extend_schema(
        summary="A project's columns, left to right",
        responses={200: s.ColumnOut(many=True), **ERRORS},
        tags=["projects"],
    )
    def get(self, request, project_id: int):
        project = _project(request, project_id)
        _counts(project)
        columns = board_queries.columns_of(project)
        board_queries.annotate_counts(project, columns, BoardFilter(), read=columns)
        return Response([queries.column_json(column) for column in columns])


class Events(ApiView):
    @extend_schema(
        summary="A project's events after a sequence number, in order",
        description="The history log: sequence numbers are gapless per project. "
        "Read on from `next_since` while `has_more`.",
        parameters=[
            OpenApiParameter("since", OpenApiTypes.INT, description="The last sequence number you have (default 0)."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"1 to {queries.PAGE_MAX} (default {queries.PAGE_MAX})."
            ),
        ],
        responses={200: s.EventPageOut, **ERRORS},
        tags=["projects"],
    )
    def get(self, request, project_id: int):
        project = _project(request, project_id)
        params = _bound(forms.EventsForm, request.query_params)
        since, limit = params["since"] or 0, params["limit"] or queries.PAGE_MAX
        events = queries.events_page(project, since=since, limit=limit)
        has_more = len(events) > limit
        events = events[:limit]
        return Response(
            {
                "results": [queries.event_json(event) for event in events],
                "next_since": events[-1].seq if events else since,
                "has_more": has_more,
            }
        )


# -- labels -------------------------------------------------------------------------------------


class Labels(ApiView):
    @extend_schema(
        summary="A project's labels, by name", responses={200: s.LabelOut(many=True), **ERRORS}, tags=["labels"]
    )
    def get(self, request, project_id: int):
        project = _project(request, project_id)
        labels = sorted(board_queries.labels_of(project).values(), key=lambda label: (label.name.lower(), label.pk))
        return Response([queries.label_json(label) for label in labels])

    @extend_schema(
        summary="Add a label", request=s.LabelIn, responses={201: s.LabelOut, **WRITE_ERRORS}, tags=["labels"]
    )
    def post(self, request, project_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.LabelIn, request.data)
        label = services.create_label(project=project, name=data["name"], colour=data["colour"])
        return Response(queries.label_json(label), status=status.HTTP_201_CREATED)


class LabelDetail(ApiView):
    def _label(self, project, label_id):
        label = board_queries.label_of(project, label_id)
        if label is None:
            return None, refusal("This label no longer exists: someone deleted it.", status.HTTP_404_NOT_FOUND)
        return label, None

    @extend_schema(
        summary="Rename or recolour a label",
        request=s.LabelPatchIn,
        responses={200: s.LabelOut, **WRITE_ERRORS},
        tags=["labels"],
    )
    def patch(self, request, project_id: int, label_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.LabelPatchIn, request.data)
        label, refused = self._label(project, label_id)
        if refused:
            return refused
        label = services.update_label(
            project=project,
            label_id=label.pk,
            name=data.get("name", label.name),
            colour=data.get("colour", label.colour),
        )
        return Response(queries.label_json(label))

    @extend_schema(
        summary="Delete a label (taken off every card)", responses={204: None, **WRITE_ERRORS}, tags=["labels"]
    )
    def delete(self, request, project_id: int, label_id: int):
        project = _project(request, project_id, write=True)
        label, refused = self._label(project, label_id)
        if refused:
            return refused
        services.delete_label(project=project, label_id=label.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- cards --------------------------------------------------------------------------------------


def _conflict(project: Project, task_id: int, error: services.StaleVersion) -> Response:
    """409 with the card as it is now: the client merges and sends again with its version."""
    current = queries.card(project, task_id)
    if current is None:
        return refusal(services.GONE, status.HTTP_404_NOT_FOUND)
    return refusal(str(error), status.HTTP_409_CONFLICT, card=queries.card_json(project, current))


class Cards(ApiView):
    @extend_schema(
        summary="A project's cards, by id",
        operation_id="projects_cards_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("archived", OpenApiTypes.BOOL, description="true: archived only; false: live only."),
            OpenApiParameter("column", OpenApiTypes.INT, description="Only this column's cards."),
        ],
        responses={200: s.CardPageOut, **ERRORS},
        tags=["cards"],
    )
    def get(self, request, project_id: int):
        project = _project(request, project_id)
        params = _bound(forms.CardListForm, request.query_params)
        limit = params["limit"] or queries.PAGE_DEFAULT
        cards = queries.cards_page(
            project, after=params["after"] or 0, limit=limit, archived=params["archived"], column_id=params["column"]
        )
        page = cards[:limit]
        return Response(
            {
                "results": [queries.card_json(project, task) for task in page],
                "next_after": page[-1].pk if len(cards) > limit else None,
            }
        )

    @extend_schema(
        summary="Add a card", request=s.CardCreateIn, responses={201: s.CardOut, **WRITE_ERRORS}, tags=["cards"]
    )
    def post(self, request, project_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.CardCreateIn, request.data)
        task = services.create_task(
            project=project,
            status_id=data["column_id"],
            title=data["title"],
            description=data["description"],
            assignee=_member(project, data["assignee_id"]),
            reporter=request.user,
            at_top=data["position"] == "top",
            actor=request.user,
            **_planning(data),
        )
        return Response(queries.card_json(project, task), status=status.HTTP_201_CREATED)


def _planning(data: dict) -> dict:
    """The labels and planning fields given (s.CardPlanningIn), as the card services take them."""
    changes = {field: data[field] for field in ("priority", "due_date", "due_at") if field in data}
    if "labels" in data:
        changes["label_ids"] = data["labels"]
    return changes


class CardDetail(ApiView):
    @extend_schema(summary="A card", responses={200: s.CardOut, **ERRORS}, tags=["cards"])
    def get(self, request, project_id: int, card_id: int):
        project = _project(request, project_id)
        task = queries.card(project, card_id)
        if task is None:
            return refusal("No such card.", status.HTTP_404_NOT_FOUND)
        return Response(queries.card_json(project, task))

    @extend_schema(
        summary="Edit a card",
        description="Fields left out stay as they are. `version` is the card's as you read it: "
        "when someone changed the card since, 409 with the card as it is now.",
        request=s.CardUpdateIn,
        responses={200: s.CardOut, 409: s.ConflictOut, **ERRORS},
        tags=["cards"],
    )
    def patch(self, request, project_id: int, card_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.CardUpdateIn, request.data)
        changes = _planning(data)
        if "assignee_id" in data:
            changes["assignee"] = _assignee(project, card_id, data["assignee_id"])
        try:
            task = services.update_task(
                project=project,
                task_id=card_id,
                version=data["version"],
                title=data.get("title"),
                description=data.get("description"),
                actor=request.user,
                **changes,
            )
        except services.StaleVersion as error:
            return _conflict(project, card_id, error)
        return Response(queries.card_json(project, task))

    @extend_schema(summary="Delete a card for good", responses={204: None, **WRITE_ERRORS}, tags=["cards"])
    def delete(self, request, project_id: int, card_id: int):
        project = _project(request, project_id, write=True)
        services.delete_task(project=project, task_id=card_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CardMove(ApiView):
    @extend_schema(
        summary="Move a card to a column and a rank",
        description="As the board's drag: below `after_id` or above `before_id` (a card of the target "
        "column), or `position` top or bottom; none of them: the bottom. A neighbour that left the "
        "column meanwhile also means the bottom.",
        request=s.CardMoveIn,
        responses={200: s.MovedCardOut, 409: s.ConflictOut, **ERRORS},
        tags=["cards"],
    )
    def post(self, request, project_id: int, card_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.CardMoveIn, request.data)
        before_id = data["before_id"]
        if data["position"] == "top":
            before_id = board_queries.top_card(project, data["column_id"], besides=card_id)
        try:
            task = services.move_task(
                project=project,
                task_id=card_id,
                status_id=data["column_id"],
                after_id=data["after_id"],
                before_id=before_id,
                version=data["version"],
                actor=request.user,
            )
        except services.StaleVersion as error:
            return _conflict(project, card_id, error)
        return Response({**queries.card_json(project, task), "previous_id": task.previous_id})


class CardArchive(ApiView):
    @extend_schema(summary="Archive a card", request=None, responses={200: s.CardOut, **WRITE_ERRORS}, tags=["cards"])
    def post(self, request, project_id: int, card_id: int):
        project = _project(request, project_id, write=True)
        task = services.archive_task(project=project, task_id=card_id, actor=request.user)
        return Response(queries.card_json(project, task))


class CardUnarchive(ApiView):
    @extend_schema(
        summary="Put an archived card back where it was",
        request=None,
        responses={200: s.CardOut, **WRITE_ERRORS},
        tags=["cards"],
    )
    def post(self, request, project_id: int, card_id: int):
        project = _project(request, project_id, write=True)
        task = services.unarchive_task(project=project, task_id=card_id, actor=request.user)
        return Response(queries.card_json(project, task))


# -- comments -----------------------------------------------------------------------------------


class Comments(ApiView):
    @extend_schema(
        summary="A card's comments, oldest first",
        parameters=PAGE_PARAMETERS,
        responses={200: s.CommentPageOut, **ERRORS},
        tags=["comments"],
    )
    def get(self, request, project_id: int, card_id: int):
        project = _project(request, project_id)
        params = _bound(forms.PageForm, request.query_params)
        limit = params["limit"] or queries.PAGE_DEFAULT
        comments = queries.comments_page(project, card_id, after=params["after"] or 0, limit=limit)
        if comments is None:
            return refusal("No such card.", status.HTTP_404_NOT_FOUND)
        page = comments[:limit]
        return Response(
            {
                "results": [queries.comment_json(comment) for comment in page],
                "next_after": page[-1].pk if len(comments) > limit else None,
            }
        )

    @extend_schema(
        summary="Comment on a card",
        request=s.CommentIn,
        responses={201: s.CommentOut, **WRITE_ERRORS},
        tags=["comments"],
    )
    def post(self, request, project_id: int, card_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.CommentIn, request.data)
        comment = services.add_comment(project=project, task_id=card_id, body=data["body"], author=request.user)
        return Response(queries.comment_json(comment), status=status.HTTP_201_CREATED)


class CommentDetail(ApiView):
    @extend_schema(
        summary="Edit your comment",
        request=s.CommentIn,
        responses={200: s.CommentOut, **WRITE_ERRORS},
        tags=["comments"],
    )
    def patch(self, request, project_id: int, card_id: int, comment_id: int):
        project = _project(request, project_id, write=True)
        data = _valid(s.CommentIn, request.data)
        comment = services.edit_comment(
            project=project, task_id=card_id, comment_id=comment_id, body=data["body"], actor=request.user
        )
        return Response(queries.comment_json(comment))

    @extend_schema(
        summary="Delete a comment (yours; owners any)", responses={204: None, **WRITE_ERRORS}, tags=["comments"]
    )
    def delete(self, request, project_id: int, card_id: int, comment_id: int):
        project = _project(request, project_id, write=True)
        services.delete_comment(project=project, task_id=card_id, comment_id=comment_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
