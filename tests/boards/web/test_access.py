import pytest
from django.urls import URLPattern, reverse

import boards.urls
from boards import services
from boards.models import Membership
from tests.factories import MembershipFactory, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="Secret plan", reporter=owner)


@pytest.fixture
def other_workspace_project(outsider):
    return make_project(outsider.memberships.get().application, name="Their project", key="THEIRS")


def page_urls(project, task) -> list[str]:
    return [reverse("board", args=[project.pk]), reverse("card", args=[project.pk, task.pk])]


def every_project_url(project, task) -> list[str]:
    """Every route of boards.urls that takes an id, filled with real ids from `project`.

    Routes added later are covered without touching this test.
    """
    ids = {
        "application_id": project.application_id,
        "project_id": project.pk,
        "task_id": task.pk,
        "status_id": task.task_status_id,
        "key": f"{project.key}-{task.number}",  # a card's permanent URL
        # An attachment's token (tests/boards/test_attachments.py holds real ones to these rules).
        "file_token": "0" * 32,
    }
    urls = []
    for pattern in boards.urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        converters = pattern.pattern.converters
        if not converters or "token" in converters:
            # An invitation link is its own key, open to anyone holding it (tests/boards/web/test_teams.py).
            continue
        kwargs = {name: ids.get(name, 1) for name in converters}
        urls.append(reverse(pattern.name, kwargs=kwargs))
    return urls


class TestAnonymous:
    def test_every_page_redirects_to_login(self, client, project, task):
        for url in [reverse("home"), *every_project_url(project, task)]:
            for response in (client.get(url), client.post(url)):
                assert response.status_code == 302
                assert response.url == f"{reverse('login')}?next={url}"

    def test_admin_sends_to_its_own_login(self, client):
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))

    def test_login_page_is_open(self, client):
        response = client.get(reverse("login"))
        assert response.status_code == 200
        assert 'name="password"' in response.content.decode()


class TestLoginLogout:
    def test_log_in_and_out(self, client, owner, project):
        response = client.post(reverse("login"), {"username": owner.username, "password": "secret-pass"})
        assert response.status_code == 302
        assert response.url == reverse("home")
        assert "Website" in client.get(reverse("home")).content.decode()
        response = client.post(reverse("logout"))
        assert response.status_code == 302
        assert response.url == reverse("login")
        assert client.get(reverse("home")).status_code == 302

    def test_wrong_password_is_refused(self, client, owner):
        response = client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
        assert response.status_code == 200
        assert "do not match" in response.content.decode()
        assert "_auth_user_id" not in client.session


class TestMembersOnly:
    def test_home_lists_only_own_workspaces(self, client, owner, project, other_workspace_project):
        client.force_login(owner)
        page = client.get(reverse("home")).content.decode()
        assert "Website" in page
        assert "Their project" not in page
        assert reverse("board", args=[other_workspace_project.pk]) not in page

    def test_outsider_gets_404_on_every_page_of_the_project(self, client, outsider, project, task):
        client.force_login(outsider)
        for url in page_urls(project, task):
            assert client.get(url).status_code == 404, url

    def test_outsider_gets_404_on_every_route_and_method(self, client, outsider, project, task):
        client.force_login(outsider)
        urls = every_project_url(project, task)
        assert set(page_urls(project, task)) <= set(urls)
        for url in urls:
            statuses = {client.get(url).status_code, client.post(url).status_code}
            # 405: the route does not take that method at all; whatever it takes answers 404.
            assert 404 in statuses and statuses <= {404, 405}, (url, statuses)
        task.refresh_from_db()
        assert (task.title, task.archived_at, task.version) == ("Secret plan", None, 1)

    def test_outsider_home_does_not_show_the_project(self, client, outsider, project, other_workspace_project):
        client.force_login(outsider)
        page = client.get(reverse("home")).content.decode()
        assert "Their project" in page
        assert "Website" not in page

    def test_member_of_one_workspace_cannot_reach_a_card_through_its_own_project(
        self, client, outsider, task, other_workspace_project
    ):
        """The card id belongs to another workspace: pairing it with a project of one's own is still 404."""
        client.force_login(outsider)
        assert client.get(reverse("card", args=[other_workspace_project.pk, task.pk])).status_code == 404

    @pytest.mark.parametrize("role", [Membership.Role.OWNER, Membership.Role.EDITOR, Membership.Role.VIEWER])
    def test_members_of_every_role_see_the_pages(self, client, application, project, task, role):
        member = MembershipFactory(application=application, role=role).user
        client.force_login(member)
        for url in page_urls(project, task):
            assert client.get(url).status_code == 200, url

    def test_membership_removed_means_404(self, client, application, project, task, editor):
        client.force_login(editor)
        assert client.get(reverse("board", args=[project.pk])).status_code == 200
        Membership.objects.filter(user=editor, application=application).delete()
        for url in page_urls(project, task):
            assert client.get(url).status_code == 404, url

    def test_unknown_ids_are_404(self, client, owner, project):
        client.force_login(owner)
        assert client.get(reverse("board", args=[999999])).status_code == 404
        assert client.get(reverse("card", args=[project.pk, 999999])).status_code == 404
