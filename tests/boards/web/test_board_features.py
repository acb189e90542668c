"""The board with every feature on at once (issue 18, item 6): labels, due dates, priorities,
checklists, comments, attachments, watches and notifications, lanes. Its query count is the same
at 10 cards and at 1,000, and the same as the plain board's."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from boards import services
from boards.models import Label, Task, TaskEvent
from notifications.consumer import notify
from notifications.models import Notification, Watch
from tests.boards.conftest import add_tasks

pytestmark = pytest.mark.django_db

CHECKLIST = "Steps:\n\n- [x] one\n- [ ] two\n- [ ] three\n"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


def dress(project, columns, owner, editor, labels, per_column: int) -> None:
    """`per_column` cards in each column wearing every face, the first of each also with a real
    comment (mentioning the owner), a real attachment and the owner's watch and notifications."""
    face = {
        "label_ids": [label.pk for label in labels],
        "priority": 2,
        "due_date": timezone.localdate() + timedelta(days=2),
        "description": CHECKLIST,
        "checklist_done": 1,
        "checklist_total": 3,
        "comment_count": 4,
        "attachment_count": 2,
    }
    for column in columns.values():
        add_tasks(project, column, per_column, assignee=owner, **face)
        task = Task.objects.filter(task_status=column).order_by("-pk").first()
        services.add_comment(project=project, task_id=task.pk, body=f"Look @{owner.username}", author=editor)
        services.add_attachment(
            project=project, task_id=task.pk, upload=SimpleUploadedFile("notes.txt", b"hello"), actor=editor
        )
        Watch.objects.get_or_create(task=task, user=owner)
    notify(list(TaskEvent.objects.filter(project=project, kind__in=["commented", "attached"])))


class TestEveryFeatureOn:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", 8),  # user, live sequence, project+counts, columns, counts, first pages, members, labels
            ("?lanes=assignee", 9),  # + the lane counts; every cell's first page in the one UNION ALL
            ("?lanes=label", 9),
            ("?q=task&due=week&priority=2", 9),  # + the filter's matching counts
        ],
    )
    def test_query_count_same_at_10_and_1000_cards(
        self, owner_client, project, columns, owner, editor, query, expected
    ):
        labels = [Label.objects.create(project=project, name=f"L{i}") for i in range(3)]
        url = reverse("board", args=[project.pk]) + query
        dress(project, columns, owner, editor, labels, 2)
        assert Notification.objects.filter(recipient=owner, read_at__isnull=True).exists()
        small, _ = queries(owner_client, url)
        dress(project, columns, owner, editor, labels, 198)
        assert Task.objects.filter(project=project).count() == 1000
        large, html = queries(owner_client, url)
        assert small == large == expected
        # Every card on the page shows every face: labels, due date, checklist, comment and attachment counts.
        cards = html.count('<article class="card"')
        assert cards >= 50
        for piece in (
            "label label-",
            "due due-",
            "priority priority-",
            "face-checklist",
            "face-comments",
            "face-attachments",
        ):
            assert html.count(piece) >= cards, piece
