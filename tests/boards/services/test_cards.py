"""What the task operations do besides counting: conflicts, limits, boundaries, ranks."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import services
from boards.models import Task
from tests.factories import make_project
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


def task_writes(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith('UPDATE "boards_task"')]


def create(project, column, owner, title="card", **kwargs):
    return services.create_task(project=project, status_id=column.pk, title=title, reporter=owner, **kwargs)


class TestUpdateTask:
    def test_edits_and_bumps_the_version(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        edited = services.update_task(project=project, task_id=task.pk, version=1, title="  New   title ")
        assert (edited.title, edited.version) == ("New title", 2)

    def test_stale_version_is_refused(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        services.update_task(project=project, task_id=task.pk, version=1, description="theirs")
        with pytest.raises(services.StaleVersion, match="Someone else changed this card"):
            services.update_task(project=project, task_id=task.pk, version=1, description="mine")
        stored = Task.objects.get(pk=task.pk)
        assert (stored.description, stored.version) == ("theirs", 2)

    def test_no_change_keeps_the_version(self, project, columns, owner):
        task = create(project, columns["todo"], owner, title="Same")
        assert services.update_task(project=project, task_id=task.pk, version=1, title="Same").version == 1

    def test_text_edit_never_touches_the_counts(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        with CaptureQueriesContext(connection) as captured:
            services.update_task(project=project, task_id=task.pk, version=1, title="x", assignee=owner)
        assert not any("aggregates_" in q["sql"] for q in captured.captured_queries)

    def test_empty_title_refused(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        with pytest.raises(ValidationError):
            services.update_task(project=project, task_id=task.pk, version=1, title="   ")


class TestWipHardLimit:
    @pytest.fixture
    def full(self, project, columns, owner):
        column = services.update_column(
            project=project, status_id=columns["active"].pk, name="Doing", category="active", wip_limit=2, wip_hard=True
        )
        for i in range(2):
            create(project, column, owner, title=f"in {i}")
        return column

    def test_create_refused(self, project, full, owner):
        with pytest.raises(services.WipLimitReached, match="its limit is 2"):
            create(project, full, owner)
        assert_counts_exact(project)

    def test_move_in_refused_but_move_within_allowed(self, project, columns, full, owner):
        outside = create(project, columns["todo"], owner)
        with pytest.raises(services.WipLimitReached):
            services.move_task(project=project, task_id=outside.pk, status_id=full.pk)
        inside = Task.objects.filter(task_status=full).first()
        services.move_task(project=project, task_id=inside.pk, status_id=full.pk)  # reorder within: fine
        assert_counts_exact(project)

    def test_unarchive_refused(self, project, full):
        inside = Task.objects.filter(task_status=full).first()
        services.archive_task(project=project, task_id=inside.pk)
        create(project, full, None, title="took the place")
        with pytest.raises(services.WipLimitReached):
            services.unarchive_task(project=project, task_id=inside.pk)
        assert Task.objects.get(pk=inside.pk).is_archived
        assert_counts_exact(project)

    def test_bulk_move_refused_as_a_whole(self, project, columns, full, owner):
        cards = [create(project, columns["todo"], owner, title=f"t{i}") for i in range(2)]
        services.archive_task(project=project, task_id=Task.objects.filter(task_status=full).first().pk)
        with pytest.raises(services.WipLimitReached):
            services.bulk_move_tasks(project=project, task_ids=[c.pk for c in cards], status_id=full.pk)
        assert Task.objects.filter(pk__in=[c.pk for c in cards], task_status=columns["todo"]).count() == 2
        services.bulk_move_tasks(project=project, task_ids=[cards[0].pk], status_id=full.pk)
        assert_counts_exact(project)

    def test_soft_limit_only_marks(self, project, columns, owner):
        soft = services.update_column(
            project=project, status_id=columns["review"].pk, name="Review", category="review", wip_limit=1
        )
        create(project, soft, owner)
        create(project, soft, owner)
        assert_counts_exact(project)


class TestProjectBoundaries:
    @pytest.fixture
    def other(self, application):
        return make_project(application, name="Other", key="OTH")

    def test_create_in_another_projects_column_refused(self, project, other, owner):
        with pytest.raises(ValidationError, match="not on this board"):
            create(project, other.task_statuses.first(), owner)

    def test_move_to_another_projects_column_refused(self, project, columns, other, owner):
        task = create(project, columns["todo"], owner)
        with pytest.raises(ValidationError, match="not on this board"):
            services.move_task(project=project, task_id=task.pk, status_id=other.task_statuses.first().pk)
        with pytest.raises(ValidationError):
            services.bulk_move_tasks(project=project, task_ids=[task.pk], status_id=other.task_statuses.first().pk)
        assert_counts_exact(project, other)

    def test_operations_through_the_wrong_project_find_no_card(self, project, columns, other, owner):
        task = create(project, columns["todo"], owner)
        for operation in (services.archive_task, services.delete_task, services.unarchive_task):
            with pytest.raises(Task.DoesNotExist):
                operation(project=other, task_id=task.pk)
        with pytest.raises(Task.DoesNotExist):
            services.bulk_archive_tasks(project=other, task_ids=[task.pk])
        with pytest.raises(Task.DoesNotExist):
            services.update_task(project=other, task_id=task.pk, version=1, title="x")
        assert Task.objects.get(pk=task.pk).is_archived is False
        assert_counts_exact(project, other)

    def test_bulk_create_refuses_foreign_columns(self, project, other):
        with pytest.raises(ValidationError, match="names a column that is not on this board"):
            services.bulk_create_tasks(
                project=project, tasks=[Task(title="x", task_status=other.task_statuses.first(), position=0.0)]
            )
        assert_counts_exact(project, other)


class TestOtherRules:
    def test_archived_card_cannot_move(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        services.archive_task(project=project, task_id=task.pk)
        with pytest.raises(ValidationError, match="archived"):
            services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk)

    def test_archive_and_unarchive_are_idempotent(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        services.archive_task(project=project, task_id=task.pk)
        services.archive_task(project=project, task_id=task.pk)
        services.unarchive_task(project=project, task_id=task.pk)
        services.unarchive_task(project=project, task_id=task.pk)
        assert_counts_exact(project)

    def test_deleted_card_reported_gone(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        services.delete_task(project=project, task_id=task.pk)
        for operation in (services.archive_task, services.delete_task):
            with pytest.raises(Task.DoesNotExist, match="no longer exists"):
                operation(project=project, task_id=task.pk)
        with pytest.raises(Task.DoesNotExist, match="no longer exist"):
            services.bulk_move_tasks(project=project, task_ids=[task.pk], status_id=columns["done"].pk)

    def test_bad_ids_refused(self, project, columns):
        with pytest.raises(Task.DoesNotExist):
            services.move_task(project=project, task_id="abc", status_id=columns["done"].pk)
        with pytest.raises(ValidationError):
            services.bulk_archive_tasks(project=project, task_ids=["abc"])


class TestRanks:
    def test_a_move_writes_only_the_moved_row(self, project, columns, owner):
        cards = [create(project, columns["todo"], owner, title=f"c{i}", at_top=False) for i in range(6)]
        with CaptureQueriesContext(connection) as captured:
            services.move_task(project=project, task_id=cards[0].pk, status_id=columns["todo"].pk, after_id=cards[3].pk)
        (write,) = task_writes(captured)
        assert f'WHERE "boards_task"."id" = {cards[0].pk}' in write
        order = list(
            Task.objects.filter(task_status=columns["todo"]).order_by("position", "pk").values_list("pk", flat=True)
        )
        assert order == [c.pk for c in cards[1:4]] + [cards[0].pk] + [c.pk for c in cards[4:]]

    def test_renumber_only_when_ranks_run_out(self, project, columns, owner):
        low, high, mover = (create(project, columns["todo"], owner, title=t, at_top=False) for t in "abc")
        renumbers = 0
        for _ in range(60):  # halving a gap of 1024 runs out after ~30 moves
            with CaptureQueriesContext(connection) as captured:
                services.move_task(project=project, task_id=mover.pk, status_id=columns["todo"].pk, after_id=low.pk)
            writes = task_writes(captured)
            if len(writes) == 2:
                renumbers += 1
                assert "CASE WHEN" in writes[0]  # one UPDATE renumbers the column, then the move
            else:
                assert len(writes) == 1
            # Next round: move "low" between mover and high, keeping the gap halving.
            low, mover = mover, low
        assert 1 <= renumbers <= 3
        positions = list(Task.objects.filter(task_status=columns["todo"]).values_list("position", flat=True))
        assert len(set(positions)) == 3
        assert_counts_exact(project)

    def test_bulk_move_keeps_the_cards_order_at_the_bottom(self, project, columns, owner):
        target = [create(project, columns["done"], owner, title="already", at_top=False)]
        cards = [create(project, columns["todo"], owner, title=f"c{i}", at_top=False) for i in range(3)]
        services.bulk_move_tasks(
            project=project, task_ids=[c.pk for c in reversed(cards)], status_id=columns["done"].pk
        )
        order = list(
            Task.objects.filter(task_status=columns["done"]).order_by("position", "pk").values_list("pk", flat=True)
        )
        assert order == [t.pk for t in target] + [c.pk for c in cards]
        assert_counts_exact(project)


class TestEmptyBulkOperations:
    def test_nothing_selected_changes_nothing(self, project, columns):
        with CaptureQueriesContext(connection) as captured:
            assert services.bulk_archive_tasks(project=project, task_ids=[]) == []
            assert services.bulk_move_tasks(project=project, task_ids=[], status_id=columns["done"].pk) == []
            assert services.bulk_create_tasks(project=project, tasks=[]) == 0
        assert [q["sql"] for q in captured.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))] == []
        assert_counts_exact(project)


def test_non_finite_task_id_is_a_missing_card(project):
    with pytest.raises(Task.DoesNotExist):
        services.archive_task(project=project, task_id=float("inf"))


@pytest.mark.django_db(transaction=True)
def test_opposite_moves_between_hard_limited_columns_do_not_deadlock(project, columns, owner):
    """Each move locks both columns in id order; before, each took its target FOR UPDATE and the
    other's FOR SHARE, and two moves in opposite directions deadlocked (a 500 for one of them)."""
    import threading

    from django.db import connections

    left, right = columns["active"], columns["review"]
    for column in (left, right):
        column.wip_limit, column.wip_hard = 100, True
        column.save()
    cards = {"a": create(project, left, owner, "a").pk, "b": create(project, right, owner, "b").pk}
    failures = []

    def shuttle(card, first, second):
        try:
            for turn in range(150):
                target = second if turn % 2 == 0 else first
                services.move_task(project=project, task_id=cards[card], status_id=target.pk)
        except Exception as error:  # noqa: BLE001 - any failure fails the test below
            failures.append(repr(error))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=shuttle, args=("a", left, right)),
        threading.Thread(target=shuttle, args=("b", right, left)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert_counts_exact(project)


@pytest.mark.django_db(transaction=True)
def test_a_deadlocked_operation_runs_again_only_as_the_outermost_transaction():
    import psycopg
    from django.db import OperationalError, transaction

    calls = []

    @services.retry_on_deadlock
    def deadlocks_once():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("deadlock detected") from psycopg.errors.DeadlockDetected()
        return "done"

    assert deadlocks_once() == "done" and len(calls) == 2
    calls.clear()
    with pytest.raises(OperationalError), transaction.atomic():
        deadlocks_once()  # the caller's transaction is lost: no second try inside it
    assert len(calls) == 1


def column_order(column) -> list[str]:
    return list(
        Task.objects.live().filter(task_status=column).order_by("position", "pk").values_list("title", flat=True)
    )


class TestUnarchivePutsTheCardBack:
    """Undo after archiving: the card returns between the neighbours it left, or the nearest place."""

    @pytest.fixture
    def todo(self, project, columns, owner):
        for title in ("E", "D", "C", "B", "A"):  # each at the top: A B C D E
            create(project, columns["todo"], owner, title=title)
        return columns["todo"]

    def card(self, title):
        return Task.objects.get(title=title)

    def test_between_the_same_neighbours(self, project, todo):
        services.archive_task(project=project, task_id=self.card("C").pk)
        task = services.unarchive_task(project=project, task_id=self.card("C").pk)
        assert column_order(todo) == ["A", "B", "C", "D", "E"]
        assert task.previous_id == self.card("B").pk  # where the page inserts it

    def test_the_top_and_the_bottom_stay_the_top_and_the_bottom(self, project, todo):
        for title, expected in (("A", ["A", "B", "C", "D", "E"]), ("E", ["A", "B", "C", "D", "E"])):
            services.archive_task(project=project, task_id=self.card(title).pk)
            task = services.unarchive_task(project=project, task_id=self.card(title).pk)
            assert column_order(todo) == expected
        assert task.previous_id == self.card("D").pk
        services.archive_task(project=project, task_id=self.card("A").pk)
        assert services.unarchive_task(project=project, task_id=self.card("A").pk).previous_id is None

    def test_a_neighbour_gone_gives_the_nearest_place(self, project, columns, todo):
        services.archive_task(project=project, task_id=self.card("C").pk)
        services.move_task(project=project, task_id=self.card("B").pk, status_id=columns["done"].pk)
        services.delete_task(project=project, task_id=self.card("D").pk)
        services.unarchive_task(project=project, task_id=self.card("C").pk)
        assert column_order(todo) == ["A", "C", "E"]

    def test_cards_moved_around_it_meanwhile(self, project, todo):
        services.archive_task(project=project, task_id=self.card("C").pk)
        # D dragged above B (A D B E), then B to the bottom (A D E B): C's old rank lies between D and E.
        services.move_task(project=project, task_id=self.card("D").pk, status_id=todo.pk, before_id=self.card("B").pk)
        services.move_task(project=project, task_id=self.card("B").pk, status_id=todo.pk)
        services.unarchive_task(project=project, task_id=self.card("C").pk)
        assert column_order(todo) == ["A", "D", "C", "E", "B"]

    def test_a_card_dropped_into_its_spot_keeps_both_between_the_old_neighbours(self, project, columns, todo, owner):
        services.archive_task(project=project, task_id=self.card("C").pk)
        other = create(project, columns["done"], owner, title="X")
        # X lands exactly on C's old rank (the midpoint of B and D): ties are ordered by id.
        services.move_task(project=project, task_id=other.pk, status_id=todo.pk, after_id=self.card("B").pk)
        services.unarchive_task(project=project, task_id=self.card("C").pk)
        assert column_order(todo) == ["A", "B", "C", "X", "D", "E"]

    def test_an_emptied_column_and_a_renumbered_one(self, project, todo):
        services.archive_task(project=project, task_id=self.card("C").pk)
        services.renumber_column(todo)
        services.unarchive_task(project=project, task_id=self.card("C").pk)
        assert column_order(todo) == ["A", "B", "C", "D", "E"]
        for title in "ABDE":
            services.delete_task(project=project, task_id=self.card(title).pk)
        services.archive_task(project=project, task_id=self.card("C").pk)
        services.unarchive_task(project=project, task_id=self.card("C").pk)
        assert column_order(todo) == ["C"]
        assert_counts_exact(project)
