"""Who is told what: the fan-out consumer run by procrastinate's real worker on committed events."""

import pytest
from django.db import transaction

from boards import services
from boards.models import TaskEvent
from jobs import fanout
from notifications import services as notify_services
from notifications.consumer import notify
from notifications.models import Notification, Watch
from tests.support.queue import queued, run_queued_jobs

pytestmark = pytest.mark.django_db(transaction=True)

Kind = Notification.Kind


def told(user=None) -> list[tuple[str, str, str | None]]:
    """(recipient, kind, actor) of every notification (of one user), oldest first."""
    rows = Notification.objects.order_by("id").select_related("recipient", "actor")
    if user is not None:
        rows = rows.filter(recipient=user)
    return [(n.recipient.username, n.kind, n.actor.username if n.actor else None) for n in rows]


def watchers(card) -> set[str]:
    return set(Watch.objects.filter(task_id=card.pk, watching=True).values_list("user__username", flat=True))


def comment(project, card, user, body="Looks good"):
    return services.add_comment(project=project, task_id=card.pk, body=body, author=user)


class TestWhoIsTold:
    def test_a_comment_tells_the_watchers_but_not_its_author(self, project, card, ada, bob, cat):
        comment(project, card, bob)
        run_queued_jobs()
        assert told() == [("ada", Kind.COMMENTED, "bob")]
        assert watchers(card) == {"ada", "bob"}  # the creator, and now the commenter
        comment(project, card, ada, "Thanks")
        run_queued_jobs()
        assert told(bob) == [("bob", Kind.COMMENTED, "ada")]
        assert told(ada) == [("ada", Kind.COMMENTED, "bob")]  # not of her own comment

    def test_a_mention_tells_the_person_mentioned_once(self, project, card, ada, bob, cat):
        comment(project, card, bob, "@cat and @ada, have a look")
        run_queued_jobs()
        # Ada watches and is mentioned: told once, as mentioned.
        assert sorted(told()) == [("ada", Kind.MENTIONED, "bob"), ("cat", Kind.MENTIONED, "bob")]
        assert Notification.objects.get(recipient=cat).detail == "@cat and @ada, have a look"

    def test_an_edited_comment_tells_only_the_newly_mentioned(self, project, card, ada, bob, cat, owner):
        said = comment(project, card, bob, "@cat look")
        run_queued_jobs()
        services.edit_comment(project=project, task_id=card.pk, comment_id=said.pk, body="@cat @ada look", actor=bob)
        run_queued_jobs()
        assert sorted(told()) == [
            ("ada", Kind.COMMENTED, "bob"),
            ("ada", Kind.MENTIONED, "bob"),
            ("cat", Kind.MENTIONED, "bob"),
        ]

    def test_a_mention_in_a_description(self, project, columns, ada, bob, cat):
        services.create_task(
            project=project, status_id=columns["todo"].pk, title="T", description="For @cat", reporter=ada
        )
        run_queued_jobs()
        assert told() == [("cat", Kind.MENTIONED, "ada")]

    def test_assignment_tells_the_assignee_who_then_watches(self, project, card, ada, bob, cat):
        services.update_task(project=project, task_id=card.pk, version=card.version, assignee=cat, actor=bob)
        run_queued_jobs()
        assert told() == [("cat", Kind.ASSIGNED, "bob")]
        assert watchers(card) == {"ada", "cat"}

    def test_assigning_oneself_tells_nobody(self, project, card, ada, cat):
        services.assign_task_to(project=project, task_id=card.pk, user=cat)
        run_queued_jobs()
        assert told() == []
        assert "cat" in watchers(card)

    def test_a_card_created_assigned_tells_its_assignee(self, project, columns, ada, bob):
        services.create_task(project=project, status_id=columns["todo"].pk, title="T", reporter=ada, assignee=bob)
        run_queued_jobs()
        assert told() == [("bob", Kind.ASSIGNED, "ada")]

    def test_a_card_reassigned_before_the_job_runs_tells_each_assignee_once(self, project, columns, ada, bob, cat):
        card = services.create_task(
            project=project, status_id=columns["todo"].pk, title="T", reporter=ada, assignee=bob
        )
        services.update_task(project=project, task_id=card.pk, version=card.version, assignee=cat, actor=ada)
        assert TaskEvent.objects.get(task=card, kind="created").data["assignee_id"] == bob.pk
        run_queued_jobs()
        assert sorted(told()) == [("bob", Kind.ASSIGNED, "ada"), ("cat", Kind.ASSIGNED, "ada")]

    def test_a_created_event_from_before_it_named_its_assignee_still_tells_them(self, project, columns, ada, bob):
        card = services.create_task(
            project=project, status_id=columns["todo"].pk, title="T", reporter=ada, assignee=bob
        )
        event = TaskEvent.objects.get(task=card, kind="created")
        del event.data["assignee_id"]
        event.save(update_fields=["data"])
        run_queued_jobs()
        assert told() == [("bob", Kind.ASSIGNED, "ada")]

    def test_a_move_tells_the_watchers(self, project, columns, card, ada, bob):
        services.move_task(project=project, task_id=card.pk, status_id=columns["active"].pk, actor=bob)
        run_queued_jobs()
        assert told() == [("ada", Kind.MOVED, "bob")]
        assert Notification.objects.get().detail == columns["active"].name
        services.move_task(project=project, task_id=card.pk, status_id=columns["done"].pk, actor=ada)
        run_queued_jobs()
        assert len(told()) == 1  # her own move tells her nothing

    def test_other_changes_tell_nobody(self, project, card, ada, bob):
        services.update_task(project=project, task_id=card.pk, version=card.version, title="Renamed", actor=bob)
        services.archive_task(project=project, task_id=card.pk, actor=bob)
        run_queued_jobs()
        assert told() == []


class TestWatching:
    def test_an_explicit_unwatch_stops_comments_and_outlasts_automatic_watches(self, project, card, ada, bob, cat):
        comment(project, card, cat, "Me too")
        run_queued_jobs()
        notify_services.set_watching(user=cat, task_id=card.pk, watching=False)
        comment(project, card, cat, "Again")  # commenting watches automatically, but not over an unwatch
        services.update_task(project=project, task_id=card.pk, version=card.version, assignee=cat, actor=bob)
        comment(project, card, bob, "Hello")
        run_queued_jobs()
        assert [kind for _, kind, _ in told(cat)] == [Kind.ASSIGNED]
        assert "cat" not in watchers(card)

    def test_an_explicit_watch_tells_of_comments(self, project, card, ada, bob, cat):
        notify_services.set_watching(user=cat, task_id=card.pk, watching=True)
        comment(project, card, bob)
        run_queued_jobs()
        assert ("cat", Kind.COMMENTED, "bob") in told()


class TestOnlyMembers:
    def test_a_member_removed_before_the_job_runs_is_told_nothing(self, project, application, card, ada, bob, cat):
        comment(project, card, cat)
        run_queued_jobs()
        services.update_task(project=project, task_id=card.pk, version=card.version, assignee=cat, actor=bob)
        comment(project, card, bob, "@cat still there?")
        services.remove_member(application=application, actor=ada, user_id=cat.pk)
        run_queued_jobs()
        assert told(cat) == []
        assert [kind for _, kind, _ in told(ada)] == [Kind.COMMENTED, Kind.COMMENTED]


class TestIdempotent:
    def test_running_the_same_events_again_tells_nobody_twice(self, project, columns, card, ada, bob, cat):
        comment(project, card, bob, "@cat hi")
        services.move_task(project=project, task_id=card.pk, status_id=columns["active"].pk, actor=bob)
        services.update_task(project=project, task_id=card.pk, version=card.version, assignee=cat, actor=bob)
        run_queued_jobs()
        before = told()
        watches = Watch.objects.count()
        assert len(before) == 4
        last = TaskEvent.objects.filter(project=project).order_by("-seq").values_list("seq", flat=True).first()
        fanout.fan_out(project.pk, 1, last)  # a retry after a worker died, and more
        fanout.fan_out(project.pk, 1, last)
        assert told() == before
        assert Watch.objects.count() == watches
        run_queued_jobs()
        assert told() == before

    def test_one_digest_waits_per_user_however_many_events(self, project, card, ada, bob):
        for n in range(5):
            comment(project, card, bob, f"Comment {n}")
        run_queued_jobs()
        assert len(told(ada)) == 5
        (digest,) = queued("notifications.send_digest")
        assert digest.args == {"user_id": ada.pk}
        assert digest.queueing_lock == f"digest:{ada.pk}"


class TestCost:
    def test_a_batch_costs_the_same_whatever_its_events(
        self, project, columns, card, ada, bob, cat, django_assert_num_queries
    ):
        """Reads: watches, mentions, members (the assignment history only for cards created
        assigned); writes: the inserts (watches only when there are new ones), in a savepoint
        here, and each recipient's digest (a savepoint, the insert, its release). The bell
        follows on commit."""
        notify_services.set_watching(user=cat, task_id=card.pk, watching=True)
        for n in range(3):
            comment(project, card, bob, f"@cat {n}")
        services.move_task(project=project, task_id=card.pk, status_id=columns["active"].pk, actor=bob)
        events = fanout.events_between(project.pk, 1, 10)
        # The first batch makes watches (Ada's, Bob's); the whole log, replayed, makes none.
        # The second finds both digests waiting: each refused insert costs a rollback to its savepoint.
        for batch, queries in ((events[:2], 7 + 2 * 3), (events, 6 + 2 * 4)):
            Notification.objects.all().delete()
            with transaction.atomic(), django_assert_num_queries(queries):
                notify(batch)
        assert len(told(ada)) == 4 and len(told(cat)) == 4  # Ada: comments and the move; Cat: mentions, move
