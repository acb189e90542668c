"""services.invitations: hashed tokens, e-mail on commit, revoking, accepting (once per use)."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from accounts.forms import SignUpForm
from boards import services
from boards.models import Invitation, Membership, WorkspaceEvent
from boards.queries import ReadOnly
from boards.services import invitations
from tests.factories import MembershipFactory, UserFactory
from tests.support.races import run_together, widen_the_race

EDITOR, VIEWER = Membership.Role.EDITOR, Membership.Role.VIEWER


def link_for(token):
    return f"http://testserver/invitations/{token}/"


def invite(application, owner, *, role=EDITOR, days=7, multi_use=False, email=""):
    return services.create_invitation(
        application=application, actor=owner, role=role, days=days, multi_use=multi_use, email=email, link_for=link_for
    )


def signup_form(username="newcomer", email="new@example.com"):
    form = SignUpForm(
        {"username": username, "email": email, "password1": "a-long-pass-42", "password2": "a-long-pass-42"}
    )
    assert form.is_valid(), form.errors
    return form


@pytest.mark.django_db
class TestCreate:
    def test_only_the_hash_of_an_unguessable_token_is_stored(self, application, owner):
        invitation, token = invite(application, owner)
        assert len(token) >= 43  # 32 random bytes
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
        assert (invitation.max_uses, invitation.role) == (1, EDITOR)
        assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
        assert WorkspaceEvent.objects.get(kind=WorkspaceEvent.Kind.INVITATION_CREATED).data["role"] == "editor"

    def test_multi_use_has_no_limit(self, application, owner):
        invitation, _ = invite(application, owner, multi_use=True, days=30)
        assert invitation.max_uses is None

    def test_an_email_invitation_is_mailed_on_commit_with_its_link(
        self, application, owner, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            _, token = invite(application, owner, email="ada@example.com")
        assert len(mailoutbox) == 1
        assert mailoutbox[0].to == ["ada@example.com"]
        assert link_for(token) in mailoutbox[0].body
        assert application.name in mailoutbox[0].subject

    def test_a_rolled_back_invitation_sends_nothing(self, application, owner, mailoutbox):
        with pytest.raises(RuntimeError), transaction.atomic():
            invite(application, owner, email="ada@example.com")
            raise RuntimeError
        assert mailoutbox == []
        assert not Invitation.objects.exists()

    @pytest.mark.parametrize(("field", "value"), [("role", "admin"), ("days", 2)])
    def test_bad_input_is_refused(self, application, owner, field, value):
        with pytest.raises(ValidationError):
            invite(application, owner, **{field: value})

    def test_only_owners_invite(self, application, editor):
        with pytest.raises(ReadOnly):
            invite(application, editor)


@pytest.mark.django_db
class TestAccept:
    def test_a_user_joins_with_the_invitations_role_and_uses_it_up(self, application, owner, user):
        invitation, token = invite(application, owner, role=VIEWER)
        joined = services.accept_invitation(token=token, user=user)
        assert joined.joined and joined.membership.role == VIEWER
        invitation.refresh_from_db()
        assert invitation.use_count == 1
        assert WorkspaceEvent.objects.get(kind=WorkspaceEvent.Kind.MEMBER_JOINED).subject_user == user
        with pytest.raises(services.InvitationClosed) as closed:
            services.accept_invitation(token=token, user=UserFactory())
        assert closed.value.reason == "used"

    def test_a_member_keeps_their_role_and_uses_nothing(self, application, owner, viewer):
        invitation, token = invite(application, owner, role=EDITOR)
        joined = services.accept_invitation(token=token, user=viewer)
        assert not joined.joined and joined.membership.role == VIEWER
        invitation.refresh_from_db()
        assert invitation.use_count == 0

    def test_a_multi_use_link_takes_many(self, application, owner):
        invitation, token = invite(application, owner, multi_use=True)
        for _ in range(3):
            services.accept_invitation(token=token, user=UserFactory())
        invitation.refresh_from_db()
        assert invitation.use_count == 3

    def test_expired_and_revoked_links_are_closed(self, application, owner, user):
        expired, expired_token = invite(application, owner)
        Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        revoked, revoked_token = invite(application, owner)
        services.revoke_invitation(application=application, actor=owner, invitation_id=revoked.pk)
        for token, reason in ((expired_token, "expired"), (revoked_token, "revoked")):
            with pytest.raises(services.InvitationClosed) as closed:
                services.accept_invitation(token=token, user=user)
            assert closed.value.reason == reason
        assert not Membership.objects.filter(user=user).exists()

    def test_an_unknown_token_is_not_found(self, user):
        with pytest.raises(Invitation.DoesNotExist):
            services.accept_invitation(token="x" * 43, user=user)

    def test_revoking_another_workspaces_invitation_is_not_found(self, application, owner, outsider):
        theirs = MembershipFactory(user=outsider, role=Membership.Role.OWNER).application
        invitation, _ = invite(theirs, outsider)
        with pytest.raises(Invitation.DoesNotExist):
            services.revoke_invitation(application=application, actor=owner, invitation_id=invitation.pk)
        invitation.refresh_from_db()
        assert invitation.revoked_at is None


@pytest.mark.django_db
class TestSignUp:
    def test_sign_up_creates_the_account_and_joins(self, application, owner):
        _, token = invite(application, owner)
        user, joined = services.sign_up_and_accept(token=token, create_user=signup_form().save)
        assert user.username == "newcomer" and user.check_password("a-long-pass-42")
        assert joined.membership.role == EDITOR

    def test_a_closed_invitation_creates_no_account(self, application, owner):
        invitation, token = invite(application, owner)
        services.revoke_invitation(application=application, actor=owner, invitation_id=invitation.pk)
        with pytest.raises(services.InvitationClosed):
            services.sign_up_and_accept(token=token, create_user=signup_form().save)
        assert not Membership.objects.filter(user__username="newcomer").exists()
        assert not get_user_model().objects.filter(username="newcomer").exists()

    @override_settings(SIGNUP_MODE="closed")
    def test_closed_sign_up_is_refused(self, application, owner):
        _, token = invite(application, owner)
        with pytest.raises(ReadOnly):
            services.sign_up_and_accept(token=token, create_user=signup_form().save)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_pool")
def test_two_people_on_one_single_use_link_make_one_member(application, owner, monkeypatch):
    widen_the_race(monkeypatch, invitations, "lock_invitation")
    invitation, token = invite(application, owner)
    ann, bea = UserFactory(), UserFactory()
    results = run_together(
        lambda: services.accept_invitation(token=token, user=ann),
        lambda: services.accept_invitation(token=token, user=bea),
    )
    assert Membership.objects.filter(application=application, user__in=[ann, bea]).count() == 1
    assert sum(isinstance(result, services.InvitationClosed) for result in results) == 1
    invitation.refresh_from_db()
    assert invitation.use_count == 1
