"""The members page, invitations and the invitation page: access, IDOR, CSRF, no-JS forms, bad input."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from boards import services
from boards.models import Invitation, Membership, WorkspaceEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OWNER, EDITOR, VIEWER = Membership.Role.OWNER, Membership.Role.EDITOR, Membership.Role.VIEWER


def invite(application, owner, **kwargs):
    options = {"role": EDITOR, "days": 7, "multi_use": False, "email": "", **kwargs}
    return services.create_invitation(
        application=application,
        actor=owner,
        link_for=lambda token: f"http://testserver/invitations/{token}/",
        **options,
    )


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def role(application, user):
    return Membership.objects.filter(application=application, user=user).values_list("role", flat=True).first()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


class TestMembersPage:
    def test_members_see_everyone_with_role_and_name(self, application, owner, editor, viewer):
        response = logged_in(viewer).get(reverse("members", args=[application.pk]))
        assert response.status_code == 200
        html = response.content.decode()
        for user, label in ((owner, "Owner"), (editor, "Editor"), (viewer, "Viewer")):
            assert re.search(rf'id="member-{user.pk}".*?{user.get_full_name()}.*?{label}', html, re.S)
        assert "Change role" not in html and "Create invitation" not in html  # a viewer manages nothing
        assert "Leave " + application.name in html

    def test_owners_see_the_forms_and_every_form_carries_the_csrf_token(self, application, owner, editor):
        html = logged_in(owner).get(reverse("members", args=[application.pk])).content.decode()
        assert "Change role" in html and "Create invitation" in html
        forms = re.findall(r"<form method=\"post\".*?</form>", html, re.S)
        assert forms and all("csrfmiddlewaretoken" in form for form in forms)

    def test_a_display_name_from_the_profile_is_shown(self, application, owner, editor):
        from accounts.models import Profile

        Profile.objects.create(user=editor, display_name="Eddie <b>")
        html = logged_in(owner).get(reverse("members", args=[application.pk])).content.decode()
        assert "Eddie &lt;b&gt;" in html

    def test_home_links_each_workspace_to_its_members(self, application, viewer):
        html = logged_in(viewer).get(reverse("home")).content.decode()
        assert f'href="{reverse("members", args=[application.pk])}"' in html

    def test_another_workspace_answers_404(self, application, outsider):
        assert logged_in(outsider).get(reverse("members", args=[application.pk])).status_code == 404

    def test_logged_out_goes_to_log_in(self, client, application):
        response = client.get(reverse("members", args=[application.pk]))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("count", [3, 300])
    def test_the_page_costs_the_same_for_3_and_300_members(self, application, owner, count, django_assert_num_queries):
        users = get_user_model().objects.bulk_create(
            get_user_model()(username=f"m{count}-{i}", first_name=f"Member {i}") for i in range(count - 1)
        )
        Membership.objects.bulk_create(Membership(application=application, user=u, role=EDITOR) for u in users)
        invite(application, owner)
        client = logged_in(owner)
        # user, membership, members (with profiles), open invitations (with inviters)
        with django_assert_num_queries(4):
            response = client.get(reverse("members", args=[application.pk]))
        assert response.content.decode().count('id="member-') == count


class TestRoles:
    def test_a_plain_post_changes_the_role_and_redirects_with_a_message(self, application, owner, editor):
        client = logged_in(owner)
        response = client.post(
            reverse("member_role", args=[application.pk, editor.pk]), {"role": "viewer"}, follow=True
        )
        assert response.redirect_chain == [(reverse("members", args=[application.pk]), 302)]
        assert role(application, editor) == VIEWER
        assert any("is now viewer" in text for text in messages_of(response))

    def test_the_last_owner_is_told_why_not(self, application, owner):
        response = logged_in(owner).post(reverse("member_role", args=[application.pk, owner.pk]), {"role": "editor"})
        assert response.status_code == 422
        assert "at least one owner" in response.content.decode()
        assert role(application, owner) == OWNER

    @pytest.mark.parametrize("who", ["editor", "viewer"])
    def test_editors_and_viewers_cannot_change_roles(self, application, owner, editor, viewer, who):
        actor = {"editor": editor, "viewer": viewer}[who]
        response = logged_in(actor).post(reverse("member_role", args=[application.pk, owner.pk]), {"role": "viewer"})
        assert response.status_code == 403
        assert role(application, owner) == OWNER

    @pytest.mark.parametrize("data", [{}, {"role": "admin"}, {"role": ["viewer", "owner"]}, {"role": "\x00"}])
    def test_bad_input_is_a_clear_422(self, application, owner, editor, data):
        response = logged_in(owner).post(reverse("member_role", args=[application.pk, editor.pk]), data)
        assert response.status_code in (400, 422)
        assert role(application, editor) == EDITOR

    def test_ids_of_another_workspace_answer_404(self, application, owner, outsider):
        theirs = Membership.objects.get(user=outsider).application
        client = logged_in(owner)
        # A member of theirs, through our workspace; our member, through theirs.
        assert (
            client.post(reverse("member_role", args=[application.pk, outsider.pk]), {"role": "viewer"}).status_code
            == 404
        )
        assert client.post(reverse("member_role", args=[theirs.pk, owner.pk]), {"role": "viewer"}).status_code == 404
        assert client.post(reverse("member_remove", args=[application.pk, outsider.pk])).status_code == 404
        assert client.post(reverse("member_remove", args=[theirs.pk, outsider.pk])).status_code == 404
        assert role(theirs, outsider) == OWNER

    def test_get_is_not_allowed_on_writes(self, application, owner, editor):
        client = logged_in(owner)
        assert client.get(reverse("member_role", args=[application.pk, editor.pk])).status_code == 405
        assert client.get(reverse("member_remove", args=[application.pk, editor.pk])).status_code == 405
        assert client.get(reverse("workspace_leave", args=[application.pk])).status_code == 405


class TestRemoveAndLeave:
    def test_an_owner_removes_a_member(self, application, owner, editor):
        response = logged_in(owner).post(reverse("member_remove", args=[application.pk, editor.pk]), follow=True)
        assert role(application, editor) is None
        assert any("was removed" in text for text in messages_of(response))
        assert logged_in(editor).get(reverse("members", args=[application.pk])).status_code == 404

    def test_an_editor_cannot_remove(self, application, owner, editor, viewer):
        assert logged_in(editor).post(reverse("member_remove", args=[application.pk, viewer.pk])).status_code == 403
        assert role(application, viewer) == VIEWER

    def test_a_member_leaves_and_lands_home_with_a_message(self, application, owner, viewer):
        response = logged_in(viewer).post(reverse("workspace_leave", args=[application.pk]), follow=True)
        assert response.redirect_chain[-1][0] == reverse("home")
        assert role(application, viewer) is None
        assert any("You left" in text for text in messages_of(response))
        assert WorkspaceEvent.objects.filter(kind=WorkspaceEvent.Kind.MEMBER_LEFT, subject_user=viewer).exists()

    def test_the_last_owner_cannot_leave(self, application, owner):
        response = logged_in(owner).post(reverse("workspace_leave", args=[application.pk]))
        assert response.status_code == 422 and "last owner" in response.content.decode()
        assert role(application, owner) == OWNER

    def test_leaving_another_workspace_is_404(self, application, outsider):
        assert logged_in(outsider).post(reverse("workspace_leave", args=[application.pk])).status_code == 404

    def test_a_removed_assignee_shows_as_former_member(self, application, owner, editor, project, columns):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Theirs", reporter=owner)
        services.update_task(project=project, task_id=task.pk, version=task.version, assignee=editor)
        services.remove_member(application=application, actor=owner, user_id=editor.pk)
        client = logged_in(owner)
        html = client.get(reverse("card", args=[project.pk, task.pk])).content.decode()
        assert "former member" in html
        # Saving the card with its assignee unchanged keeps them, as the form shows them.
        task.refresh_from_db()
        response = client.post(
            reverse("card_update", args=[project.pk, task.pk]),
            {"title": "Theirs, edited", "description": "", "assignee": str(editor.pk), "version": str(task.version)},
        )
        assert response.status_code == 303  # a plain form's write: See Other, back to the card
        task.refresh_from_db()
        assert (task.title, task.assignee) == ("Theirs, edited", editor)


class TestCsrf:
    @pytest.mark.parametrize("name", ["member_role", "member_remove"])
    def test_member_writes_need_the_token(self, application, owner, editor, name):
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        response = client.post(reverse(name, args=[application.pk, editor.pk]), {"role": "viewer"})
        assert response.status_code == 403
        assert role(application, editor) == EDITOR

    def test_leave_create_revoke_join_and_sign_up_need_the_token(self, application, owner, viewer):
        invitation, token = invite(application, owner)
        client = Client(enforce_csrf_checks=True)
        client.force_login(viewer)
        assert client.post(reverse("workspace_leave", args=[application.pk])).status_code == 403
        client.force_login(owner)
        assert client.post(reverse("invitation_create", args=[application.pk]), {"role": "editor"}).status_code == 403
        assert client.post(reverse("invitation_revoke", args=[application.pk, invitation.pk])).status_code == 403
        newcomer = Client(enforce_csrf_checks=True)
        newcomer.force_login(UserFactory())
        assert newcomer.post(reverse("invitation_join", args=[token])).status_code == 403
        assert Client(enforce_csrf_checks=True).post(reverse("invitation_sign_up", args=[token])).status_code == 403
        assert role(application, viewer) == VIEWER
        assert Invitation.objects.count() == 1 and Invitation.objects.get().use_count == 0

    def test_a_form_posted_with_its_token_works_without_javascript(self, application, owner, editor):
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        page = client.get(reverse("members", args=[application.pk])).content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = client.post(
            reverse("member_role", args=[application.pk, editor.pk]), {"role": "viewer", "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
        assert role(application, editor) == VIEWER


class TestCreateAndRevokeInvitations:
    def test_a_link_is_shown_once_after_creation(self, application, owner):
        client = logged_in(owner)
        response = client.post(
            reverse("invitation_create", args=[application.pk]),
            {"role": "viewer", "days": "7", "uses": "single"},
            follow=True,
        )
        html = response.content.decode()
        link = re.search(r'id="invitation-link"[^>]*value="(http://testserver/invitations/([^/"]+)/)"', html)
        assert link, html
        invitation = Invitation.objects.get()
        assert invitation.token_hash == services.invitations.hash_token(link.group(2))
        assert (invitation.role, invitation.max_uses) == (VIEWER, 1)
        assert 'data-copy="#invitation-link"' in html  # the copy button; the input alone works without JS
        assert link.group(2) not in client.get(reverse("members", args=[application.pk])).content.decode()

    def test_an_email_invitation_is_sent(self, application, owner, mailoutbox, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = logged_in(owner).post(
                reverse("invitation_create", args=[application.pk]),
                {"role": "editor", "days": "1", "uses": "multi", "email": "ada@example.com"},
            )
        assert response.status_code == 302
        assert [mail.to for mail in mailoutbox] == [["ada@example.com"]]
        assert Invitation.objects.get().max_uses is None

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"role": "admin", "days": "7", "uses": "single"}, "Pick a role"),
            ({"role": "editor", "days": "2", "uses": "single"}, "1, 7 or 30 days"),
            ({"role": "editor", "days": "7", "uses": "twice"}, "single-use or multi-use"),
            ({"role": "editor", "days": "7", "uses": "single", "email": "not-an-address"}, "valid e-mail"),
            ({"role": "editor", "days": "７", "uses": "single"}, "1, 7 or 30 days"),
        ],
    )
    def test_bad_input_is_a_clear_422(self, application, owner, data, message):
        response = logged_in(owner).post(reverse("invitation_create", args=[application.pk]), data)
        assert response.status_code == 422
        assert message in response.content.decode()
        assert not Invitation.objects.exists()

    def test_editors_cannot_invite(self, application, owner, editor):
        data = {"role": "owner", "days": "7", "uses": "multi"}
        assert logged_in(editor).post(reverse("invitation_create", args=[application.pk]), data).status_code == 403
        assert not Invitation.objects.exists()

    def test_owners_list_open_invitations_and_revoke_them(self, application, owner):
        invitation, _ = invite(application, owner, email="ada@example.com")
        client = logged_in(owner)
        assert (
            f'id="invitation-{invitation.pk}"' in client.get(reverse("members", args=[application.pk])).content.decode()
        )
        response = client.post(reverse("invitation_revoke", args=[application.pk, invitation.pk]), follow=True)
        assert any("revoked" in text for text in messages_of(response))
        assert f'id="invitation-{invitation.pk}"' not in response.content.decode()
        invitation.refresh_from_db()
        assert invitation.revoked_at is not None

    def test_another_workspaces_invitation_answers_404(self, application, owner, outsider):
        theirs = Membership.objects.get(user=outsider).application
        invitation, _ = invite(theirs, outsider)
        client = logged_in(owner)
        assert client.post(reverse("invitation_revoke", args=[application.pk, invitation.pk])).status_code == 404
        assert client.post(reverse("invitation_revoke", args=[theirs.pk, invitation.pk])).status_code == 404
        assert client.post(reverse("invitation_create", args=[theirs.pk]), {"role": "owner"}).status_code == 404
        invitation.refresh_from_db()
        assert invitation.revoked_at is None


class TestInvitationPage:
    def test_a_logged_out_visitor_sees_the_workspace_log_in_and_sign_up(self, client, application, owner):
        _, token = invite(application, owner, role=VIEWER)
        response = client.get(reverse("invitation", args=[token]))
        html = response.content.decode()
        assert response.status_code == 200
        assert application.name in html and "viewer" in html
        assert f"{reverse('login')}?next={reverse('invitation', args=[token])}" in html
        assert "Sign up and join" in html

    @override_settings(SIGNUP_MODE="closed")
    def test_closed_sign_up_offers_only_log_in(self, client, application, owner):
        _, token = invite(application, owner)
        html = client.get(reverse("invitation", args=[token])).content.decode()
        assert "Log in to join" in html and "Sign up and join" not in html
        response = client.post(
            reverse("invitation_sign_up", args=[token]),
            {"username": "n", "email": "n@example.com", "password1": "a-long-pass-42", "password2": "a-long-pass-42"},
        )
        assert response.status_code == 403
        assert not get_user_model().objects.filter(username="n").exists()

    @override_settings(SIGNUP_MODE="invitation")
    def test_sign_up_through_the_link_creates_the_account_joins_and_logs_in(self, client, application, owner):
        _, token = invite(application, owner)
        data = {
            "username": "newcomer",
            "email": "new@example.com",
            "password1": "a-long-pass-42",
            "password2": "a-long-pass-42",
        }
        response = client.post(reverse("invitation_sign_up", args=[token]), data, follow=True)
        assert response.redirect_chain[-1][0] == reverse("home")
        newcomer = get_user_model().objects.get(username="newcomer")
        assert role(application, newcomer) == EDITOR
        assert response.context["user"] == newcomer
        assert any("you joined as editor" in text for text in messages_of(response))

    def test_a_bad_sign_up_shows_its_errors_and_creates_nothing(self, client, application, owner):
        _, token = invite(application, owner)
        data = {"username": "newcomer", "email": "nope", "password1": "a-long-pass-42", "password2": "different"}
        response = client.post(reverse("invitation_sign_up", args=[token]), data)
        assert response.status_code == 422
        assert "e-mail" in response.content.decode().lower() or "email" in response.content.decode().lower()
        assert not get_user_model().objects.filter(username="newcomer").exists()
        assert Invitation.objects.get().use_count == 0

    def test_a_logged_in_user_joins_with_a_plain_post(self, application, owner, user):
        _, token = invite(application, owner, role=VIEWER)
        client = logged_in(user)
        assert "Join " + application.name in client.get(reverse("invitation", args=[token])).content.decode()
        response = client.post(reverse("invitation_join", args=[token]), follow=True)
        assert role(application, user) == VIEWER
        assert any("joined as viewer" in text for text in messages_of(response))

    def test_a_logged_out_join_goes_to_log_in_and_back_to_the_invitation(self, client, application, owner):
        _, token = invite(application, owner)
        response = client.post(reverse("invitation_join", args=[token]))
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={reverse('invitation', args=[token])}"
        assert Invitation.objects.get().use_count == 0

    def test_logging_in_from_the_invitation_comes_back_to_it(self, client, application, owner, user):
        _, token = invite(application, owner)
        page = reverse("invitation", args=[token])
        response = client.post(
            f"{reverse('login')}?next={page}", {"username": user.username, "password": "secret-pass", "next": page}
        )
        assert response.status_code == 302 and response["Location"] == page
        assert "Join " + application.name in client.get(page).content.decode()

    def test_a_member_is_told_and_keeps_their_role(self, application, owner, editor):
        _, token = invite(application, owner, role=VIEWER)
        client = logged_in(editor)
        assert "member of this workspace already" in client.get(reverse("invitation", args=[token])).content.decode()
        response = client.post(reverse("invitation_join", args=[token]), follow=True)
        assert role(application, editor) == EDITOR
        assert any("already" in text for text in messages_of(response))

    @pytest.mark.parametrize("reason", ["expired", "used", "revoked"])
    def test_closed_links_say_so_with_410(self, client, application, owner, user, reason):
        invitation, token = invite(application, owner)
        if reason == "expired":
            Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        elif reason == "used":
            services.accept_invitation(token=token, user=UserFactory())
        else:
            services.revoke_invitation(application=application, actor=owner, invitation_id=invitation.pk)
        response = client.get(reverse("invitation", args=[token]))
        assert response.status_code == 410
        assert f'data-reason="{reason}"' in response.content.decode()
        assert logged_in(user).post(reverse("invitation_join", args=[token])).status_code == 410
        data = {
            "username": "late",
            "email": "late@example.com",
            "password1": "a-long-pass-42",
            "password2": "a-long-pass-42",
        }
        assert client.post(reverse("invitation_sign_up", args=[token]), data).status_code == 410
        assert not get_user_model().objects.filter(username="late").exists()
        assert role(application, user) is None

    @pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 101, "bad%20token" + "x" * 30])
    def test_a_bad_token_is_404(self, client, user, token):
        assert client.get(f"/invitations/{token}/").status_code == 404
        assert logged_in(user).post(f"/invitations/{token}/join/").status_code == 404
