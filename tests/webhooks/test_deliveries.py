"""Events to receivers through the real queue: procrastinate's worker, PostgreSQL, a loopback
HTTP receiver started by the test."""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app

from boards import services as boards
from boards.models import TaskEvent
from tests.support.queue import empty_queue, queued, run_queued_jobs
from webhooks import services, tasks
from webhooks.models import Attempt, Delivery, Webhook

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_jobs")]


class Boom(Exception):
    pass


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> int:
    """What a receiver does (README, "Webhooks"): the signed timestamp, or AssertionError."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"]), "bad signature"
    assert abs(time.time() - timestamp) <= tolerance, "stale timestamp"
    return timestamp


@pytest.fixture
def hook(project, owner, receiver, private_allowed):
    return services.create_webhook(project=project, url=receiver.url(), events=["all"], actor=owner)


class TestDelivered:
    def test_an_event_reaches_the_receiver_signed(self, hook, project, columns, editor, receiver):
        task = boards.create_task(project=project, status_id=columns["todo"].pk, title="Ship <it>", reporter=editor)
        run_queued_jobs()

        (request,) = receiver.requests
        assert request.path == "/hook"
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "Tasktrack-Webhooks/1"
        assert request.headers["X-Tasktrack-Event"] == "created"
        delivery = Delivery.objects.get(webhook=hook)
        assert request.headers["X-Tasktrack-Delivery"] == str(delivery.pk)
        timestamp = verify(hook.secret, request.headers["X-Tasktrack-Signature"], request.body)
        assert timestamp == int(delivery.last_attempt_at.timestamp())
        with pytest.raises(AssertionError, match="bad signature"):
            verify("whsec_wrong", request.headers["X-Tasktrack-Signature"], request.body)

        payload = request.json
        event = TaskEvent.objects.get(project=project)
        assert payload["kind"] == "created"
        assert (payload["id"], payload["seq"]) == (event.pk, event.seq)
        assert payload["project"] == {"id": project.pk, "key": "WEB", "name": project.name}
        assert payload["card"]["key"] == f"WEB-{task.number}"
        assert payload["card"]["title"] == "Ship <it>"
        assert payload["card"]["column"]["id"] == columns["todo"].pk
        assert payload["actor"]["username"] == editor.username
        assert payload["timestamp"]

        assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 1, 200)
        assert delivery.seq == event.seq and delivery.kind == "created"
        assert queued() == []

    def test_a_500_is_retried_and_the_second_attempt_delivers(self, hook, project, columns, editor, receiver, settings):
        settings.WEBHOOKS_RETRY_FIRST_WAIT = 0  # the retry is due at once, so this worker run takes it
        receiver.answer(500, b"database on fire")
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        run_queued_jobs()

        first, second = receiver.requests
        assert first.body == second.body
        assert first.headers["X-Tasktrack-Delivery"] == second.headers["X-Tasktrack-Delivery"]
        verify(hook.secret, second.headers["X-Tasktrack-Signature"], second.body)
        delivery = Delivery.objects.get(webhook=hook)
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("delivered", 2, 200)
        assert delivery.next_attempt_at is None
        log = list(delivery.attempt_log.values_list("number", "outcome", "response_code", "error"))
        assert log == [(1, "failed", 500, "HTTP 500"), (2, "delivered", 200, "")]

    def test_a_failed_attempt_waits_before_the_next(self, hook, project, columns, editor, receiver):
        receiver.answer(503, b"<script>alert(1)</script>")
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        before = timezone.now()
        run_queued_jobs()

        delivery = Delivery.objects.get(webhook=hook)
        assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, 503)
        assert delivery.response_excerpt == "<script>alert(1)</script>"
        assert delivery.error == "HTTP 503"
        wait = delivery.next_attempt_at - before
        assert dt.timedelta(seconds=29) <= wait <= dt.timedelta(seconds=40)
        (job,) = queued("webhooks.deliver")
        assert job.args == {"delivery_id": delivery.pk}
        assert abs(job.scheduled_at - delivery.next_attempt_at) < dt.timedelta(seconds=1)
        assert len(receiver.requests) == 1

    def test_retries_last_about_a_day_with_growing_pauses(self, settings):
        waits = [services.next_wait(n).total_seconds() for n in range(1, 30)]
        assert waits[:4] == [30, 60, 120, 240]
        assert max(waits) == settings.WEBHOOKS_RETRY_MAX_WAIT
        elapsed, attempts = 0, 1
        while elapsed + waits[attempts - 1] <= settings.WEBHOOKS_RETRY_FOR:
            elapsed += waits[attempts - 1]
            attempts += 1
        assert 12 <= attempts <= 16
        assert dt.timedelta(hours=20) <= dt.timedelta(seconds=elapsed) <= dt.timedelta(hours=24)


class TestWhatIsSent:
    def test_only_the_kinds_a_webhook_asked_for(self, hook, project, columns, editor, receiver):
        services.update_webhook(webhook=hook, url=hook.url, events=["moved"])
        task = boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        boards.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk, actor=editor)
        run_queued_jobs()
        assert [request.headers["X-Tasktrack-Event"] for request in receiver.requests] == ["moved"]
        assert receiver.requests[0].json["card"]["column"]["id"] == columns["active"].pk

    def test_a_rolled_back_change_sends_nothing(self, hook, project, columns, editor, receiver):
        with pytest.raises(Boom), transaction.atomic():
            boards.create_task(project=project, status_id=columns["todo"].pk, title="Gone", reporter=editor)
            raise Boom
        run_queued_jobs()
        assert not Delivery.objects.exists()
        assert receiver.requests == []

    def test_a_fan_out_run_twice_queues_each_delivery_once(self, hook, project, columns, editor):
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        events = list(TaskEvent.objects.filter(project=project).select_related("task", "actor"))
        assert len(services.queue_deliveries(events)) == 1
        assert services.queue_deliveries(events) == []
        assert Delivery.objects.count() == 1

    def test_a_deleted_card_is_described_by_what_its_event_kept(self, hook, project, columns, editor, receiver):
        task = boards.create_task(project=project, status_id=columns["todo"].pk, title="Doomed", reporter=editor)
        boards.delete_task(project=project, task_id=task.pk, actor=editor)
        run_queued_jobs()
        kinds = {request.headers["X-Tasktrack-Event"]: request.json for request in receiver.requests}
        assert kinds["deleted"]["card"]["title"] == "Doomed"
        assert kinds["deleted"]["card"]["exists"] is False

    def test_other_projects_webhooks_hear_nothing(self, hook, application, editor, receiver):
        from tests.factories import make_project

        other = make_project(application, name="Other", key="OTH")
        column = other.task_statuses.order_by("position").first()
        boards.create_task(project=other, status_id=column.pk, title="Elsewhere", reporter=editor)
        run_queued_jobs()
        assert receiver.requests == []


class TestRefusedAndDisabled:
    def test_a_loopback_target_is_refused_with_the_setting_off(
        self, hook, project, columns, editor, receiver, settings
    ):
        settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        run_queued_jobs()
        delivery = Delivery.objects.get(webhook=hook)
        assert delivery.status == "refused"
        assert "loopback" in delivery.error and delivery.response_code is None
        assert receiver.requests == []
        assert queued("webhooks.deliver") == []  # refused is final: no retry

    def test_repeated_failure_disables_the_webhook(self, hook, project, columns, editor, receiver, settings):
        settings.WEBHOOKS_RETRY_FOR = 0  # each delivery fails at its first attempt
        settings.WEBHOOKS_DISABLE_AFTER = 3
        for _ in range(3):
            receiver.answer(500)
        for n in range(3):
            boards.create_task(project=project, status_id=columns["todo"].pk, title=f"Card {n}", reporter=editor)
            run_queued_jobs()
        hook.refresh_from_db()
        assert not hook.active and hook.consecutive_failures == 3
        assert "last 3 deliveries failed" in hook.disabled_reason
        assert list(Delivery.objects.values_list("status", flat=True)) == ["failed"] * 3

        boards.create_task(project=project, status_id=columns["todo"].pk, title="Unheard", reporter=editor)
        run_queued_jobs()
        assert Delivery.objects.count() == 3 and len(receiver.requests) == 3

        services.enable_webhook(webhook=hook)
        boards.create_task(project=project, status_id=columns["todo"].pk, title="Heard", reporter=editor)
        run_queued_jobs()
        hook.refresh_from_db()
        assert hook.active and hook.consecutive_failures == 0
        assert Delivery.objects.first().status == "delivered"

    def test_a_success_resets_the_count(self, hook, project, columns, editor, receiver, settings):
        settings.WEBHOOKS_RETRY_FOR = 0
        receiver.answer(500)
        receiver.answer(500)
        for n in range(3):
            boards.create_task(project=project, status_id=columns["todo"].pk, title=f"Card {n}", reporter=editor)
            run_queued_jobs()
        hook.refresh_from_db()
        assert hook.active and hook.consecutive_failures == 0

    def test_a_webhook_switched_off_meanwhile_sends_nothing_more(self, hook, project, columns, editor, receiver):
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        run_queued_jobs(queues=["events"])  # the fan-out only: the delivery waits
        services.disable_webhook(webhook=hook, reason="off")
        run_queued_jobs()
        delivery = Delivery.objects.get(webhook=hook)
        assert delivery.status == "failed" and "disabled" in delivery.error
        assert receiver.requests == []


class TestSendTest:
    def test_a_ping_is_delivered_and_logged(self, hook, owner, receiver, client):
        client.force_login(owner)
        response = client.post(f"/projects/{hook.project_id}/webhooks/{hook.pk}/test/")
        assert response.status_code == 303
        run_queued_jobs()
        (request,) = receiver.requests
        assert request.headers["X-Tasktrack-Event"] == "ping"
        assert request.json["kind"] == "ping" and request.json["project"]["key"] == "WEB"
        verify(hook.secret, request.headers["X-Tasktrack-Signature"], request.body)
        page = client.get(f"/projects/{hook.project_id}/webhooks/{hook.pk}/").content.decode()
        assert "ping" in page and "delivered" in page

    def test_a_failed_ping_is_not_retried_nor_counted(self, hook, owner, receiver):
        receiver.answer(404, json.dumps({"error": "no such hook"}).encode())
        services.send_test(webhook=hook, actor=owner)
        run_queued_jobs()
        delivery = Delivery.objects.get(webhook=hook)
        assert (delivery.status, delivery.response_code, delivery.attempts) == ("failed", 404, 1)
        assert Webhook.objects.get(pk=hook.pk).consecutive_failures == 0
        assert queued() == []


class TestLostJobs:
    def test_an_attempt_whose_worker_died_is_queued_again_by_the_sweep(self, hook, project, columns, editor, receiver):
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        run_queued_jobs(queues=["events"])  # the fan-out: the delivery and its job exist
        delivery = Delivery.objects.get(webhook=hook)
        assert services.claim_attempt(delivery_id=delivery.pk) is not None  # a worker takes it...
        empty_queue()  # ... and dies: its job is gone with it
        assert services.requeue_overdue() == 0  # not yet: the attempt may still be running

        # Twenty minutes later, as the periodic sweep sees it.
        assert services.requeue_overdue(now=timezone.now() + dt.timedelta(minutes=20)) == 1
        run_queued_jobs()  # the lease has not run out in real time: the job finds nothing to do
        assert Delivery.objects.get(pk=delivery.pk).status == "pending" and receiver.requests == []

        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=20))
        assert services.requeue_overdue() == 1
        run_queued_jobs()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("delivered", 2)
        assert len(receiver.requests) == 1
        assert services.requeue_overdue(now=timezone.now() + dt.timedelta(days=2)) == 0

    def test_two_jobs_for_one_delivery_send_it_once(self, hook, project, columns, editor, receiver):
        boards.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=editor)
        run_queued_jobs(queues=["events"])
        delivery = Delivery.objects.get(webhook=hook)
        tasks.deliver.defer(delivery_id=delivery.pk)  # a second job, as a sweep over a slow queue makes
        run_queued_jobs()
        assert len(receiver.requests) == 1
        assert Delivery.objects.get(pk=delivery.pk).attempts == 1

    def test_the_sweep_runs_every_few_minutes(self):
        (periodic,) = [
            p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == "webhooks.requeue_overdue"
        ]
        assert periodic.cron == "*/5 * * * *"


class TestRetention:
    def test_settled_deliveries_older_than_the_kept_time_are_forgotten_with_their_attempts(
        self, hook, project, columns, editor, receiver
    ):
        for title in ("One", "Two", "Three"):
            boards.create_task(project=project, status_id=columns["todo"].pk, title=title, reporter=editor)
        run_queued_jobs()
        old, recent, waiting = Delivery.objects.filter(webhook=hook).order_by("pk")
        assert old.status == recent.status == "delivered" and Attempt.objects.count() == 3
        long_ago = timezone.now() - services.DELIVERIES_KEPT - dt.timedelta(hours=1)
        Delivery.objects.filter(pk__in=[old.pk, waiting.pk]).update(created_at=long_ago)
        Delivery.objects.filter(pk=waiting.pk).update(status="pending", next_attempt_at=timezone.now())

        assert services.forget_deliveries() == 1
        assert set(Delivery.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}  # pending: kept
        assert not Attempt.objects.filter(delivery_id=old.pk).exists()
        assert services.forget_deliveries() == 0

    def test_forgetting_runs_nightly(self):
        (periodic,) = [
            p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == "webhooks.forget_deliveries"
        ]
        assert periodic.cron == "40 3 * * *"
