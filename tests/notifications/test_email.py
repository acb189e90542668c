"""The e-mail digest through Django's locmem outbox: one e-mail per user however many events,
settings and the unsubscribe link respected, user text escaped, links absolute."""

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from boards import services
from notifications import emails, tasks
from notifications import services as notify_services
from notifications.models import Notification, NotificationSettings
from tests.support.queue import empty_queue, make_due, queued, run_queued_jobs

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://tasks.example.org"


def run_digests() -> None:
    """The events' jobs, then the digests they queued (which wait minutes), brought forward."""
    run_queued_jobs()
    make_due("notifications.send_digest")
    run_queued_jobs()


def to(user) -> list:
    return [message for message in mail.outbox if message.to == [user.email]]


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


class TestBatching:
    def test_many_events_make_one_email_per_user(self, project, columns, card, ada, bob, cat):
        notify_services.set_watching(user=cat, task_id=card.pk, watching=True)
        for n in range(4):
            services.add_comment(project=project, task_id=card.pk, body=f"Comment {n}", author=bob)
        services.move_task(project=project, task_id=card.pk, status_id=columns["active"].pk, actor=bob)
        run_queued_jobs()
        assert mail.outbox == []  # the digests wait NOTIFY_EMAIL_DELAY_SECONDS
        assert sorted(job.args["user_id"] for job in queued("notifications.send_digest")) == [ada.pk, cat.pk]
        make_due("notifications.send_digest")
        run_queued_jobs()
        assert len(mail.outbox) == 2
        (message,) = to(ada)
        assert message.subject == "5 new notifications on Tasktrack"
        assert message.body.count("Bob Marley commented on WEB-1 Ship it") == 4
        assert "Bob Marley moved WEB-1 Ship it to In Progress" in message.body
        assert len(to(cat)) == 1
        assert not Notification.objects.filter(emailed_at__isnull=True).exists()
        # Nothing new: the next digest sends nothing.
        notify_services.mark_all_read(user=ada)
        services.add_comment(project=project, task_id=card.pk, body="One more", author=bob)
        run_digests()
        assert len(to(ada)) == 2
        assert to(ada)[1].subject == "Bob Marley commented on WEB-1 Ship it"

    def test_links_are_absolute_user_text_is_escaped_and_unsubscribe_is_offered(self, project, card, ada, bob):
        services.add_comment(project=project, task_id=card.pk, body="<script>alert(1)</script> & more", author=bob)
        run_digests()
        (message,) = to(ada)
        notification = Notification.objects.get(recipient=ada)
        link = f"{SITE}/notifications/{notification.pk}/"
        assert link in message.body
        assert '"<script>alert(1)</script> & more"' in message.body  # plain text: as written
        html, kind = message.alternatives[0]
        assert kind == "text/html"
        assert f'href="{link}"' in html
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
        unsubscribe = message.extra_headers["List-Unsubscribe"]
        assert unsubscribe.startswith(f"<{SITE}/notifications/unsubscribe/") and unsubscribe.endswith("/>")
        assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe[1:-1] in message.body and unsubscribe[1:-1] in html

    def test_what_was_read_before_the_digest_is_not_emailed(self, project, card, ada, bob):
        services.add_comment(project=project, task_id=card.pk, body="Seen", author=bob)
        run_queued_jobs()
        notify_services.mark_all_read(user=ada)
        make_due("notifications.send_digest")
        run_queued_jobs()
        assert mail.outbox == []
        assert not Notification.objects.filter(emailed_at__isnull=True).exists()


class TestSettings:
    def test_email_off_sends_nothing(self, project, card, ada, bob):
        NotificationSettings.objects.create(user=ada, email=False)
        services.add_comment(project=project, task_id=card.pk, body="Hi", author=bob)
        run_digests()
        assert mail.outbox == []
        assert Notification.objects.filter(recipient=ada, read_at__isnull=True).count() == 1  # still in the app

    def test_one_kind_off_sends_the_others(self, project, columns, card, ada, bob):
        NotificationSettings.objects.create(user=ada, email_commented=False)
        services.add_comment(project=project, task_id=card.pk, body="Hi", author=bob)
        services.move_task(project=project, task_id=card.pk, status_id=columns["done"].pk, actor=bob)
        run_digests()
        (message,) = to(ada)
        assert message.subject == "Bob Marley moved WEB-1 Ship it to Done"

    def test_a_removed_member_is_not_emailed(self, project, application, card, ada, bob):
        services.add_comment(project=project, task_id=card.pk, body="Hi", author=ada)
        run_queued_jobs()
        assert Notification.objects.filter(recipient=bob).count() == 0  # Bob never watched
        notify_services.set_watching(user=bob, task_id=card.pk, watching=True)
        services.add_comment(project=project, task_id=card.pk, body="Again", author=ada)
        run_queued_jobs()
        assert Notification.objects.filter(recipient=bob).count() == 1
        services.remove_member(application=application, actor=ada, user_id=bob.pk)
        make_due("notifications.send_digest")
        run_queued_jobs()
        assert to(bob) == []


class TestUnsubscribe:
    def test_the_link_asks_then_unsubscribes_without_logging_in(self, project, card, ada, bob):
        services.add_comment(project=project, task_id=card.pk, body="Hi", author=bob)
        run_digests()
        url = to(ada)[0].extra_headers["List-Unsubscribe"][1:-1].removeprefix(SITE)
        client = Client(enforce_csrf_checks=True)  # a mail client's one-click POST carries no token
        page = client.get(url)
        assert page.status_code == 200 and b"Stop notification e-mails?" in page.content
        assert not NotificationSettings.objects.filter(user=ada).exists()  # GET changes nothing
        done = client.post(url, {"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and b"You are unsubscribed" in done.content
        assert NotificationSettings.objects.get(user=ada).email is False
        services.add_comment(project=project, task_id=card.pk, body="Still there?", author=bob)
        run_digests()
        assert len(to(ada)) == 1

    @pytest.mark.parametrize(
        "token",
        [
            "forged",
            emails.unsubscribe_token(1)[:-2] + "xx",
            "MQ:" + "a" * 43,
            "x" * 300,
        ],
    )
    def test_a_forged_link_is_refused(self, client, ada, token):
        assert client.get(f"/notifications/unsubscribe/{token}/").status_code == 404
        assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 404
        assert not NotificationSettings.objects.exists()

    def test_a_token_made_for_another_purpose_is_refused(self, client, ada):
        from django.core import signing

        token = signing.dumps(ada.pk)  # the default salt: not an unsubscribe token
        assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 404


class TestLostDigests:
    def test_notifications_left_without_a_digest_get_one(self, project, card, ada, bob):
        services.add_comment(project=project, task_id=card.pk, body="Hi", author=bob)
        run_queued_jobs()
        empty_queue()  # the digest lost (deleted by hand, or out of retries)
        assert tasks.queue_lost_digests(0) == 0  # too recent: its digest may still be on its way
        Notification.objects.update(created_at=timezone.now() - dt.timedelta(hours=1))
        assert tasks.queue_lost_digests(0) == 1
        run_queued_jobs()
        assert len(to(ada)) == 1
        assert tasks.queue_lost_digests(0) == 0
