"""The owners' pages: access (404 outside, 403 for editors and viewers), CSRF, forms, the log."""

import pytest
from django.test import Client
from django.utils import timezone

from boards.models import Membership
from tests.factories import MembershipFactory, make_project
from webhooks import services
from webhooks.models import Attempt, Delivery, Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(project, owner):
    return services.create_webhook(project=project, url="https://hooks.example.com/in", events=["all"], actor=owner)


def base(project):
    return f"/projects/{project.pk}/webhooks/"


WRITES = ["edit/", "secret/", "enable/", "disable/", "delete/", "test/"]


class TestAccess:
    def test_the_board_links_owners_to_the_page(self, owner_client, project, editor, client):
        assert base(project) in owner_client.get(f"/projects/{project.pk}/").content.decode()
        other = Client()
        other.force_login(editor)
        assert base(project) not in other.get(f"/projects/{project.pk}/").content.decode()

    @pytest.mark.parametrize("role", [Membership.Role.EDITOR, Membership.Role.VIEWER])
    def test_editors_and_viewers_cannot_manage(self, client, application, project, hook, role):
        client.force_login(MembershipFactory(application=application, role=role).user)
        assert client.get(base(project)).status_code == 403
        assert client.get(f"{base(project)}{hook.pk}/").status_code == 403
        assert client.post(f"{base(project)}add/", {"url": "https://x.example/", "events": "all"}).status_code == 403
        for action in WRITES:
            assert client.post(f"{base(project)}{hook.pk}/{action}").status_code == 403
        assert Webhook.objects.count() == 1 and not Delivery.objects.exists()
        assert hook.secret not in client.get(f"{base(project)}{hook.pk}/").content.decode()

    def test_outsiders_get_404(self, client, outsider, project, hook):
        client.force_login(outsider)
        assert client.get(base(project)).status_code == 404
        assert client.get(f"{base(project)}{hook.pk}/").status_code == 404
        for action in WRITES:
            assert client.post(f"{base(project)}{hook.pk}/{action}").status_code == 404
        assert Webhook.objects.filter(pk=hook.pk, active=True).exists()

    def test_another_workspaces_webhook_is_404_under_my_project(self, owner_client, project, outsider):
        theirs = make_project(Membership.objects.get(user=outsider).application, name="Theirs", key="THR")
        their_hook = services.create_webhook(project=theirs, url="https://t.example/", events=["all"], actor=outsider)
        assert owner_client.get(f"{base(project)}{their_hook.pk}/").status_code == 404
        for action in WRITES:
            assert owner_client.post(f"{base(project)}{their_hook.pk}/{action}").status_code == 404
        their_hook.refresh_from_db()
        assert their_hook.active and their_hook.url == "https://t.example/"

    def test_another_projects_webhook_is_404(self, owner_client, application, project, owner):
        other = make_project(application, name="Other", key="OTH")
        other_hook = services.create_webhook(project=other, url="https://o.example/", events=["all"], actor=owner)
        assert owner_client.get(f"{base(project)}{other_hook.pk}/").status_code == 404
        assert owner_client.get(f"{base(other)}{other_hook.pk}/").status_code == 200

    def test_anonymous_users_are_sent_to_log_in(self, client, project):
        response = client.get(base(project))
        assert response.status_code == 302 and "/login/" in response["Location"]

    def test_writes_need_the_csrf_token(self, owner, project, hook):
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner)
        assert client.post(f"{base(project)}add/", {"url": "https://x.example/", "events": "all"}).status_code == 403
        for action in WRITES:
            assert client.post(f"{base(project)}{hook.pk}/{action}").status_code == 403
        assert Webhook.objects.count() == 1 and Webhook.objects.get().secret == hook.secret

    def test_reads_are_get_and_writes_post(self, owner_client, project, hook):
        assert owner_client.post(base(project)).status_code == 405
        assert owner_client.get(f"{base(project)}add/").status_code == 405
        assert owner_client.get(f"{base(project)}{hook.pk}/test/").status_code == 405


class TestManaging:
    def test_add(self, owner_client, project, owner):
        response = owner_client.post(
            f"{base(project)}add/", {"url": "https://hooks.example.com/a", "events": ["created", "moved"]}
        )
        webhook = Webhook.objects.get()
        assert response.status_code == 303 and response["Location"] == f"{base(project)}{webhook.pk}/"
        assert (webhook.project, webhook.created_by, webhook.events) == (project, owner, ["created", "moved"])
        assert webhook.secret.startswith("whsec_") and len(webhook.secret) > 40
        page = owner_client.get(response["Location"]).content.decode()
        assert webhook.secret in page

    def test_bad_input_is_said_and_nothing_is_added(self, owner_client, project):
        response = owner_client.post(f"{base(project)}add/", {"url": "http://u:p@example.com/<b>", "events": "nope"})
        assert response.status_code == 422
        page = response.content.decode()
        assert "Leave credentials out of the URL" in page and "That is not an event." in page
        assert "&lt;b&gt;" in page and "<b>" not in page.split("<main")[1].split("Payload URL")[1][:300]
        assert not Webhook.objects.exists()

    def test_edit(self, owner_client, project, hook):
        edit = f"{base(project)}{hook.pk}/edit/"
        response = owner_client.post(edit, {"url": "https://n.example/", "events": "moved"})
        assert response.status_code == 303
        hook.refresh_from_db()
        assert (hook.url, hook.events) == ("https://n.example/", ["moved"])
        response = owner_client.post(edit, {"url": "gopher://x", "events": "moved"})
        assert response.status_code == 422 and "http:// or https://" in response.content.decode()
        hook.refresh_from_db()
        assert hook.url == "https://n.example/"

    def test_rotate_the_secret(self, owner_client, project, hook):
        old = hook.secret
        assert owner_client.post(f"{base(project)}{hook.pk}/secret/").status_code == 303
        hook.refresh_from_db()
        assert hook.secret != old and hook.secret.startswith("whsec_")

    def test_switch_off_and_on_again(self, owner_client, project, hook, settings):
        settings.WEBHOOKS_DISABLE_AFTER = 1
        services._count(hook, delivered=False)  # one failure disables it, as the worker would
        hook.refresh_from_db()
        assert not hook.active
        page = owner_client.get(f"{base(project)}{hook.pk}/").content.decode()
        assert "Disabled automatically: the last 1 deliveries failed." in page
        assert owner_client.post(f"{base(project)}{hook.pk}/enable/").status_code == 303
        hook.refresh_from_db()
        assert hook.active and hook.consecutive_failures == 0 and hook.disabled_at is None
        owner_client.post(f"{base(project)}{hook.pk}/disable/")
        hook.refresh_from_db()
        assert not hook.active and "Switched off by" in hook.disabled_reason

    def test_delete(self, owner_client, project, hook):
        response = owner_client.post(f"{base(project)}{hook.pk}/delete/")
        assert response.status_code == 303 and response["Location"] == base(project)
        assert not Webhook.objects.exists()

    def test_send_test_queues_a_ping(self, owner_client, project, hook):
        assert owner_client.post(f"{base(project)}{hook.pk}/test/").status_code == 303
        delivery = Delivery.objects.get()
        assert (delivery.kind, delivery.seq, delivery.status) == ("ping", None, "pending")


def make_deliveries(hook, n):
    Delivery.objects.bulk_create(
        Delivery(webhook=hook, kind="created", seq=seq, payload={"seq": seq}, status="delivered", response_code=200)
        for seq in range(1, n + 1)
    )


class TestTheLog:
    def test_newest_first_in_pages(self, owner_client, project, hook):
        make_deliveries(hook, 30)
        first = owner_client.get(f"{base(project)}{hook.pk}/").content.decode()
        second = owner_client.get(f"{base(project)}{hook.pk}/?page=2").content.decode()
        newest, oldest = Delivery.objects.order_by("-pk")[0], Delivery.objects.order_by("pk")[0]
        assert f'id="delivery-{newest.pk}"' in first and f'id="delivery-{oldest.pk}"' not in first
        assert f'id="delivery-{oldest.pk}"' in second and f'id="delivery-{newest.pk}"' not in second
        assert first.count('class="delivery-delivered"') == 25 and second.count('class="delivery-delivered"') == 5

    @pytest.mark.parametrize("page", ["abc", "-1", "1.5", "99999999999999999999999"])
    def test_a_malformed_page_is_400(self, owner_client, project, hook, page):
        assert owner_client.get(f"{base(project)}{hook.pk}/?page={page}").status_code == 400

    def test_what_a_receiver_answered_is_escaped(self, owner_client, project, hook):
        Delivery.objects.create(
            webhook=hook, kind="created", seq=1, payload={}, status="pending", response_code=500,
            response_excerpt="<script>alert(1)</script>", error="HTTP 500 <img src=x>",
        )  # fmt: skip
        page = owner_client.get(f"{base(project)}{hook.pk}/").content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
        assert "&lt;img src=x&gt;" in page

    def test_each_attempt_is_listed(self, owner_client, project, hook):
        make_deliveries(hook, 1)
        delivery = Delivery.objects.get()
        delivery.attempts = 2
        delivery.save()
        now = timezone.now()
        Attempt.objects.create(
            delivery=delivery, number=1, at=now, outcome="failed", response_code=502, error="HTTP 502"
        )
        Attempt.objects.create(delivery=delivery, number=2, at=now, outcome="delivered", response_code=200)
        page = owner_client.get(f"{base(project)}{hook.pk}/").content.decode()
        assert "2 attempts" in page and "failed (502) · HTTP 502" in page and "delivered (200)" in page

    def test_query_counts_do_not_grow_with_the_log(self, owner_client, project, hook, django_assert_num_queries):
        url = f"{base(project)}{hook.pk}/"
        owner_client.get(url)  # warm: session, user, compiled reads
        # Session, user, project with the role, webhook, an empty log's count.
        with django_assert_num_queries(4):
            owner_client.get(url)
        make_deliveries(hook, 60)
        # ... and one page of the log, and its deliveries' attempts.
        with django_assert_num_queries(6):
            owner_client.get(url)
        with django_assert_num_queries(6):
            owner_client.get(url + "?page=3")

    def test_list_page_query_count(self, owner_client, project, owner, django_assert_num_queries):
        owner_client.get(base(project))
        # Session, user, project with the role, the webhooks.
        with django_assert_num_queries(3):
            assert owner_client.get(base(project)).status_code == 200
        for n in range(5):
            services.create_webhook(project=project, url=f"https://h{n}.example/", events=["all"], actor=owner)
        with django_assert_num_queries(3):
            page = owner_client.get(base(project)).content.decode()
        assert "https://h4.example/" in page


class TestAdmin:
    def test_the_log_is_readable_and_not_writable_there(self, client, hook, django_user_model):
        admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-long-enough-1")
        client.force_login(admin)
        make_deliveries(hook, 3)
        assert client.get("/admin/webhooks/webhook/").status_code == 200
        assert client.get("/admin/webhooks/delivery/").status_code == 200
        assert client.get("/admin/webhooks/delivery/add/").status_code == 403


class TestHostileInput:
    @pytest.mark.parametrize(
        "data",
        [
            {"url": "https://x.example/", "events": ["created"] * 500},
            {"url": ["https://x.example/", "https://y.example/"], "events": "all"},
            {"url": "https://x.example/" + "%00" * 10, "events": "all"},
            {"url": "http://[fe80::1%25eth0]/", "events": "all"},
            {"url": "http://xn--/", "events": "all"},
            {"events": "all"},
            {},
        ],
    )
    def test_never_a_500(self, owner_client, project, data):
        response = owner_client.post(f"{base(project)}add/", data)
        assert response.status_code in (303, 422)
