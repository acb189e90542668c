"""Each endpoint's query count, pinned at two data sizes: it does not grow with the data.

Counted with a token whose last use was recorded within the minute (the at-most-once-a-minute
UPDATE is not part of a request's cost); the first query is always the token with its user."""

import pytest
from django.urls import reverse

from boards import services
from boards.models import Comment, Label
from tests.api.conftest import ApiClient, make_token

pytestmark = pytest.mark.django_db

# endpoint -> queries (token+user included)
READS = {
    "workspaces": 2,
    "workspace": 2,
    "projects": 3,
    "members": 3,
    "project": 2,
    "counts": 2,
    "columns": 3,
    "events": 3,
    "labels": 3,
    "cards": 3,
    "card": 3,
    "comments": 3,
}
# Each write: the token, the project, the service's own statements, and the queue's one fan-out job
# (jobs.fanout, queued in the write's transaction).
WRITES = {
    "create": 10,
    "update": 8,
    "move": 9,
    "archive": 9,
    "unarchive": 9,
    "comment": 9,
    "comment edit": 9,
    "comment delete": 11,
    "label add": 7,
    "label edit": 9,
    "label delete": 8,  # the label taken off every card carrying it in one UPDATE
    "delete": 15,
}


def fill(project, columns, owner, n: int):
    """n cards over the columns, each with a comment and a label: the data the counts must not follow."""
    label = services.create_label(project=project, name="bug", colour="#1d4ed8")
    ids = []
    for i in range(n):
        column = list(columns.values())[i % len(columns)]
        task = services.create_task(project=project, status_id=column.pk, title=f"card {i}", reporter=owner)
        services.update_task(project=project, task_id=task.pk, version=1, label_ids=[label.pk], actor=owner)
        services.add_comment(project=project, task_id=task.pk, body=f"comment {i}", author=owner)
        ids.append(task.pk)
    return ids


def measure(api, project, columns, application, ids, captured) -> dict:
    """The queries of every endpoint, one call each, writes on the first card."""
    first, second = ids[0], ids[1]
    urls = {
        "workspaces": reverse("api_workspaces"),
        "workspace": reverse("api_workspace", args=[application.pk]),
        "projects": reverse("api_projects", args=[application.pk]),
        "members": reverse("api_members", args=[application.pk]),
        "project": reverse("api_project", args=[project.pk]),
        "counts": reverse("api_counts", args=[project.pk]),
        "columns": reverse("api_columns", args=[project.pk]),
        "events": reverse("api_events", args=[project.pk]),
        "labels": reverse("api_labels", args=[project.pk]),
        "cards": reverse("api_cards", args=[project.pk]),
        "card": reverse("api_card", args=[project.pk, first]),
        "comments": reverse("api_comments", args=[project.pk, first]),
    }
    counts = {}
    for name, url in urls.items():
        with captured() as queries:
            assert api.get(url).status_code == 200, name
        counts[name] = len(queries)
    card = reverse("api_card", args=[project.pk, first])
    comment = reverse("api_comment", args=[project.pk, first, Comment.objects.filter(task_id=first).first().pk])
    label = reverse("api_label", args=[project.pk, Label.objects.filter(project=project).first().pk])
    writes = {
        "create": ("post", reverse("api_cards", args=[project.pk]), {"column_id": columns["todo"].pk, "title": "n"}),
        "update": ("patch", card, {"version": 2, "title": "edited"}),
        "move": (
            "post",
            reverse("api_card_move", args=[project.pk, first]),
            {"column_id": columns["done"].pk, "after_id": second},
        ),
        "archive": ("post", reverse("api_card_archive", args=[project.pk, first]), None),
        "unarchive": ("post", reverse("api_card_unarchive", args=[project.pk, first]), None),
        "comment": ("post", reverse("api_comments", args=[project.pk, first]), {"body": "more"}),
        "comment edit": ("patch", comment, {"body": "edited"}),
        "comment delete": ("delete", comment, None),
        "label add": ("post", reverse("api_labels", args=[project.pk]), {"name": "new", "colour": "#1d4ed8"}),
        "label edit": ("patch", label, {"name": "renamed"}),
        "label delete": ("delete", label, None),
        "delete": ("delete", card, None),
    }
    for name, (method, url, body) in writes.items():
        with captured() as queries:
            response = getattr(api, method)(url, body)
            assert response.status_code < 300, (name, response.content)
        counts[name] = len(queries)
    return counts


@pytest.fixture
def captured():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    return lambda: CaptureQueriesContext(connection)


@pytest.mark.parametrize("n", [2, 60])
def test_query_counts_are_fixed_whatever_the_data(owner, application, project, columns, captured, n):
    ids = fill(project, columns, owner, n)
    # the second card sits in the done column (the move's neighbour)
    services.move_task(project=project, task_id=ids[1], status_id=columns["done"].pk, actor=owner)
    api = ApiClient(make_token(owner))
    api.get(reverse("api_workspaces"))  # records last_used_at: not counted below
    counts = measure(api, project, columns, application, ids, captured)
    print(counts)
    assert counts == {**READS, **WRITES}
