"""Writes to a workspace's members: change a role, remove a member, leave.

A workspace keeps at least one owner. Every change that could take one away locks the owner
memberships first (services.locks.lock_owners_and) and counts them under that lock, so two owners
demoting or removing each other at the same moment leave one owner, never none.

Removing or demoting someone needs nothing more here: the Membership post_save/post_delete
handlers (boards.live.sockets) tell their open board sockets on commit, which close with 4403
(removed) or stop taking edit locks (demoted to viewer).
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from boards.models import Application, Membership, WorkspaceEvent
from boards.queries import ReadOnly
from boards.services import workspace_log
from boards.services.base import retry_on_deadlock
from boards.services.locks import lock_owners_and

LAST_OWNER = "A workspace keeps at least one owner: make someone else an owner first."
NOT_A_MEMBER = "That person is not a member of this workspace (any more)."
OWNERS_ONLY = "Only the workspace's owners can manage its members."


class NotAMember(Exception):
    """The member named is not (or no longer) in the workspace: 404."""


def _locked(application: Application, actor, user_id: int) -> tuple[dict[int, Membership], int]:
    """The locked memberships of the owners, the actor and the member, by user id, and how many
    owners there are. Call inside atomic()."""
    locked = lock_owners_and(application.pk, [actor.pk, user_id])
    by_user = {membership.user_id: membership for membership in locked}
    owners = sum(membership.role == Membership.Role.OWNER for membership in locked)
    return by_user, owners


def _owner_acting(by_user: dict[int, Membership], actor) -> None:
    acting = by_user.get(actor.pk)
    if acting is None or acting.role != Membership.Role.OWNER:
        raise ReadOnly(OWNERS_ONLY)


@retry_on_deadlock
def change_role(*, application: Application, actor, user_id: int, role: str) -> Membership:
    """Give a member another role (owners only); the last owner cannot be demoted."""
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Pick one of: " + ", ".join(Membership.Role.values) + "."})
    with transaction.atomic():
        by_user, owners = _locked(application, actor, user_id)
        _owner_acting(by_user, actor)
        membership = by_user.get(user_id)
        if membership is None:
            raise NotAMember(NOT_A_MEMBER)
        old_role = membership.role
        if old_role == role:
            return membership
        if old_role == Membership.Role.OWNER and owners <= 1:
            raise ValidationError(LAST_OWNER)
        membership.role = role
        membership.save(update_fields=["role"])
        workspace_log.record(
            application,
            WorkspaceEvent.Kind.ROLE_CHANGED,
            actor,
            subject_user=membership.user,
            old_role=old_role,
            new_role=role,
        )
    return membership


@retry_on_deadlock
def remove_member(*, application: Application, actor, user_id: int) -> Membership:
    """Take a member out of the workspace (owners only; leaving is leave_workspace). Their cards
    keep them as assignee: they show as a former member."""
    with transaction.atomic():
        by_user, owners = _locked(application, actor, user_id)
        _owner_acting(by_user, actor)
        membership = by_user.get(user_id)
        if membership is None:
            raise NotAMember(NOT_A_MEMBER)
        if user_id == actor.pk:
            raise ValidationError("To leave the workspace yourself, use “Leave workspace”.")
        if membership.role == Membership.Role.OWNER and owners <= 1:
            raise ValidationError(LAST_OWNER)
        membership.delete()
        workspace_log.record(
            application, WorkspaceEvent.Kind.MEMBER_REMOVED, actor, subject_user=membership.user, role=membership.role
        )
    return membership


@retry_on_deadlock
def leave_workspace(*, application: Application, user) -> Membership:
    """The user leaves the workspace; its last owner cannot."""
    with transaction.atomic():
        by_user, owners = _locked(application, user, user.pk)
        membership = by_user.get(user.pk)
        if membership is None:
            raise NotAMember("You are not a member of this workspace.")
        if membership.role == Membership.Role.OWNER and owners <= 1:
            raise ValidationError(
                "You are this workspace's last owner: make someone else an owner before you leave "
                "(or delete the workspace)."
            )
        membership.delete()
        workspace_log.record(
            application, WorkspaceEvent.Kind.MEMBER_LEFT, user, subject_user=user, role=membership.role
        )
    return membership
