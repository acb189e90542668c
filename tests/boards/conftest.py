import pytest

from boards import services
from boards.models import Task

HX = {"HX-Request": "true"}


def add_tasks(project, column, n: int, *, title: str = "Task", assignee=None, **fields) -> None:
    """n live cards at the bottom of a column, inserted in bulk (counts follow); `fields` set on
    each (label_ids, priority, due_date …)."""
    last = Task.objects.filter(task_status=column).order_by("-position").values_list("position", flat=True).first()
    start = (last or 0.0) + 1024.0
    services.bulk_create_tasks(
        project=project,
        tasks=[
            Task(
                task_status_id=column.pk, title=f"{title} {i}", position=start + i * 1024.0, assignee=assignee, **fields
            )
            for i in range(n)
        ],
    )


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture
def task(project, columns, owner):
    return services.create_task(project=project, status_id=columns["todo"].pk, title="First card", reporter=owner)
