"""The notification pages: the list, the bell, opening one, marking read, the card's Watch
button and the settings; query counts pinned; another user's notification is a 404."""

import pytest
from django.test import Client

from boards import services
from boards.models import Membership
from notifications import queries
from notifications.models import Notification, NotificationSettings, Watch
from tests.boards.conftest import HX
from tests.factories import make_project
from tests.support.queue import run_queued_jobs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def told(project, card, ada, bob):
    """Three comments by Bob on Ada's card: three notifications for Ada."""
    for n in range(3):
        services.add_comment(project=project, task_id=card.pk, body=f"Comment <b>{n}</b>", author=bob)
    run_queued_jobs()
    return list(Notification.objects.filter(recipient=ada).order_by("id"))


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class TestList:
    def test_newest_first_with_the_unread_count(self, told, ada):
        page = logged_in(ada).get("/notifications/")
        html = page.content.decode()
        assert page.status_code == 200
        assert "3 unread" in html
        assert html.index(f"notification-{told[2].pk}") < html.index(f"notification-{told[0].pk}")
        assert "Comment &lt;b&gt;1&lt;/b&gt;" in html and "<b>1</b>" not in html
        assert "Mark all read" in html

    def test_its_queries_do_not_grow_with_notifications(self, project, card, told, ada, bob, django_assert_num_queries):
        client = logged_in(ada)
        # user (with its profile), the page (cards, projects, actors), the unread count
        with django_assert_num_queries(3):
            client.get("/notifications/")
        services.move_task(project=project, task_id=card.pk, status_id=project.task_statuses.last().pk, actor=bob)
        run_queued_jobs()
        with django_assert_num_queries(3):
            assert client.get("/notifications/").status_code == 200

    def test_pages_are_bounded(self, project, card, ada, bob, monkeypatch):
        monkeypatch.setattr(queries, "PAGE_SIZE", 2)
        for n in range(5):
            services.add_comment(project=project, task_id=card.pk, body=f"C{n}", author=bob)
        run_queued_jobs()
        ids = list(Notification.objects.filter(recipient=ada).order_by("-id").values_list("id", flat=True))
        client = logged_in(ada)
        first = client.get("/notifications/").content.decode()
        assert first.count('class="notification ') == 2 and f"?before={ids[1]}" in first
        last = client.get(f"/notifications/?before={ids[3]}").content.decode()
        assert last.count('class="notification ') == 1 and "?before=" not in last

    @pytest.mark.parametrize("before", ["x", "-1", "0", "9" * 30, "1.5"])
    def test_a_bad_cursor_is_a_400(self, ada, before):
        assert logged_in(ada).get("/notifications/", {"before": before}).status_code == 400


class TestBell:
    def test_the_bell_counts_unread(self, told, ada, django_assert_num_queries):
        client = logged_in(ada)
        with django_assert_num_queries(2):  # user, the count
            html = client.get("/notifications/bell/", headers=HX).content.decode()
        assert 'id="notify-bell"' in html and 'data-count="3"' in html and "3 unread" in html
        assert 'hx-trigger="every 120s"' in html and "hx-swap-oob" not in html

    def test_every_page_loads_the_bell(self, ada):
        html = logged_in(ada).get("/").content.decode()
        assert 'id="notify-bell"' in html and 'hx-get="/notifications/bell/" hx-trigger="load"' in html

    def test_the_count_stops_at_99_plus(self, told, ada, monkeypatch):
        monkeypatch.setattr(queries, "BELL_MAX", 2)
        html = logged_in(ada).get("/notifications/bell/").content.decode()
        assert ">99+<" in html


class TestReading:
    def test_opening_marks_read_and_goes_to_the_card(self, told, ada, bob):
        client = logged_in(ada)
        response = client.get(f"/notifications/{told[0].pk}/")
        assert response.status_code == 302 and response["Location"] == "/WEB-1/"
        told[0].refresh_from_db()
        assert told[0].read_at is not None
        assert 'data-count="2"' in client.get("/notifications/bell/").content.decode()

    def test_mark_one_and_mark_all_read(self, told, ada):
        client = logged_in(ada)
        assert client.post(f"/notifications/{told[1].pk}/read/").status_code == 303
        assert Notification.objects.filter(recipient=ada, read_at__isnull=True).count() == 2
        assert client.post("/notifications/read-all/").status_code == 303
        assert not Notification.objects.filter(recipient=ada, read_at__isnull=True).exists()
        assert "data-count" not in client.get("/notifications/bell/").content.decode()

    def test_mark_all_read_needs_post_and_csrf(self, told, ada):
        client = Client(enforce_csrf_checks=True)
        client.force_login(ada)
        assert client.get("/notifications/read-all/").status_code == 405
        assert client.post("/notifications/read-all/").status_code == 403
        assert Notification.objects.filter(recipient=ada, read_at__isnull=True).count() == 3

    def test_someone_elses_notification_is_a_404(self, told, bob, outsider):
        for user in (bob, outsider):
            client = logged_in(user)
            assert client.get(f"/notifications/{told[0].pk}/").status_code == 404
            assert client.post(f"/notifications/{told[0].pk}/read/").status_code == 404
            assert str(told[0].pk) not in client.get("/notifications/").content.decode()
        assert logged_in(bob).get("/notifications/99999999999999999/").status_code == 404
        told[0].refresh_from_db()
        assert told[0].read_at is None

    def test_a_removed_member_cannot_see_their_old_notifications(self, application, told, ada, bob, owner):
        services.update_task(
            project=told[0].project, task_id=told[0].task_id, version=told[0].task.version, assignee=bob, actor=ada
        )
        run_queued_jobs()
        (assigned,) = Notification.objects.filter(recipient=bob)
        client = logged_in(bob)
        assert 'data-count="1"' in client.get("/notifications/bell/").content.decode()
        services.remove_member(application=application, actor=ada, user_id=bob.pk)
        assert client.get(f"/notifications/{assigned.pk}/").status_code == 404
        assert "data-count" not in client.get("/notifications/bell/").content.decode()
        assert f"notification-{assigned.pk}" not in client.get("/notifications/").content.decode()


class TestWatchButton:
    def test_watch_and_unwatch(self, project, card, cat):
        client = logged_in(cat)
        url = f"/notifications/watch/{project.pk}/{card.pk}/"
        assert ">Watch<" in client.get(url, headers=HX).content.decode()
        html = client.post(url, {"watching": "1"}, headers=HX).content.decode()
        assert ">Unwatch<" in html and 'aria-pressed="true"' in html
        assert Watch.objects.get(user=cat, task=card).watching
        response = client.post(url, {"watching": "0"})
        assert response.status_code == 303 and response["Location"] == f"/projects/{project.pk}/cards/{card.pk}/"
        assert not Watch.objects.get(user=cat, task=card).watching

    def test_the_card_loads_the_button(self, project, card, ada):
        html = logged_in(ada).get(f"/projects/{project.pk}/cards/{card.pk}/").content.decode()
        assert f'hx-get="/notifications/watch/{project.pk}/{card.pk}/"' in html

    def test_outsiders_and_other_cards_are_404(self, project, card, outsider, ada):
        theirs = make_project(Membership.objects.get(user=outsider).application, key="OUT")
        their_card = services.create_task(
            project=theirs, status_id=theirs.task_statuses.first().pk, title="Theirs", reporter=outsider
        )
        watch = {"watching": "1"}
        assert logged_in(outsider).post(f"/notifications/watch/{project.pk}/{card.pk}/", watch).status_code == 404
        assert logged_in(ada).post(f"/notifications/watch/{theirs.pk}/{their_card.pk}/", watch).status_code == 404
        # Her own project's id with another workspace's card: still no such card.
        assert logged_in(ada).post(f"/notifications/watch/{project.pk}/{their_card.pk}/", watch).status_code == 404
        assert (
            logged_in(ada).post(f"/notifications/watch/{project.pk}/{card.pk}/", {"watching": "2"}).status_code == 400
        )
        assert not Watch.objects.filter(task=their_card, user=ada).exists()
        assert not Watch.objects.filter(user=outsider, task=card).exists()


class TestSettingsPage:
    def test_save_settings(self, ada):
        client = logged_in(ada)
        page = client.get("/notifications/settings/").content.decode()
        assert "E-mail me notifications" in page and "checked" in page
        response = client.post("/notifications/settings/", {"email": "on", "email_mentioned": "on"})
        assert response.status_code == 303
        found = NotificationSettings.objects.get(user=ada)
        assert found.email and found.email_mentioned and not found.email_commented and not found.email_moved

    def test_the_profile_links_to_it(self, ada):
        assert 'href="/notifications/settings/"' in logged_in(ada).get("/account/").content.decode()


class TestAdmin:
    def test_the_admin_lists_notifications_read_only(self, told, django_user_model):
        admin = django_user_model.objects.create_superuser("root", "root@example.com", "x-secret-pass")
        client = logged_in(admin)
        page = client.get("/admin/notifications/notification/")
        assert page.status_code == 200 and page.content.decode().count("commented") >= 3
        assert client.get("/admin/notifications/notification/add/").status_code == 403
        assert client.get("/admin/notifications/notificationsettings/").status_code == 200
