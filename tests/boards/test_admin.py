import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aggregates.models import ProjectTaskStatusAgg
from aggregates.snapshots import take_daily_snapshots
from boards import services
from boards.models import (
    Category,
    Membership,
    Project,
    ProjectDailySnapshot,
    ProjectSequence,
    Task,
    TaskEvent,
    TaskStatus,
    WorkspaceEvent,
)
from tests.factories import ApplicationFactory, MembershipFactory, UserFactory, make_project
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


def grow_to(rows: int) -> None:
    """At least `rows` projects, memberships and tasks (so as many todo columns, counts rows,
    sequences and snapshots, and twice as many events)."""
    application = ApplicationFactory()
    while Project.objects.count() < rows:
        project = make_project(application)
        MembershipFactory(application=application, user=UserFactory())
        column = project.task_statuses.get(category=Category.TODO)
        services.create_task(project=project, status_id=column.pk, title="A card", reporter=None, assignee=None)
        assignee = Membership.objects.order_by("-pk").first().user
        services.create_task(
            project=project, status_id=column.pk, title="Assigned", reporter=assignee, assignee=assignee
        )
    take_daily_snapshots()


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


CHANGELISTS = [
    ("admin:boards_task_changelist", "", 2),  # two cards per project
    ("admin:boards_project_changelist", "", 1),
    ("admin:boards_taskstatus_changelist", "?category__exact=todo", 1),
    ("admin:boards_membership_changelist", "", 1),
    ("admin:aggregates_projecttaskstatusagg_changelist", "", 1),
    ("admin:boards_taskevent_changelist", "", 2),  # one "created" per card
    ("admin:boards_projectsequence_changelist", "", 1),
    ("admin:boards_projectdailysnapshot_changelist", "", 1),
    ("admin:boards_workspaceevent_changelist", "", 1),  # one "project created" per project
]


class TestChangelists:
    @pytest.mark.parametrize(("name", "query", "per_project"), CHANGELISTS)
    def test_query_count_does_not_grow_with_rows(self, admin_client, name, query, per_project):
        url = reverse(name) + query
        grow_to(3)
        admin_client.get(url)  # warm the content-type and permission caches
        few = queries_for(admin_client, url)
        grow_to(30)
        many = queries_for(admin_client, url)
        assert admin_client.get(url).context["cl"].result_count >= 30 * per_project
        assert few == many

    @pytest.mark.parametrize(
        ("name", "query"),
        [
            ("admin:boards_task_changelist", "?q=card"),
            ("admin:boards_task_changelist", "?task_status__category=done&archived_at__isempty=1"),
            ("admin:boards_task_changelist", "?assignee__id__exact={user}"),
            ("admin:boards_task_changelist", "?project__id__exact={project}&task_status={column}"),
            ("admin:boards_task_changelist", "?task_status=notanumber"),
            ("admin:boards_project_changelist", "?q=P&application__id__exact={application}"),
            ("admin:boards_taskstatus_changelist", "?q=Todo&project__id__exact={project}"),
            ("admin:boards_membership_changelist", "?q=user&role__exact=editor"),
            ("admin:boards_application_changelist", "?q=Workspace"),
            ("admin:aggregates_projecttaskstatusagg_changelist", "?q=P"),
        ],
    )
    def test_search_and_filters_answer(self, admin_client, name, query):
        grow_to(3)
        project = Project.objects.first()
        values = {
            "user": Membership.objects.first().user_id,
            "project": project.pk,
            "column": project.task_statuses.first().pk,
            "application": project.application_id,
        }
        response = admin_client.get(reverse(name) + query.format(**values))
        assert response.status_code == 200  # an unknown lookup would redirect to ?e=1

    def test_status_filter_narrows_to_one_column(self, admin_client, project, columns, owner):
        services.create_task(project=project, status_id=columns["todo"].pk, title="Stays", reporter=owner)
        services.create_task(project=project, status_id=columns["done"].pk, title="Finished", reporter=owner)
        url = (
            reverse("admin:boards_task_changelist")
            + f"?project__id__exact={project.pk}&task_status={columns['done'].pk}"
        )
        response = admin_client.get(url)
        assert [task.title for task in response.context["cl"].result_list] == ["Finished"]
        assert f"{project.key} · Done" in response.content.decode()


def task_form(project, column, **overrides) -> dict:
    data = {
        "project": project.pk,
        "task_status": column.pk,
        "title": "From the admin",
        "description": "",
        "assignee": "",
        "reporter": "",
        "position": "0",
        "archived_at_0": "",
        "archived_at_1": "",
    }
    data.update(overrides)
    return data


class TestTaskAdmin:
    def test_add_goes_through_save_and_keeps_counts(self, admin_client, project, columns):
        response = admin_client.post(reverse("admin:boards_task_add"), task_form(project, columns["review"]))
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert ProjectTaskStatusAgg.objects.get(pk=project.pk).review_tasks == 1
        assert_counts_exact(project)

    def test_change_moves_and_archives_with_exact_counts(self, admin_client, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Move me", reporter=owner)
        url = reverse("admin:boards_task_change", args=[task.pk])
        response = admin_client.post(url, task_form(project, columns["done"], title="Move me"))
        assert response.status_code == 302
        task.refresh_from_db()
        # A move is not a text edit: an editor open elsewhere can still save.
        assert (task.task_status_id, task.version) == (columns["done"].pk, 1)
        assert_counts_exact(project)
        archived = task_form(
            project, columns["done"], title="Move me", archived_at_0="2026-01-02", archived_at_1="10:00"
        )
        assert admin_client.post(url, archived).status_code == 302
        assert ProjectTaskStatusAgg.objects.get(pk=project.pk).total_tasks == 0
        assert_counts_exact(project)

    def test_cross_project_status_is_a_form_error(self, admin_client, application, project, columns, owner):
        other = make_project(application, name="Other", key="OTH")
        foreign = other.task_statuses.get(category=Category.DONE)
        response = admin_client.post(reverse("admin:boards_task_add"), task_form(project, foreign))
        assert response.status_code == 200
        assert response.context["adminform"].form.errors == {"task_status": ["This column belongs to another project."]}
        assert not Task.objects.exists()

        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Stay", reporter=owner)
        response = admin_client.post(reverse("admin:boards_task_change", args=[task.pk]), task_form(project, foreign))
        assert response.status_code == 200
        assert "This column belongs to another project." in response.content.decode()
        task.refresh_from_db()
        assert task.task_status_id == columns["todo"].pk
        assert_counts_exact(project, other)

    def test_a_card_stays_in_its_project(self, admin_client, application, project, columns):
        other = make_project(application, name="Other", key="OTH")
        task = services.create_task(project=project, status_id=columns["issue"].pk, title="Staying", reporter=None)
        target = other.task_statuses.get(category=Category.REVIEW)
        response = admin_client.post(
            reverse("admin:boards_task_change", args=[task.pk]), task_form(other, target, title="Staying")
        )
        assert response.status_code == 200  # the project is read-only: the foreign column is a form error
        task.refresh_from_db()
        assert (task.project_id, task.task_status_id) == (project.pk, columns["issue"].pk)
        assert_counts_exact(project, other)

    def test_changes_are_logged_like_board_changes(self, admin_client, project, columns, owner):
        response = admin_client.post(
            reverse("admin:boards_task_add"), task_form(project, columns["todo"], title="Logged")
        )
        assert response.status_code == 302
        task = Task.objects.get(title="Logged")
        url = reverse("admin:boards_task_change", args=[task.pk])
        assert admin_client.post(url, task_form(project, columns["active"], title="Logged again")).status_code == 302
        kinds = list(TaskEvent.objects.filter(project=project).order_by("seq").values_list("kind", "seq"))
        assert [kind for kind, _ in kinds] == ["created", "edited", "moved"]
        assert [seq for _, seq in kinds] == [1, 2, 3]
        task.refresh_from_db()
        assert (task.title, task.version) == ("Logged again", 2)
        admin_client.post(reverse("admin:boards_task_delete", args=[task.pk]), {"post": "yes"})
        assert TaskEvent.objects.filter(project=project).order_by("-seq").values_list("kind", flat=True)[0] == "deleted"
        assert_counts_exact(project)

    def test_a_refused_move_saves_nothing_and_says_why(self, admin_client, project, columns, owner):
        full = columns["active"]
        full.wip_limit, full.wip_hard = 1, True
        full.save()
        services.create_task(project=project, status_id=full.pk, title="Fills it", reporter=owner)
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Waiting", reporter=owner)
        url = reverse("admin:boards_task_change", args=[task.pk])
        response = admin_client.post(url, task_form(project, full, title="Renamed too"), follow=True)
        assert "Nothing was saved" in response.content.decode()
        assert "is full" in response.content.decode()
        task.refresh_from_db()
        assert (task.title, task.task_status_id) == ("Waiting", columns["todo"].pk)
        assert_counts_exact(project)

    def test_delete_view_and_bulk_delete_keep_counts(self, admin_client, project, columns, owner):
        tasks = [
            services.create_task(project=project, status_id=columns["active"].pk, title=f"T{n}", reporter=owner)
            for n in range(3)
        ]
        response = admin_client.post(reverse("admin:boards_task_delete", args=[tasks[0].pk]), {"post": "yes"})
        assert response.status_code == 302
        assert_counts_exact(project)
        response = admin_client.post(
            reverse("admin:boards_task_changelist"),
            {"action": "delete_selected", "_selected_action": [t.pk for t in tasks[1:]], "post": "yes"},
        )
        assert response.status_code == 302
        assert not Task.objects.exists()
        assert ProjectTaskStatusAgg.objects.get(pk=project.pk).total_tasks == 0
        assert_counts_exact(project)

    def test_archive_action_keeps_counts(self, admin_client, project, columns, owner):
        tasks = [
            services.create_task(project=project, status_id=columns["issue"].pk, title=f"T{n}", reporter=owner)
            for n in range(3)
        ]
        response = admin_client.post(
            reverse("admin:boards_task_changelist"),
            {"action": "archive_selected", "_selected_action": [t.pk for t in tasks[:2]]},
        )
        assert response.status_code == 302
        assert ProjectTaskStatusAgg.objects.get(pk=project.pk).issue_tasks == 1
        assert_counts_exact(project)


class TestTaskStatusAdmin:
    @pytest.fixture
    def held(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Held", reporter=owner)
        services.create_task(project=project, status_id=columns["todo"].pk, title="Archived", reporter=owner)
        services.archive_task(project=project, task_id=task.pk)
        return columns["todo"]

    def test_delete_view_refuses_a_column_with_cards(self, admin_client, held):
        url = reverse("admin:boards_taskstatus_delete", args=[held.pk])
        for response in (admin_client.get(url), admin_client.post(url, {"post": "yes"})):
            assert response.status_code == 200
            page = response.content.decode()
            assert "Cannot delete task status" in page
            assert "The column “Todo” still holds 2 card(s), archived ones included." in page
        assert TaskStatus.objects.filter(pk=held.pk).exists()

    def test_bulk_delete_refuses_and_deletes_nothing(self, admin_client, project, columns, held):
        selected = [held.pk, columns["review"].pk]
        changelist = reverse("admin:boards_taskstatus_changelist")
        for data in ({"action": "delete_selected"}, {"action": "delete_selected", "post": "yes"}):
            response = admin_client.post(changelist, {**data, "_selected_action": selected})
            assert response.status_code == 200
            assert "still holds 2 card(s)" in response.content.decode()
        assert TaskStatus.objects.filter(pk__in=selected).count() == 2
        assert_counts_exact(project)

    def test_empty_column_is_deleted(self, admin_client, project, columns, held):
        response = admin_client.post(
            reverse("admin:boards_taskstatus_delete", args=[columns["review"].pk]), {"post": "yes"}
        )
        assert response.status_code == 302
        assert not TaskStatus.objects.filter(pk=columns["review"].pk).exists()
        assert_counts_exact(project)

    def test_category_change_moves_the_counts(self, admin_client, project, columns, owner):
        services.create_task(project=project, status_id=columns["active"].pk, title="Going", reporter=owner)
        column = columns["active"]
        data = {"name": column.name, "category": "done", "position": column.position, "wip_limit": ""}
        response = admin_client.post(reverse("admin:boards_taskstatus_change", args=[column.pk]), data)
        assert response.status_code == 302
        row = ProjectTaskStatusAgg.objects.get(pk=project.pk)
        assert (row.active_tasks, row.done_tasks) == (0, 1)
        assert_counts_exact(project)


class TestProjectAndAggregatesAdmin:
    def test_project_added_in_the_admin_gets_columns_and_counts(self, admin_client, application):
        response = admin_client.post(
            reverse("admin:boards_project_add"), {"application": application.pk, "name": "Admin made", "key": "ADM"}
        )
        assert response.status_code == 302
        project = Project.objects.get(key="ADM")
        assert project.task_statuses.count() == 5
        assert_counts_exact(project)

    def test_project_with_history_is_deleted_in_the_admin(self, admin_client, project, columns, owner):
        """Events, sequence, snapshots and counts are read-only on their own pages, yet go with their project."""
        services.create_task(project=project, status_id=columns["todo"].pk, title="Logged", reporter=owner)
        take_daily_snapshots()
        url = reverse("admin:boards_project_delete", args=[project.pk])
        page = admin_client.get(url)
        assert page.status_code == 200
        assert not page.context["perms_lacking"] and not page.context["protected"]
        assert admin_client.post(url, {"post": "yes"}).status_code == 302
        assert not Project.objects.filter(pk=project.pk).exists()
        assert not TaskEvent.objects.exists()
        assert not ProjectDailySnapshot.objects.exists()

    @pytest.mark.parametrize("model", [TaskEvent, ProjectSequence, ProjectDailySnapshot])
    def test_history_rows_are_read_only(self, admin_client, project, columns, owner, model):
        services.create_task(project=project, status_id=columns["todo"].pk, title="Logged", reporter=owner)
        take_daily_snapshots()
        row = model.objects.get()
        name = model._meta.model_name
        change = reverse(f"admin:boards_{name}_change", args=[row.pk])
        assert admin_client.get(change).status_code == 200
        assert admin_client.post(change, {}).status_code == 403
        assert admin_client.get(reverse(f"admin:boards_{name}_add")).status_code == 403
        delete = reverse(f"admin:boards_{name}_delete", args=[row.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert model.objects.filter(pk=row.pk).exists()

    def test_aggregates_are_read_only(self, admin_client, project):
        change = reverse("admin:aggregates_projecttaskstatusagg_change", args=[project.pk])
        response = admin_client.get(change)
        assert response.status_code == 200
        assert not response.context["has_change_permission"]
        assert admin_client.post(change, {"total_tasks": 5, "todo_tasks": 5}).status_code == 403
        assert admin_client.get(reverse("admin:aggregates_projecttaskstatusagg_add")).status_code == 403
        delete = reverse("admin:aggregates_projecttaskstatusagg_delete", args=[project.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert_counts_exact(project)


class TestWorkspaceHistoryAdmin:
    def test_workspace_events_are_listed_and_read_only(self, admin_client, application, owner):
        services.rename_workspace(application=application, name="Renamed <i>here</i>", actor=owner)
        event = WorkspaceEvent.objects.get()
        listing = admin_client.get(reverse("admin:boards_workspaceevent_changelist"))
        assert listing.status_code == 200
        assert "Renamed &lt;i&gt;here&lt;/i&gt;" in listing.content.decode()
        change = reverse("admin:boards_workspaceevent_change", args=[event.pk])
        assert admin_client.get(change).status_code == 200
        assert admin_client.post(change, {"kind": "member_left"}).status_code == 403
        assert admin_client.get(reverse("admin:boards_workspaceevent_add")).status_code == 403
        delete = reverse("admin:boards_workspaceevent_delete", args=[event.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert WorkspaceEvent.objects.filter(pk=event.pk, kind="workspace_renamed").exists()

    def test_admin_adds_renames_and_deletes_through_the_services(self, admin_client, application):
        response = admin_client.post(
            reverse("admin:boards_project_add"), {"application": application.pk, "name": "Made", "key": "mad"}
        )
        assert response.status_code == 302
        made = Project.objects.get(key="MAD")
        change = reverse("admin:boards_project_change", args=[made.pk])
        assert admin_client.post(change, {"name": "Made again", "key": "MAD"}).status_code == 302
        made.refresh_from_db()
        assert made.name == "Made again"
        delete = reverse("admin:boards_project_delete", args=[made.pk])
        page = admin_client.get(delete)
        assert "0 card(s)" in page.content.decode()
        assert admin_client.post(delete, {"post": "yes"}).status_code == 302
        assert not Project.objects.filter(pk=made.pk).exists()
        kinds = list(WorkspaceEvent.objects.order_by("pk").values_list("kind", flat=True))
        assert kinds == ["project_created", "project_renamed", "project_deleted"]

    def test_a_workspace_deleted_in_the_admin_is_recorded(self, admin_client, application, project, columns, owner):
        services.create_task(project=project, status_id=columns["todo"].pk, title="Gone too", reporter=owner)
        delete = reverse("admin:boards_application_delete", args=[application.pk])
        page = admin_client.get(delete)
        assert page.status_code == 200 and "1 card(s)" in page.content.decode()
        assert admin_client.post(delete, {"post": "yes"}).status_code == 302
        assert not Project.objects.filter(pk=project.pk).exists()
        assert not ProjectTaskStatusAgg.objects.exists()
        event = WorkspaceEvent.objects.get(kind="workspace_deleted")
        assert (event.application, event.data) == (None, {"projects": 1, "cards": 1})

    def test_a_project_cannot_change_workspace_in_the_admin(self, admin_client, project, outsider):
        elsewhere = outsider.memberships.get().application
        change = reverse("admin:boards_project_change", args=[project.pk])
        admin_client.post(change, {"name": project.name, "key": project.key, "application": elsewhere.pk})
        project.refresh_from_db()
        assert project.application_id != elsewhere.pk


class TestInvitationAdmin:
    def test_the_token_hash_is_read_only_and_the_list_answers(self, admin_client, application, owner):
        invitation, token = services.create_invitation(
            application=application,
            actor=owner,
            role="editor",
            days=7,
            multi_use=False,
            link_for=lambda token: token,
        )
        listing = admin_client.get(reverse("admin:boards_invitation_changelist"))
        assert listing.status_code == 200 and application.name in listing.content.decode()
        page = admin_client.get(reverse("admin:boards_invitation_change", args=[invitation.pk])).content.decode()
        assert invitation.token_hash in page and token not in page
        assert 'name="token_hash"' not in page  # shown, not editable
        assert admin_client.get(reverse("admin:boards_invitation_add")).status_code == 403
