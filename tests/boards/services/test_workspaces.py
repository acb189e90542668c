"""Workspace and whole-project writes: create, rename, delete, archive, move; each recorded."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aggregates import recalc
from aggregates.models import ProjectTaskStatusAgg
from boards import history, services
from boards.models import (
    Application,
    Membership,
    Project,
    ProjectSequence,
    Task,
    TaskEvent,
    TaskStatus,
    WorkspaceEvent,
)
from boards.queries import Archived, ReadOnly
from tests.boards.conftest import add_tasks
from tests.factories import ApplicationFactory, MembershipFactory, make_project

Kind = WorkspaceEvent.Kind


def kinds(application) -> list[str]:
    return list(WorkspaceEvent.objects.filter(application=application).order_by("pk").values_list("kind", flat=True))


def owned_workspace(user, name="Other"):
    return MembershipFactory(user=user, role=Membership.Role.OWNER, application__name=name).application


def project_with_cards(application, key, n, *, archived=1):
    """A project with n live cards spread over two columns, `archived` of them archived, and their history."""
    project = make_project(application, key=key, name=f"Project {key}")
    todo, done = project.task_statuses.order_by("position")[0], project.task_statuses.order_by("position")[4]
    add_tasks(project, todo, n - n // 2)
    add_tasks(project, done, n // 2)
    owner = application.memberships.filter(role="owner").first().user
    task = services.create_task(project=project, status_id=todo.pk, title="Moved one", reporter=owner)
    services.move_task(project=project, task_id=task.pk, status_id=done.pk, actor=owner)
    ids = list(Task.objects.filter(project=project).values_list("pk", flat=True)[:archived])
    services.bulk_archive_tasks(project=project, task_ids=ids)
    return project


def assert_counts_exact():
    ids = list(Project.objects.values_list("pk", flat=True))
    assert recalc.check(ids) == []
    call_command("recalc_aggregates", "--check", stdout=io.StringIO())  # raises on drift


class TestCreateAndRename:
    def test_the_creator_owns_the_new_workspace(self, user):
        application = services.create_workspace(name="  Design   team ", owner=user)
        assert application.name == "Design team"
        assert Membership.objects.get(application=application, user=user).role == Membership.Role.OWNER
        event = WorkspaceEvent.objects.get(application=application)
        assert (event.kind, event.actor, event.application_name) == (Kind.WORKSPACE_CREATED, user, "Design team")

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101, None])
    def test_a_bad_name_is_refused_and_nothing_is_written(self, user, name):
        with pytest.raises(ValidationError) as refused:
            services.create_workspace(name=name, owner=user)
        assert "name" in refused.value.message_dict
        assert not Application.objects.exists()
        assert not WorkspaceEvent.objects.exists()

    def test_the_owner_renames_and_the_old_name_is_recorded(self, application, owner):
        old = application.name
        services.rename_workspace(application=application, name="Renamed", actor=owner)
        application.refresh_from_db()
        assert application.name == "Renamed"
        event = WorkspaceEvent.objects.get(application=application, kind=Kind.WORKSPACE_RENAMED)
        assert event.data == {"old_name": old, "new_name": "Renamed"}

    @pytest.mark.parametrize("role", ["editor", "viewer", "outsider"])
    def test_only_an_owner_renames(self, application, role, editor, viewer, outsider):
        actor = {"editor": editor, "viewer": viewer, "outsider": outsider}[role]
        with pytest.raises(ReadOnly):
            services.rename_workspace(application=application, name="Mine now", actor=actor)
        application.refresh_from_db()
        assert application.name != "Mine now"

    def test_project_create_and_rename_are_recorded(self, application, owner):
        project = services.create_project(application=application, name="Site", key="web", actor=owner)
        services.rename_project(project=project, name="Website", actor=owner)
        assert kinds(application) == [Kind.PROJECT_CREATED, Kind.PROJECT_RENAMED]
        renamed = WorkspaceEvent.objects.get(kind=Kind.PROJECT_RENAMED)
        assert renamed.data == {"old_name": "Site", "new_name": "Website"}
        assert renamed.subject_name == "WEB · Website"


class TestDeleteWorkspace:
    def test_everything_under_it_goes_and_the_record_stays(self, application, owner, editor):
        first = project_with_cards(application, "ONE", 6)
        second = project_with_cards(application, "TWO", 4)
        kept = project_with_cards(owned_workspace(owner), "KEEP", 3)
        name = application.name
        gone = services.delete_workspace(application=application, actor=owner, confirm_name=name)
        assert gone == {"projects": 2, "cards": 6 + 1 + 4 + 1}
        ids = [first.pk, second.pk]
        assert not Application.objects.filter(pk=application.pk).exists()
        assert not Membership.objects.filter(application_id=application.pk).exists()
        assert not Project.objects.filter(pk__in=ids).exists()
        assert not Task.objects.filter(project_id__in=ids).exists()
        assert not TaskStatus.objects.filter(project_id__in=ids).exists()
        assert not TaskEvent.objects.filter(project_id__in=ids).exists()
        assert not ProjectTaskStatusAgg.objects.filter(project_id__in=ids).exists()
        assert not ProjectSequence.objects.filter(project_id__in=ids).exists()
        # The other workspace's project is untouched, and every remaining count is exact.
        assert Task.objects.filter(project=kept).count() == 4
        assert_counts_exact()
        event = WorkspaceEvent.objects.get(kind=Kind.WORKSPACE_DELETED)
        assert event.application is None
        assert (event.application_name, event.actor, event.data) == (name, owner, {"projects": 2, "cards": 12})
        assert editor.pk and Membership.objects.filter(user=editor).count() == 0

    @pytest.mark.parametrize("typed", ["", "wrong", None])
    def test_the_name_must_be_typed(self, application, owner, typed):
        project = project_with_cards(application, "ONE", 2)
        with pytest.raises(ValidationError) as refused:
            services.delete_workspace(application=application, actor=owner, confirm_name=typed)
        assert application.name in refused.value.message_dict["confirm"][0]
        assert Project.objects.filter(pk=project.pk).exists()
        assert not WorkspaceEvent.objects.filter(kind=Kind.WORKSPACE_DELETED).exists()

    @pytest.mark.parametrize("role", ["editor", "viewer", "outsider"])
    def test_only_an_owner_deletes(self, application, role, editor, viewer, outsider):
        actor = {"editor": editor, "viewer": viewer, "outsider": outsider}[role]
        with pytest.raises(ReadOnly):
            services.delete_workspace(application=application, actor=actor, confirm_name=application.name)
        assert Application.objects.filter(pk=application.pk).exists()

    def test_the_cost_does_not_grow_with_the_cards(self, owner):
        """Cards go with one DELETE per workspace, never one statement (or one loaded row) per card."""

        def statements(n_cards):
            application = owned_workspace(owner, name=f"W{n_cards}")
            for key in ("A", "B"):
                project_with_cards(application, f"{key}{n_cards}", n_cards)
            with CaptureQueriesContext(connection) as queries:
                services.delete_workspace(application=application, actor=owner, confirm_name=application.name)
            return len(queries)

        assert statements(4) == statements(400)
        assert_counts_exact()


class TestDeleteProject:
    def test_the_project_goes_with_its_cards_history_and_counts(self, application, owner):
        project = project_with_cards(application, "WEB", 5)
        other = project_with_cards(application, "OPS", 3)
        cards = services.delete_project(project=project, actor=owner)
        assert cards == 6
        assert not Project.objects.filter(pk=project.pk).exists()
        assert not Task.objects.filter(project_id=project.pk).exists()
        assert not TaskEvent.objects.filter(project_id=project.pk).exists()
        assert not ProjectTaskStatusAgg.objects.filter(project_id=project.pk).exists()
        assert Task.objects.filter(project=other).count() == 4
        assert_counts_exact()
        event = WorkspaceEvent.objects.get(kind=Kind.PROJECT_DELETED)
        assert (event.application, event.subject_name, event.data["cards"]) == (application, "WEB · Project WEB", 6)

    @pytest.mark.parametrize("role", ["editor", "viewer", "outsider"])
    def test_only_an_owner_deletes(self, project, role, editor, viewer, outsider):
        actor = {"editor": editor, "viewer": viewer, "outsider": outsider}[role]
        with pytest.raises(ReadOnly):
            services.delete_project(project=project, actor=actor)
        assert Project.objects.filter(pk=project.pk).exists()


class TestArchive:
    def test_an_archived_project_refuses_every_board_write(self, project, columns, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Kept", reporter=owner)
        services.archive_project(project=project, actor=owner)
        project.refresh_from_db()
        assert project.archived_at is not None
        writes = [
            lambda: services.create_task(project=project, status_id=columns["todo"].pk, title="New", reporter=owner),
            lambda: services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk, actor=owner),
            lambda: services.update_task(project=project, task_id=task.pk, version=task.version, title="Changed"),
            lambda: services.archive_task(project=project, task_id=task.pk),
            lambda: services.delete_task(project=project, task_id=task.pk),
            lambda: services.bulk_move_tasks(project=project, task_ids=[task.pk], status_id=columns["done"].pk),
            lambda: services.bulk_archive_tasks(project=project, task_ids=[task.pk]),
            lambda: services.add_column(project=project, name="More", category="todo"),
            lambda: services.update_column(
                project=project, status_id=columns["todo"].pk, name="Later", category="todo"
            ),
            lambda: services.delete_column(project=project, status_id=columns["issue"].pk),
            lambda: services.rename_project(project=project, name="Other", actor=owner),
        ]
        for write in writes:
            with pytest.raises(Archived, match="archived"):
                write()
        task.refresh_from_db()
        assert (task.title, task.task_status_id, task.archived_at) == ("Kept", columns["todo"].pk, None)
        assert Task.objects.filter(project=project).count() == 1
        assert_counts_exact()

    def test_unarchive_makes_it_writable_again_and_both_are_recorded(self, project, columns, owner):
        services.archive_project(project=project, actor=owner)
        services.archive_project(project=project, actor=owner)  # twice: one record
        services.unarchive_project(project=project, actor=owner)
        project.refresh_from_db()
        assert project.archived_at is None
        services.create_task(project=project, status_id=columns["todo"].pk, title="Back", reporter=owner)
        assert kinds(project.application).count(Kind.PROJECT_ARCHIVED) == 1
        assert kinds(project.application)[-1] == Kind.PROJECT_UNARCHIVED

    @pytest.mark.parametrize("role", ["editor", "viewer", "outsider"])
    def test_only_an_owner_archives(self, project, role, editor, viewer, outsider):
        actor = {"editor": editor, "viewer": viewer, "outsider": outsider}[role]
        with pytest.raises(ReadOnly):
            services.archive_project(project=project, actor=actor)
        project.refresh_from_db()
        assert project.archived_at is None


class TestMove:
    def test_counts_history_and_cards_move_along(self, application, owner):
        project = project_with_cards(application, "WEB", 6)
        target = owned_workspace(owner, name="Target")
        counts = ProjectTaskStatusAgg.objects.get(project=project).as_counts()
        seq = history.current_seq(project.pk)
        events = TaskEvent.objects.filter(project=project).count()
        moved = services.move_project(project=project, target=target, actor=owner)
        assert moved.application == target
        project.refresh_from_db()
        assert project.application_id == target.pk
        assert ProjectTaskStatusAgg.objects.get(project=project).as_counts() == counts
        assert history.current_seq(project.pk) == seq
        assert TaskEvent.objects.filter(project=project).count() == events
        assert_counts_exact()
        out = WorkspaceEvent.objects.get(kind=Kind.PROJECT_MOVED_OUT)
        into = WorkspaceEvent.objects.get(kind=Kind.PROJECT_MOVED_IN)
        assert (out.application, out.data["to_id"]) == (application, target.pk)
        assert (into.application, into.data["from_id"]) == (target, application.pk)

    def test_a_taken_key_is_refused_clearly_then_a_new_key_moves_it(self, application, owner):
        project = make_project(application, key="WEB")
        target = owned_workspace(owner, name="Target")
        make_project(target, key="WEB")
        with pytest.raises(ValidationError) as refused:
            services.move_project(project=project, target=target, actor=owner)
        assert "WEB is taken in Target" in refused.value.message_dict["key"][0]
        project.refresh_from_db()
        assert project.application == application
        assert not WorkspaceEvent.objects.filter(kind__startswith="project_moved").exists()
        services.move_project(project=project, target=target, actor=owner, key="web2")
        project.refresh_from_db()
        assert (project.application, project.key) == (target, "WEB2")

    @pytest.mark.parametrize("key", ["W EB", "ВЕБ", "x" * 11])
    def test_a_malformed_new_key_is_refused(self, project, owner, key):
        target = owned_workspace(owner)
        with pytest.raises(ValidationError):
            services.move_project(project=project, target=target, actor=owner, key=key)

    def test_the_actor_must_own_both_workspaces(self, application, project, owner, editor):
        editors_own = owned_workspace(editor)
        with pytest.raises(ReadOnly):
            services.move_project(project=project, target=editors_own, actor=editor)  # editor of the source
        where_owner_edits = MembershipFactory(user=owner, role=Membership.Role.EDITOR).application
        with pytest.raises(ReadOnly):
            services.move_project(project=project, target=where_owner_edits, actor=owner)
        stranger = ApplicationFactory()
        with pytest.raises(ReadOnly):
            services.move_project(project=project, target=stranger, actor=owner)
        project.refresh_from_db()
        assert project.application_id == application.pk

    def test_the_same_workspace_is_refused(self, project, owner):
        with pytest.raises(ValidationError, match="already in that workspace"):
            services.move_project(project=project, target=project.application, actor=owner)


class TestCreateProjectWithColumns:
    def test_the_given_columns_replace_the_default_ones(self, application, owner):
        columns = [("Ideas", "todo"), ("Building", "active"), ("Shipped", "done")]
        project = services.create_project(application=application, name="Imp", key="IMP", actor=owner, columns=columns)
        assert list(project.task_statuses.order_by("position").values_list("name", "category", "position")) == [
            ("Ideas", "todo", 0),
            ("Building", "active", 1),
            ("Shipped", "done", 2),
        ]
        project.refresh_from_db()
        assert project.derived_status.name == "Ideas"  # no cards: todo, its first column
        assert ProjectTaskStatusAgg.objects.get(project=project).total_tasks == 0

    @pytest.mark.parametrize(
        "columns",
        [[("Done", "done"), ("done", "done")], [("", "todo")], [("Later", "someday")]],
    )
    def test_bad_columns_create_nothing(self, application, owner, columns):
        with pytest.raises(ValidationError):
            services.create_project(application=application, name="Imp", key="IMP", actor=owner, columns=columns)
        assert not application.projects.exists()
