import csv
import io
import json

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from boards import services
from boards.models import Task, TaskEvent
from boards.web import heavy
from boards.web.exports import CHUNK, safe_cell

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def cards(project, columns, owner):
    first = services.create_task(
        project=project, status_id=columns["todo"].pk, title='=HYPERLINK("http://x")', reporter=owner
    )
    second = services.create_task(
        project=project,
        status_id=columns["todo"].pk,
        title="Plain, with a comma",
        reporter=owner,
        description="@SUM(1)",
    )
    services.move_task(project=project, task_id=second.pk, status_id=columns["done"].pk, actor=owner)
    services.archive_task(project=project, task_id=second.pk, actor=owner)
    return first, second


class TestSafeCell:
    @pytest.mark.parametrize(
        ("value", "safe"),
        [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\t=x", "'\t=x"), ("ok", "ok")],
    )
    def test_formula_prefixes(self, value, safe):
        assert safe_cell(value) == safe

    def test_numbers_and_none(self):
        assert safe_cell(-3) == -3
        assert safe_cell(None) == ""


class TestExportTasks:
    def test_streams_every_card_with_formulas_neutralised(self, client, viewer, project, cards, columns):
        first, second = cards
        client.force_login(viewer)
        rows = read_csv(client.get(reverse("export_tasks", args=[project.pk])))
        assert rows[0][:4] == ["id", "title", "column", "category"]
        by_id = {int(row[0]): row for row in rows[1:]}
        assert len(by_id) == 2
        assert by_id[first.pk][1:4] == ['\'=HYPERLINK("http://x")', "Todo", "todo"]
        assert by_id[second.pk][1:4] == ["Plain, with a comma", "Done", "done"]
        assert by_id[second.pk][7]  # archived_at
        assert by_id[second.pk][10] == "'@SUM(1)"

    def test_keyset_chunks_one_short_query_each(self, client, owner, project, columns):
        services.bulk_create_tasks(
            project=project, tasks=[Task(task_status_id=columns["todo"].pk, title=f"T{n}") for n in range(2500)]
        )
        client.force_login(owner)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("export_tasks", args=[project.pk]))
        # Before the stream, only where it ends: no row read yet.
        reads = [q["sql"] for q in ctx.captured_queries if 'FROM "boards_task"' in q["sql"]]
        assert len(reads) == 1 and "MAX(" in reads[0]
        with CaptureQueriesContext(connection) as ctx:
            parts = list(response.streaming_content)
        assert len(b"".join(parts).decode().splitlines()) == 2501
        # The header, then one chunk per query: CHUNK rows after the last id read, never an OFFSET.
        assert len(parts) == 3 and len(ctx.captured_queries) == 2 and CHUNK == 2000
        for query in ctx.captured_queries:
            assert f"LIMIT {CHUNK}" in query["sql"] and '"boards_task"."id" >' in query["sql"]
            assert "OFFSET" not in query["sql"]

    def test_non_member_404(self, client, outsider, project, cards):
        client.force_login(outsider)
        assert client.get(reverse("export_tasks", args=[project.pk])).status_code == 404
        assert client.get(reverse("export_events", args=[project.pk])).status_code == 404


class TestExportEvents:
    def test_the_log_in_order(self, client, viewer, project, cards, owner):
        first, second = cards
        client.force_login(viewer)
        rows = read_csv(client.get(reverse("export_events", args=[project.pk])))
        assert rows[0] == [
            "seq",
            "at",
            "kind",
            "task_id",
            "task_title",
            "actor",
            "from_category",
            "to_category",
            "data",
            "comment",  # comment events quote the comment (issue 14)
        ]
        assert [(row[0], row[2]) for row in rows[1:]] == [
            ("1", "created"),
            ("2", "created"),
            ("3", "moved"),
            ("4", "archived"),
        ]
        assert rows[1][4] == '\'=HYPERLINK("http://x")'
        assert rows[3][5] == owner.username and rows[3][6:8] == ["todo", "done"]
        assert json.loads(rows[3][8])["to"]["name"] == "Done"


def add_events(project, columns, owner, n: int) -> None:
    services.bulk_create_tasks(
        project=project, tasks=[Task(task_status_id=columns["todo"].pk, title=f"E{i}") for i in range(n)], actor=owner
    )


class TestStreaming:
    def test_events_stop_at_the_last_event_committed_when_the_export_started(self, client, owner, project, columns):
        add_events(project, columns, owner, CHUNK + 10)
        client.force_login(owner)
        response = client.get(reverse("export_events", args=[project.pk]))
        parts = iter(response.streaming_content)
        first = next(parts) + next(parts)  # the header and the first chunk
        add_events(project, columns, owner, 5)  # written while the client downloads
        rows = list(csv.reader(io.StringIO((first + b"".join(parts)).decode())))
        assert [int(row[0]) for row in rows[1:]] == list(range(1, CHUNK + 11))

    def test_event_chunks_are_exact_ranges_of_seq(self, client, owner, project, columns):
        add_events(project, columns, owner, CHUNK + 10)
        client.force_login(owner)
        response = client.get(reverse("export_events", args=[project.pk]))
        with CaptureQueriesContext(connection) as ctx:
            lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == CHUNK + 11
        # Numbers have no gaps: a chunk is a range of CHUNK numbers, read whatever plan is chosen.
        assert len(ctx.captured_queries) == 2
        for query in ctx.captured_queries:
            assert '"boards_taskevent"."seq" <=' in query["sql"] and "LIMIT" not in query["sql"]

    def test_a_range_without_events_does_not_end_the_stream(self, client, owner, project, columns):
        add_events(project, columns, owner, CHUNK + 10)
        TaskEvent.objects.filter(project=project, seq__lte=CHUNK).delete()  # say, by hand in SQL
        client.force_login(owner)
        rows = read_csv(client.get(reverse("export_events", args=[project.pk])))
        assert [int(row[0]) for row in rows[1:]] == list(range(CHUNK + 1, CHUNK + 11))

    def test_wsgi_gets_a_sync_stream_and_asgi_an_async_one(self, client, async_client, owner, project, columns):
        add_events(project, columns, owner, 3)
        client.force_login(owner)
        url = reverse("export_events", args=[project.pk])
        response = client.get(url)
        assert not response.is_async
        wsgi_body = b"".join(response.streaming_content)

        async def scenario():
            await async_client.aforce_login(owner)
            response = await async_client.get(url)
            assert response.is_async  # Django's ASGIHandler sends it chunk by chunk, without buffering
            return b"".join([part async for part in response.streaming_content])

        assert async_to_sync(scenario)() == wsgi_body
        assert len(wsgi_body.decode().splitlines()) == 4

    def test_the_header_comes_before_any_query(self, client, owner, project, columns):
        add_events(project, columns, owner, 3)
        client.force_login(owner)
        response = client.get(reverse("export_events", args=[project.pk]))
        with CaptureQueriesContext(connection) as ctx:
            assert next(iter(response.streaming_content)).startswith(b"seq,at,kind,")
        assert ctx.captured_queries == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_pool")
def test_no_connection_is_held_between_chunks(client, owner, project, columns):
    add_events(project, columns, owner, CHUNK * 2 + 1)
    client.force_login(owner)
    response = client.get(reverse("export_events", args=[project.pk]))
    parts = iter(response.streaming_content)
    seen = next(parts).count(b"\n")  # the header, sent before any query
    for part in parts:
        seen += part.count(b"\n")
        # While the client takes a chunk of rows, the stream holds no database connection.
        assert connection.connection is None
    assert seen == CHUNK * 2 + 2


class TestLimits:
    @override_settings(HEAVY_REQUESTS_PER_USER=1)
    def test_a_second_export_at_once_is_refused_until_the_first_ends(self, client, viewer, project, cards):
        client.force_login(viewer)
        url = reverse("export_events", args=[project.pk])
        first = client.get(url)
        refused = client.get(reverse("export_tasks", args=[project.pk]))
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == str(heavy.RETRY_AFTER)
        assert "Too many requests" in refused.content.decode()
        b"".join(first.streaming_content)  # read to the end: the test client then closes the response
        assert client.get(url).status_code == 200

    @override_settings(HEAVY_REQUESTS_PER_USER=1)
    @pytest.mark.django_db(transaction=True)  # closing the response closes its connection
    @pytest.mark.usefixtures("close_db_pool")
    def test_a_stream_dropped_unread_gives_its_slot_back_when_closed(self, client, viewer, project, cards):
        client.force_login(viewer)
        url = reverse("export_events", args=[project.pk])
        response = client.get(url)
        next(iter(response.streaming_content))
        response.close()  # the client went away after the header: a WSGI server closes the response
        assert client.get(url).status_code == 200
