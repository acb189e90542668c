import csv
import io
import json

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from boards import services
from boards.models import Task
from boards.views_history import CHUNK, safe_cell

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

    def test_lazy_stream_one_query(self, client, owner, project, columns):
        services.bulk_create_tasks(
            project=project, tasks=[Task(task_status_id=columns["todo"].pk, title=f"T{n}") for n in range(2500)]
        )
        client.force_login(owner)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("export_tasks", args=[project.pk]))
        assert not [q for q in ctx.captured_queries if 'FROM "boards_task"' in q["sql"]]  # nothing read yet
        with CaptureQueriesContext(connection) as ctx:
            lines = sum(1 for _ in response.streaming_content)
        assert lines == 2501  # header + rows, each line its own chunk of the stream
        # One query, read through a cursor CHUNK rows at a time (QuerySet.iterator).
        assert len(ctx.captured_queries) == 1 and CHUNK == 2000

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
