"""A project with tasks but no counts row: the first write bootstraps it (ARCHITECTURE.md)."""

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from aggregates import counts
from aggregates.counts import INIT_KEY, get_or_create_project_aggregation
from aggregates.models import ProjectTaskStatusAgg
from boards import services
from boards.models import Task
from tests.support import ports
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db

EXISTING = 1200

# A cache that cannot connect: a port that refuses connections, the settings' timeouts.
DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{ports.refused_port()}/1",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.3, "SOCKET_TIMEOUT": 0.5, "IGNORE_EXCEPTIONS": True},
    }
}


def group_bys(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "GROUP BY" in q["sql"]]


@pytest.fixture
def rowless(project, columns, owner):
    """A project with 1,200 tasks in every column (some archived) and no counts row."""
    order = ["todo", "active", "review", "issue", "done"]
    tasks = [
        Task(
            title=f"old {i}",
            task_status=columns[order[i % 5]],
            reporter=owner,
            position=float(i),
            archived_at=timezone.now() if i % 7 == 0 else None,
        )
        for i in range(EXISTING)
    ]
    services.bulk_create_tasks(project=project, tasks=tasks)
    ProjectTaskStatusAgg.objects.filter(pk=project.pk).delete()
    return project


def key(project) -> str:
    return INIT_KEY.format(project_id=project.pk)


def create(project, column, owner, title="first"):
    return services.create_task(project=project, status_id=column.pk, title=title, reporter=owner)


class TestFirstWrite:
    # savepoint, column share lock + has row + edge ranks (boards.services.locks), GROUP BY (cache get
    # and set are not queries), insert row, its derived status, insert task, counts delta with
    # the derived status, event sequence with the event (boards.history), release savepoint, and
    # the card's number (boards.history.take_card_numbers), the event's queued job (jobs.receivers).
    QUERIES = 11

    def test_exact_with_one_group_by(self, rowless, columns, owner, django_assert_num_queries):
        with django_assert_num_queries(self.QUERIES) as captured:
            create(rowless, columns["todo"], owner)
        assert len(group_bys(captured)) == 1
        assert_counts_exact(rowless)
        assert ProjectTaskStatusAgg.objects.get(pk=rowless.pk).total_tasks == EXISTING - 172 + 1

    def test_warm_cache_skips_the_count(self, rowless, columns, owner, django_assert_num_queries):
        # What a rolled-back first write leaves behind: the count from before it.
        cache.set(key(rowless), counts.count_live_tasks([rowless.pk])[rowless.pk], 3600)
        with django_assert_num_queries(self.QUERIES - 1) as captured:
            create(rowless, columns["issue"], owner)
        assert group_bys(captured) == []
        assert_counts_exact(rowless)

    def test_key_is_deleted_on_commit(self, rowless, columns, owner, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            create(rowless, columns["todo"], owner)
        assert cache.get(key(rowless)) is not None  # until the commit
        for callback in callbacks:
            callback()
        assert cache.get(key(rowless)) is None

    def test_rollback_leaves_counts_and_cache_consistent(self, rowless, columns, owner, django_assert_num_queries):
        with pytest.raises(RuntimeError), transaction.atomic():
            create(rowless, columns["done"], owner, title="rolled back")
            raise RuntimeError
        assert not ProjectTaskStatusAgg.objects.filter(pk=rowless.pk).exists()
        assert not Task.objects.filter(title="rolled back").exists()
        # The key outlives the rollback and still equals a recount: the next try skips the count.
        assert cache.get(key(rowless)) == counts.count_live_tasks([rowless.pk])[rowless.pk]
        with django_assert_num_queries(self.QUERIES - 1) as captured:
            create(rowless, columns["done"], owner, title="second try")
        assert group_bys(captured) == []
        assert_counts_exact(rowless)

    @override_settings(CACHES=DEAD_REDIS)
    def test_works_with_redis_unavailable(self, rowless, columns, owner, django_capture_on_commit_callbacks):
        assert cache.get("anything") is None and not cache.set("anything", 1)  # really unreachable
        with django_capture_on_commit_callbacks(execute=True):
            create(rowless, columns["active"], owner)
            create(rowless, columns["active"], owner, title="second")
        assert_counts_exact(rowless)

    @pytest.mark.parametrize("operation", ["move", "archive", "delete", "recategorise"])
    def test_other_first_writes(self, rowless, columns, owner, operation):
        task = Task.objects.filter(project=rowless, archived_at=None, task_status=columns["todo"]).first()
        if operation == "move":
            services.move_task(project=rowless, task_id=task.pk, status_id=columns["done"].pk)
        elif operation == "archive":
            services.archive_task(project=rowless, task_id=task.pk)
        elif operation == "delete":
            services.delete_task(project=rowless, task_id=task.pk)
        else:
            services.update_column(project=rowless, status_id=columns["todo"].pk, name="Todo", category="review")
        assert_counts_exact(rowless)

    @pytest.mark.parametrize("operation", ["bulk_move", "bulk_archive", "bulk_create"])
    def test_bulk_first_writes_count_fresh(
        self, rowless, columns, owner, operation, django_capture_on_commit_callbacks
    ):
        # A stale key (wrong on purpose) must not be used by a write that already happened, and
        # must not survive the row that write creates.
        cache.set(key(rowless), {"todo": 999, "active": 0, "review": 0, "issue": 0, "done": 0}, 3600)
        ids = list(Task.objects.filter(project=rowless, archived_at=None).values_list("pk", flat=True)[:10])
        with django_capture_on_commit_callbacks(execute=True):
            if operation == "bulk_move":
                services.bulk_move_tasks(project=rowless, task_ids=ids, status_id=columns["issue"].pk)
            elif operation == "bulk_archive":
                services.bulk_archive_tasks(project=rowless, task_ids=ids)
            else:
                services.bulk_create_tasks(
                    project=rowless, tasks=[Task(title="new", task_status=columns["review"], position=0.0)]
                )
        assert cache.get(key(rowless)) is None
        assert_counts_exact(rowless)


class TestReading:
    def test_reading_an_existing_row_never_counts(self, project, columns, owner, django_assert_num_queries):
        create(project, columns["todo"], owner)
        with django_assert_num_queries(1) as captured:
            row = get_or_create_project_aggregation(project)
        assert "COUNT(" not in captured.captured_queries[0]["sql"].upper()
        assert (row.total_tasks, row.todo_tasks) == (1, 1)

    def test_missing_row_is_bootstrapped_once(self, rowless, django_assert_num_queries):
        with django_assert_num_queries(7) as captured:  # read, savepoint, GROUP BY, insert, status, release, read
            row = get_or_create_project_aggregation(rowless)
        assert len(group_bys(captured)) == 1
        assert row.total_tasks == EXISTING - 172
        assert_counts_exact(rowless)
        with django_assert_num_queries(1):
            assert get_or_create_project_aggregation(rowless.pk).total_tasks == row.total_tasks
