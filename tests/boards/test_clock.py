"""The write clock (boards.clock): frozen_at dates every write the services make; ago says when."""

import datetime as dt

import pytest
from django.utils import timezone

from boards import clock, services
from boards.models import Task, TaskEvent
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db

MOMENT = timezone.make_aware(dt.datetime(2026, 3, 2, 10, 30))


class TestFrozenAt:
    def test_now_is_the_real_time_outside(self):
        before = timezone.now()
        assert before <= clock.now() <= timezone.now()

    def test_dates_the_card_its_archiving_and_every_event(self, project, columns, owner):
        with clock.frozen_at(MOMENT):
            task = services.create_task(project=project, status_id=columns["todo"].pk, title="Old", reporter=owner)
        with clock.frozen_at(MOMENT + dt.timedelta(days=2)):
            services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk)
        with clock.frozen_at(MOMENT + dt.timedelta(days=5)):
            services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)
        with clock.frozen_at(MOMENT + dt.timedelta(days=9)):
            services.archive_task(project=project, task_id=task.pk)
        task = Task.objects.get(pk=task.pk)
        assert task.created_at == MOMENT
        assert task.archived_at == MOMENT + dt.timedelta(days=9)
        events = list(TaskEvent.objects.filter(task_id=task.pk).order_by("seq"))
        assert [event.at - MOMENT for event in events] == [dt.timedelta(days=d) for d in (0, 2, 5, 9)]
        done = events[2]
        assert (done.started_at, done.task_created_at) == (MOMENT + dt.timedelta(days=2), MOMENT)
        assert_counts_exact(project)

    def test_dates_bulk_writes(self, project, columns):
        with clock.frozen_at(MOMENT):
            services.bulk_create_tasks(project=project, tasks=[Task(task_status=columns["todo"], title="A")])
        task = Task.objects.get(title="A")
        with clock.frozen_at(MOMENT + dt.timedelta(days=1)):
            services.bulk_move_tasks(project=project, task_ids=[task.pk], status_id=columns["done"].pk)
        with clock.frozen_at(MOMENT + dt.timedelta(days=3)):
            services.bulk_archive_tasks(project=project, task_ids=[task.pk])
        task.refresh_from_db()
        assert (task.created_at, task.archived_at) == (MOMENT, MOMENT + dt.timedelta(days=3))
        ats = list(TaskEvent.objects.filter(task_id=task.pk).order_by("seq").values_list("at", flat=True))
        assert ats == [MOMENT, MOMENT + dt.timedelta(days=1), MOMENT + dt.timedelta(days=3)]
        assert_counts_exact(project)

    def test_nests_and_always_resets(self):
        with clock.frozen_at(MOMENT):
            with clock.frozen_at(MOMENT + dt.timedelta(hours=1)):
                assert clock.now() == MOMENT + dt.timedelta(hours=1)
            assert clock.now() == MOMENT
            with pytest.raises(RuntimeError), clock.frozen_at(MOMENT - dt.timedelta(days=1)):
                raise RuntimeError
            assert clock.now() == MOMENT
        assert clock.now() > MOMENT

    def test_refuses_a_naive_moment(self):
        with pytest.raises(ValueError), clock.frozen_at(dt.datetime(2026, 3, 2)):
            pass


class TestAgo:
    NOW = MOMENT

    @pytest.mark.parametrize(
        ("seconds", "words"),
        [
            (0, "just now"),
            (59, "just now"),
            (60, "1 minute ago"),
            (5 * 60 + 30, "5 minutes ago"),
            (3600, "1 hour ago"),
            (3 * 3600, "3 hours ago"),
            (86400, "1 day ago"),
            (2 * 86400 + 5, "2 days ago"),
            (7 * 86400, "1 week ago"),
            (6 * 7 * 86400, "6 weeks ago"),
            (-30, "just now"),  # a clock a little ahead: never "in the future"
        ],
    )
    def test_words(self, seconds, words):
        assert clock.ago(self.NOW - dt.timedelta(seconds=seconds), self.NOW) == words

    def test_nothing_for_none(self):
        assert clock.ago(None) == ""
