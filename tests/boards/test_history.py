import multiprocessing
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from boards import history, services
from boards.models import Task, TaskEvent
from tests.factories import UserFactory
from tests.support import history_worker
from tests.support.helpers import assert_counts_exact


def log_queries(context) -> list[str]:
    """The queries that touched the event log or its sequence."""
    return [q["sql"] for q in context.captured_queries if "taskevent" in q["sql"] or "projectsequence" in q["sql"]]


def events(project):
    return list(TaskEvent.objects.filter(project=project).order_by("seq"))


@pytest.fixture
def ana(application):
    from tests.factories import MembershipFactory

    return MembershipFactory(application=application, user=UserFactory(first_name="Ana", last_name="")).user


@pytest.mark.django_db
class TestRecording:
    def test_every_operation_writes_one_event_with_one_statement(self, project, columns, ana):
        def op(call, **kwargs):
            with CaptureQueriesContext(connection) as ctx:
                result = call(project=project, actor=ana, **kwargs)
            # The sequence upsert feeds the INSERT: one statement takes the number and writes the event.
            assert len(log_queries(ctx)) == 1, log_queries(ctx)
            return result

        task = op(services.create_task, status_id=columns["todo"].pk, title="Write", reporter=ana)
        other = op(services.create_task, status_id=columns["todo"].pk, title="=Other", reporter=ana)
        op(services.update_task, task_id=task.pk, version=1, title="Write docs", description="Long text")
        op(services.move_task, task_id=task.pk, status_id=columns["active"].pk)
        op(services.move_task, task_id=other.pk, status_id=columns["todo"].pk)  # same column: reordered
        op(services.archive_task, task_id=task.pk)
        op(services.unarchive_task, task_id=task.pk)
        op(services.delete_task, task_id=other.pk)
        op(services.update_column, status_id=columns["review"].pk, name="Checked", category="done")

        log = events(project)
        assert [e.seq for e in log] == list(range(1, 10))
        assert [e.kind for e in log] == [
            "created",
            "created",
            "edited",
            "moved",
            "reordered",
            "archived",
            "unarchived",
            "deleted",
            "column_category",
        ]
        assert all(e.actor_id == ana.pk for e in log)
        edited, moved = log[2], log[3]
        assert edited.data == {"fields": ["description", "title"], "title": {"from": "Write", "to": "Write docs"}}
        assert moved.data["from"] == {"id": columns["todo"].pk, "name": "Todo", "category": "todo"}
        assert moved.data["to"]["name"] == "In Progress"
        assert (moved.from_category, moved.to_category) == ("todo", "active")
        assert (log[5].from_category, log[5].to_category) == ("active", None)
        assert (log[6].from_category, log[6].to_category) == (None, "active")
        deleted = log[7]
        assert deleted.task_id is None and deleted.task_title == "=Other" and deleted.data["task_id"] == other.pk
        assert (log[8].from_category, log[8].to_category, log[8].task_count) == ("review", "done", 0)
        assert history.current_seq(project.pk) == 9
        assert_counts_exact(project)

    def test_arrival_in_done_carries_the_first_start(self, project, columns, ana):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=ana)
        services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk, actor=ana)
        services.move_task(project=project, task_id=task.pk, status_id=columns["review"].pk, actor=ana)
        with CaptureQueriesContext(connection) as ctx:
            services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk, actor=ana)
        # The first start is looked up inside the event's INSERT: still one statement.
        assert len(log_queries(ctx)) == 1
        created, started, _, done = events(project)
        assert (created.started_at, done.started_at) == (None, started.at)
        straight = services.create_task(project=project, status_id=columns["todo"].pk, title="Two", reporter=ana)
        with CaptureQueriesContext(connection) as ctx:
            services.move_task(project=project, task_id=straight.pk, status_id=columns["done"].pk, actor=ana)
        assert len(log_queries(ctx)) == 1  # straight from todo: it starts now
        assert events(project)[-1].started_at == events(project)[-1].at

    def test_no_event_for_an_edit_that_changes_nothing(self, project, columns, ana):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Same", reporter=ana)
        services.update_task(project=project, task_id=task.pk, version=1, title="Same")
        assert [e.kind for e in events(project)] == ["created"]

    def test_bulk_operations_one_event_per_task_with_two_queries(self, project, columns, ana):
        with CaptureQueriesContext(connection) as ctx:
            services.bulk_create_tasks(
                project=project,
                tasks=[Task(task_status_id=columns["todo"].pk, title=f"T{i}") for i in range(5)],
                actor=ana,
            )
        assert len(log_queries(ctx)) == 2
        ids = list(Task.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as ctx:
            services.bulk_move_tasks(project=project, task_ids=ids[:3], status_id=columns["done"].pk, actor=ana)
        assert len(log_queries(ctx)) == 2
        with CaptureQueriesContext(connection) as ctx:
            services.bulk_archive_tasks(project=project, task_ids=ids[2:], actor=ana)
        assert len(log_queries(ctx)) == 2
        log = events(project)
        assert [e.seq for e in log] == list(range(1, 12))
        assert [e.kind for e in log] == ["created"] * 5 + ["moved"] * 3 + ["archived"] * 3
        assert {e.task_id for e in log[5:8]} == set(ids[:3])
        assert all((e.from_category, e.to_category) == ("todo", "done") for e in log[5:8])
        assert [e.from_category for e in log[8:]] == ["done", "todo", "todo"]

    def test_rolled_back_change_leaves_no_event_and_no_gap(self, project, columns, ana):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=ana)
        with pytest.raises(RuntimeError), transaction.atomic():
            services.move_task(project=project, task_id=task.pk, status_id=columns["done"].pk, actor=ana)
            raise RuntimeError
        services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk, actor=ana)
        assert [(e.seq, e.kind) for e in events(project)] == [(1, "created"), (2, "moved")]
        assert events(project)[1].data["to"]["name"] == "In Progress"

    def test_events_survive_task_deletion_and_projects_number_apart(self, project, columns, ana, application):
        from tests.factories import make_project

        other = make_project(application, name="Other", key="OTH")
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Gone", reporter=ana)
        todo = other.task_statuses.get(category="todo")
        services.create_task(project=other, status_id=todo.pk, title="Elsewhere", reporter=ana)
        services.delete_task(project=project, task_id=task.pk, actor=ana)
        assert [(e.seq, e.task_id, e.task_title) for e in events(project)] == [(1, None, "Gone"), (2, None, "Gone")]
        assert history.current_seq(other.pk) == 1


@pytest.mark.django_db
class TestCardActivity:
    def test_newest_first_with_sentences(self, project, columns, ana, client):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=ana)
        services.move_task(project=project, task_id=task.pk, status_id=columns["active"].pk, actor=ana)
        services.move_task(project=project, task_id=task.pk, status_id=columns["review"].pk, actor=ana)
        services.update_task(project=project, task_id=task.pk, version=1, title="Uno", assignee=ana)
        activity = history.card_activity(task)
        assert [e.sentence for e in activity] == [
            "Tasktrack changed the assignee and title",
            "Ana moved this from In Progress to In Review",
            "Ana moved this from Todo to In Progress",
            "Ana created this in Todo",
        ]
        from django.template.loader import render_to_string

        html = render_to_string("boards/activity.html", {"events": activity})
        assert "Ana moved this from In Progress to In Review" in html
        assert "just now" in html and "ago ago" not in html


@pytest.mark.django_db
class TestReplay:
    def test_events_after_is_bounded(self, project, columns, ana):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=ana)
        for column in ["active", "review", "done", "todo"]:
            services.move_task(project=project, task_id=task.pk, status_id=columns[column].pk, actor=ana)
        assert history.current_seq(project.pk) == 5
        replay = history.events_after(project.pk, 2, limit=3)
        assert [e["seq"] for e in replay] == [3, 4, 5]
        assert replay[0]["kind"] == "moved" and replay[0]["task_id"] == task.pk
        assert replay[0]["data"]["to"]["name"] == "In Review"
        assert history.events_after(project.pk, 1, limit=3) is None  # 4 behind: re-fetch the board
        assert history.events_after(project.pk, 5) == []
        assert history.events_after(project.pk, 9) is None  # a number never reached
        assert history.events_after(project.pk, -1) is None

    def test_replay_costs_one_query(self, project, columns, ana, django_assert_num_queries):
        services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=ana)
        with django_assert_num_queries(1):
            history.events_after(project.pk, 0)


def worker_database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"]) + (":" + quote(s["PASSWORD"]) if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
class TestConcurrentWriters:
    def test_gapless_unique_one_event_per_commit(self, project, columns, owner):
        tasks = [
            services.create_task(project=project, status_id=columns["todo"].pk, title=f"C{i}", reporter=owner)
            for i in range(4)
        ]
        start = history.current_seq(project.pk)
        column_ids = [c.pk for c in columns.values()]
        task_ids = [t.pk for t in tasks]
        context = multiprocessing.get_context("spawn")
        with context.Pool(3) as pool:
            results = pool.starmap(
                history_worker.run,
                [(worker_database_url(), project.pk, task_ids, column_ids, 24, seed) for seed in range(3)],
            )
        committed = sum(c for c, _ in results)
        rolled_back = sum(r for _, r in results)
        assert rolled_back >= 3 * 6  # every fourth move rolled back, at least
        seqs = list(TaskEvent.objects.filter(project=project).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, start + committed + 1))
        assert history.current_seq(project.pk) == start + committed
        assert_counts_exact(project)


@pytest.mark.django_db
class TestCardPageActivity:
    def test_card_page_lists_history_newest_first(self, client, project, columns, ana):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="One", reporter=ana)
        client.force_login(ana)
        response = client.post(
            f"/projects/{project.pk}/cards/{task.pk}/move/", {"status_id": columns["active"].pk}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200, response.content[:300]
        html = client.get(task.get_absolute_url()).content.decode()
        moved = html.index("Ana moved this from Todo to In Progress")
        assert moved < html.index("Ana created this in Todo")
        dialog = client.get(task.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
        assert "Ana moved this from Todo to In Progress" in dialog
