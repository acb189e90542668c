"""A workspace's people: the members page (roles, removal, leaving), invitations and the page
an invitation link opens (join, or sign up and join).

Plain forms with the CSRF token: every write works without JavaScript and redirects back with a
message; refused input re-renders the page with the message and a 4xx status. Another
workspace's members and invitations answer 404.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import backends as accounts_backends
from accounts import people
from accounts import services as accounts_services
from accounts.forms import SignUpForm
from boards import forms, queries, services
from boards.models import Invitation, Membership
from boards.queries import ReadOnly
from boards.services.invitations import CLOSED_MESSAGES, hash_token

# The session key that carries a new invitation's link from the POST to the page that shows it once.
NEW_LINK = "new_invitation_link"


def _membership(user, application_id: int) -> Membership:
    membership = queries.membership_of(user, application_id)
    if membership is None:
        raise Http404("No such workspace.")
    return membership


def _members_page(
    request: HttpRequest,
    membership: Membership,
    *,
    status: int = 200,
    error: str = "",
    invitation_form: forms.InvitationForm | None = None,
) -> HttpResponse:
    application = membership.application
    is_owner = membership.role == Membership.Role.OWNER
    new_link = request.session.get(NEW_LINK)
    if new_link and new_link.get("application") == application.pk:
        del request.session[NEW_LINK]  # shown once: only its hash is stored
    else:
        new_link = None
    context = {
        "application": application,
        "membership": membership,
        "is_owner": is_owner,
        "members": queries.workspace_members(application.pk),
        "invitations": queries.open_invitations(application.pk, now=timezone.now()) if is_owner else [],
        "invitation_form": invitation_form or forms.InvitationForm(),
        "roles": Membership.Role.choices,
        "new_link": new_link,
        "error": error,
    }
    return render(request, "boards/members.html", context, status=status)


def _refusal(error: Exception) -> tuple[str, int]:
    """The message and status of a refused write."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages), 422
    if isinstance(error, ReadOnly):
        return str(error), 403
    raise Http404(str(error))


def _back(request: HttpRequest, application_id: int, text: str) -> HttpResponse:
    messages.success(request, text)
    return redirect("members", application_id)


# -- the members page -----------------------------------------------------------------------------


@require_GET
@login_required
def members(request: HttpRequest, application_id: int) -> HttpResponse:
    return _members_page(request, _membership(request.user, application_id))


@require_POST
@login_required
def member_role(request: HttpRequest, application_id: int, user_id: int) -> HttpResponse:
    membership = _membership(request.user, application_id)
    try:
        data = forms.bind(forms.RoleForm, request.POST)
        changed = services.change_role(
            application=membership.application, actor=request.user, user_id=user_id, role=data["role"]
        )
    except (ValidationError, ReadOnly, services.NotAMember) as error:
        text, status = _refusal(error)
        return _members_page(request, membership, status=status, error=text)
    name = people.display_name(changed.user)
    return _back(request, application_id, f"{name} is now {changed.get_role_display().lower()}.")


@require_POST
@login_required
def member_remove(request: HttpRequest, application_id: int, user_id: int) -> HttpResponse:
    membership = _membership(request.user, application_id)
    try:
        removed = services.remove_member(application=membership.application, actor=request.user, user_id=user_id)
    except (ValidationError, ReadOnly, services.NotAMember) as error:
        text, status = _refusal(error)
        return _members_page(request, membership, status=status, error=text)
    name = people.display_name(removed.user)
    return _back(request, application_id, f"{name} was removed from {membership.application.name}.")


@require_POST
@login_required
def workspace_leave(request: HttpRequest, application_id: int) -> HttpResponse:
    membership = _membership(request.user, application_id)
    try:
        services.leave_workspace(application=membership.application, user=request.user)
    except (ValidationError, services.NotAMember) as error:
        text, status = _refusal(error)
        return _members_page(request, membership, status=status, error=text)
    messages.success(request, f"You left {membership.application.name}.")
    return redirect("home")


# -- invitations (owners) ---------------------------------------------------------------------


@require_POST
@login_required
def invitation_create(request: HttpRequest, application_id: int) -> HttpResponse:
    membership = _membership(request.user, application_id)
    form = forms.InvitationForm(request.POST)
    if not form.is_valid():
        return _members_page(request, membership, status=422, error=form.error_text(), invitation_form=form)
    data = form.cleaned_data
    try:
        invitation, token = services.create_invitation(
            application=membership.application,
            actor=request.user,
            role=data["role"],
            days=data["days"],
            multi_use=data["uses"] == "multi",
            email=data["email"],
            link_for=lambda token: request.build_absolute_uri(reverse("invitation", args=[token])),
        )
    except (ValidationError, ReadOnly) as error:
        text, status = _refusal(error)
        return _members_page(request, membership, status=status, error=text, invitation_form=form)
    request.session[NEW_LINK] = {
        "application": application_id,
        "link": request.build_absolute_uri(reverse("invitation", args=[token])),
        "email": invitation.email,
        "role": invitation.get_role_display().lower(),
    }
    sent = f" and e-mailed to {invitation.email}" if invitation.email else ""
    return _back(request, application_id, f"Invitation created{sent}.")


@require_POST
@login_required
def invitation_revoke(request: HttpRequest, application_id: int, invitation_id: int) -> HttpResponse:
    membership = _membership(request.user, application_id)
    try:
        services.revoke_invitation(application=membership.application, actor=request.user, invitation_id=invitation_id)
    except ReadOnly as error:
        text, status = _refusal(error)
        return _members_page(request, membership, status=status, error=text)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None
    return _back(request, application_id, "Invitation revoked: its link no longer works.")


# -- the page an invitation link opens ------------------------------------------------------------


def _invitation_page(request: HttpRequest, token: str, *, signup_form=None, status: int = 200) -> HttpResponse:
    invitation = queries.invitation_by_token_hash(hash_token(token))
    if invitation is None:
        raise Http404("No such invitation.")
    closed = queries.invitation_closed(invitation, now=timezone.now())
    if closed is not None:
        return _closed(request, invitation, closed)
    context = {
        "invitation": invitation,
        "token": token,
        "signup_open": settings.SIGNUP_MODE != "closed",
        "signup_form": signup_form or SignUpForm(),
        "member": (
            queries.membership_of(request.user, invitation.application_id) if request.user.is_authenticated else None
        ),
    }
    return render(request, "boards/invitation.html", context, status=status)


def _closed(request: HttpRequest, invitation: Invitation, reason: str) -> HttpResponse:
    context = {"invitation": invitation, "reason": reason, "message": CLOSED_MESSAGES[reason]}
    return render(request, "boards/invitation_closed.html", context, status=410)


@require_GET
@login_not_required
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    return _invitation_page(request, token)


@require_POST
@login_not_required
def invitation_join(request: HttpRequest, token: str) -> HttpResponse:
    if not request.user.is_authenticated:
        # Back to the invitation page after logging in, not to this POST-only address.
        return redirect_to_login(reverse("invitation", args=[token]))
    try:
        joined = services.accept_invitation(token=token, user=request.user)
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None
    except services.InvitationClosed as error:
        return _closed(request, error.invitation, error.reason)
    return _welcome(request, joined)


def _welcome(request: HttpRequest, joined: services.Joined) -> HttpResponse:
    membership = joined.membership
    name = membership.application.name
    role = membership.get_role_display().lower()
    if joined.joined:
        messages.success(request, f"Welcome to {name}: you joined as {role}.")
    else:
        messages.info(request, f"You are a member of {name} already, as {role}; your role stays as it is.")
    return redirect("home")


@require_POST
@login_not_required
def invitation_sign_up(request: HttpRequest, token: str) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("invitation", token)
    if settings.SIGNUP_MODE == "closed":
        return _invitation_page(request, token, status=403)
    form = SignUpForm(request.POST)
    if not form.is_valid():
        return _invitation_page(request, token, signup_form=form, status=422)
    try:
        # accounts' create_account: the user with their profile (a username taken meanwhile: ValidationError).
        user, joined = services.sign_up_and_accept(
            token=token, create_user=lambda: accounts_services.create_account(**form.account_data())
        )
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None
    except services.InvitationClosed as error:
        return _closed(request, error.invitation, error.reason)
    except ValidationError as error:
        form.add_error(None, error)
        return _invitation_page(request, token, signup_form=form, status=422)
    login(request, user, backend=accounts_backends.BACKEND)
    return _welcome(request, joined)
