"""services.members: roles, removal, leaving, and the last-owner rule under concurrency."""

import pytest
from django.core.exceptions import ValidationError

from boards import services
from boards.models import Membership, WorkspaceEvent
from boards.queries import ReadOnly
from boards.services import members
from tests.factories import MembershipFactory
from tests.support.races import run_together, widen_the_race

OWNER, EDITOR, VIEWER = Membership.Role.OWNER, Membership.Role.EDITOR, Membership.Role.VIEWER


def role(application, user):
    return Membership.objects.filter(application=application, user=user).values_list("role", flat=True).first()


@pytest.mark.django_db
class TestChangeRole:
    def test_an_owner_demotes_an_editor_and_it_is_recorded(self, application, owner, editor):
        services.change_role(application=application, actor=owner, user_id=editor.pk, role=VIEWER)
        assert role(application, editor) == VIEWER
        event = WorkspaceEvent.objects.get(kind=WorkspaceEvent.Kind.ROLE_CHANGED)
        assert (event.actor, event.subject_user, event.data) == (
            owner,
            editor,
            {"old_role": "editor", "new_role": "viewer"},
        )

    def test_the_last_owner_cannot_be_demoted(self, application, owner):
        with pytest.raises(ValidationError, match="at least one owner"):
            services.change_role(application=application, actor=owner, user_id=owner.pk, role=EDITOR)
        assert role(application, owner) == OWNER
        assert not WorkspaceEvent.objects.exists()

    def test_with_two_owners_one_may_step_down(self, application, owner):
        other = MembershipFactory(application=application, role=OWNER).user
        services.change_role(application=application, actor=owner, user_id=owner.pk, role=EDITOR)
        assert role(application, owner) == EDITOR
        assert role(application, other) == OWNER

    @pytest.mark.parametrize("who", ["editor", "viewer"])
    def test_only_owners_change_roles(self, application, owner, editor, viewer, who):
        actor = {"editor": editor, "viewer": viewer}[who]
        with pytest.raises(ReadOnly):
            services.change_role(application=application, actor=actor, user_id=owner.pk, role=VIEWER)
        assert role(application, owner) == OWNER

    def test_a_member_of_another_workspace_is_not_found(self, application, owner, outsider):
        with pytest.raises(services.NotAMember):
            services.change_role(application=application, actor=owner, user_id=outsider.pk, role=VIEWER)

    def test_a_bad_role_is_refused(self, application, owner, editor):
        with pytest.raises(ValidationError):
            services.change_role(application=application, actor=owner, user_id=editor.pk, role="admin")


@pytest.mark.django_db
class TestRemoveAndLeave:
    def test_an_owner_removes_an_editor(self, application, owner, editor):
        services.remove_member(application=application, actor=owner, user_id=editor.pk)
        assert role(application, editor) is None
        event = WorkspaceEvent.objects.get(kind=WorkspaceEvent.Kind.MEMBER_REMOVED)
        assert (event.subject_user, event.subject_name, event.data) == (editor, editor.username, {"role": "editor"})

    def test_an_editor_cannot_remove_anyone(self, application, owner, editor, viewer):
        with pytest.raises(ReadOnly):
            services.remove_member(application=application, actor=editor, user_id=viewer.pk)
        assert role(application, viewer) == VIEWER

    def test_owners_remove_others_not_themselves(self, application, owner):
        with pytest.raises(ValidationError):
            services.remove_member(application=application, actor=owner, user_id=owner.pk)

    def test_a_member_leaves(self, application, owner, viewer):
        services.leave_workspace(application=application, user=viewer)
        assert role(application, viewer) is None
        assert WorkspaceEvent.objects.get(kind=WorkspaceEvent.Kind.MEMBER_LEFT).subject_user == viewer

    def test_the_last_owner_cannot_leave(self, application, owner, editor):
        with pytest.raises(ValidationError, match="last owner"):
            services.leave_workspace(application=application, user=owner)
        assert role(application, owner) == OWNER

    def test_one_of_two_owners_can_leave(self, application, owner):
        MembershipFactory(application=application, role=OWNER)
        services.leave_workspace(application=application, user=owner)
        assert role(application, owner) is None

    def test_a_removed_assignee_stays_on_their_cards(self, application, owner, editor, project, columns):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Theirs", reporter=owner)
        services.update_task(project=project, task_id=task.pk, version=task.version, assignee=editor)
        services.remove_member(application=application, actor=owner, user_id=editor.pk)
        task.refresh_from_db()
        assert task.assignee == editor


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_pool")
class TestLastOwnerUnderConcurrency:
    @pytest.fixture(autouse=True)
    def _race(self, monkeypatch):
        widen_the_race(monkeypatch, members, "lock_owners_and")

    def test_two_owners_demoting_each_other_leave_one_owner(self, application):
        ann = MembershipFactory(application=application, role=OWNER).user
        bea = MembershipFactory(application=application, role=OWNER).user
        results = run_together(
            lambda: services.change_role(application=application, actor=ann, user_id=bea.pk, role=EDITOR),
            lambda: services.change_role(application=application, actor=bea, user_id=ann.pk, role=EDITOR),
        )
        owners = Membership.objects.filter(application=application, role=OWNER).count()
        assert owners == 1
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1
        # The loser was demoted first: it is no owner any more, or the last one.
        assert isinstance(refused[0], ReadOnly | ValidationError)

    def test_two_owners_leaving_at_once_leave_one_owner(self, application):
        ann = MembershipFactory(application=application, role=OWNER).user
        bea = MembershipFactory(application=application, role=OWNER).user
        results = run_together(
            lambda: services.leave_workspace(application=application, user=ann),
            lambda: services.leave_workspace(application=application, user=bea),
        )
        assert Membership.objects.filter(application=application, role=OWNER).count() == 1
        assert sum(isinstance(r, ValidationError) for r in results) == 1
