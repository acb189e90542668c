"""Writes to invitations: create (a link, optionally e-mailed), revoke, accept, sign up and accept.

A token is secrets.token_urlsafe(32) (256 random bits); only its SHA-256 is stored, so the link
is shown once, when it is made, and a copy of the database opens no workspace. Accepting locks the
invitation row (services.locks.lock_invitation) and counts the use under that lock: two people on
one single-use link make one member, and the other is told the link was used.
"""

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import people
from boards.models import Application, Invitation, Membership, WorkspaceEvent
from boards.queries import ReadOnly, invitation_closed
from boards.services import workspace_log
from boards.services.locks import lock_invitation, lock_invitation_of

EXPIRY_DAYS = (1, 7, 30)
OWNERS_ONLY = "Only the workspace's owners can invite people."

CLOSED_MESSAGES = {
    "revoked": "This invitation was revoked by the workspace's owners.",
    "expired": "This invitation has expired.",
    "used": "This invitation has been used already.",
}


class InvitationClosed(Exception):
    """The invitation exists but can no longer be used (revoked, expired, used up): 410."""

    def __init__(self, reason: str, invitation: Invitation):
        super().__init__(CLOSED_MESSAGES[reason])
        self.reason = reason
        self.invitation = invitation


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Joined:
    membership: Membership
    joined: bool  # False: they were a member already, and keep their role


def _owner_only(application: Application, actor) -> None:
    is_owner = Membership.objects.filter(application=application, user_id=actor.pk, role=Membership.Role.OWNER).exists()
    if not is_owner:
        raise ReadOnly(OWNERS_ONLY)


def create_invitation(
    *,
    application: Application,
    actor,
    role: str,
    days: int,
    multi_use: bool,
    email: str = "",
    link_for: Callable[[str], str],
) -> tuple[Invitation, str]:
    """A new invitation and its token (shown once). With `email`, the link is mailed on commit.

    `link_for(token)` is the absolute URL of the invitation page (the view knows the host)."""
    errors = {}
    if role not in Membership.Role.values:
        errors["role"] = "Pick one of: " + ", ".join(Membership.Role.values) + "."
    if days not in EXPIRY_DAYS:
        errors["days"] = "An invitation lasts 1, 7 or 30 days."
    if errors:
        raise ValidationError(errors)
    email = (email or "").strip()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        _owner_only(application, actor)
        invitation = Invitation.objects.create(
            application=application,
            token_hash=hash_token(token),
            role=role,
            email=email,
            created_by=actor,
            expires_at=timezone.now() + timedelta(days=days),
            max_uses=None if multi_use else 1,
        )
        workspace_log.record(
            application,
            WorkspaceEvent.Kind.INVITATION_CREATED,
            actor,
            subject_name=email or "link",
            invitation=invitation.pk,
            role=role,
            days=days,
            multi_use=multi_use,
        )
        if email:
            link = link_for(token)
            inviter = people.display_name(actor)
            transaction.on_commit(lambda: _mail(application.name, inviter, role, email, link, days))
    return invitation, token


def _mail(workspace: str, inviter: str, role: str, email: str, link: str, days: int) -> None:
    send_mail(
        subject=f"{inviter} invites you to {workspace} on Tasktrack",
        message=(
            f"{inviter} invites you to join the workspace “{workspace}” on Tasktrack as {role}.\n\n"
            f"Open this link to join (it works for {days} day{'s' if days != 1 else ''}):\n{link}\n\n"
            "If you did not expect this, ignore this e-mail."
        ),
        from_email=None,
        recipient_list=[email],
    )


def revoke_invitation(*, application: Application, actor, invitation_id: int) -> Invitation:
    """Close an invitation of the workspace at once (owners only); Invitation.DoesNotExist when it
    is not one of the workspace's."""
    with transaction.atomic():
        _owner_only(application, actor)
        invitation = lock_invitation_of(application.pk, invitation_id)
        if invitation is None:
            raise Invitation.DoesNotExist("No such invitation in this workspace.")
        if invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            workspace_log.record(
                application,
                WorkspaceEvent.Kind.INVITATION_REVOKED,
                actor,
                subject_name=invitation.email or "link",
                invitation=invitation.pk,
            )
    return invitation


def _open_locked(token: str) -> Invitation:
    """The invitation of this token, locked, still usable. Call inside atomic()."""
    invitation = lock_invitation(hash_token(token))
    if invitation is None:
        raise Invitation.DoesNotExist("No such invitation.")
    reason = invitation_closed(invitation, now=timezone.now())
    if reason is not None:
        raise InvitationClosed(reason, invitation)
    return invitation


def _join(invitation: Invitation, user) -> Joined:
    """Make the user a member through the locked invitation; a member already keeps their role
    and uses nothing up. Call inside atomic()."""
    existing = Membership.objects.filter(application_id=invitation.application_id, user=user).first()
    if existing is not None:
        return Joined(existing, joined=False)
    membership = Membership.objects.create(application_id=invitation.application_id, user=user, role=invitation.role)
    Invitation.objects.filter(pk=invitation.pk).update(use_count=F("use_count") + 1)
    workspace_log.record(
        invitation.application,
        WorkspaceEvent.Kind.MEMBER_JOINED,
        user,
        subject_user=user,
        role=invitation.role,
        invitation=invitation.pk,
    )
    return Joined(membership, joined=True)


def accept_invitation(*, token: str, user) -> Joined:
    """The logged-in user joins through the invitation. Invitation.DoesNotExist for a token that
    names none, InvitationClosed for one that was revoked, has expired or is used up."""
    with transaction.atomic():
        return _join(_open_locked(token), user)


def sign_up_and_accept(*, token: str, create_user: Callable[[], object]) -> tuple[object, Joined]:
    """Create an account (`create_user()`, such as a valid SignUpForm's save) and join through the
    invitation, in one transaction: a closed invitation creates no account."""
    if settings.SIGNUP_MODE == "closed":
        raise ReadOnly("Sign-up is closed on this site: ask an administrator for an account.")
    with transaction.atomic():
        invitation = _open_locked(token)
        user = create_user()
        return user, _join(invitation, user)
