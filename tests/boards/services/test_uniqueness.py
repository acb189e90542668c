"""Project keys and column names are unique by constraint: two people creating the same one at
once (two OS processes) get one success and one form error, never an IntegrityError (a 500)."""

import pytest
from django.conf import settings
from django.urls import reverse

from boards.models import Project, TaskStatus
from tests.boards.conftest import HX
from tests.support import workers
from tests.support.helpers import assert_counts_exact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def hold(**args):
    """A process that inserts the row and keeps its transaction open until `hold` seconds pass."""
    proc = workers.spawn("hold_unique", {"hold": 1.5, **args}, database=settings.DATABASES["default"])
    assert workers.read_line(proc) == {"state": "held"}
    return proc


class TestProjectKeys:
    def test_the_same_key_at_once_is_the_form_error(self, owner_client, application, project):
        proc = hold(kind="project", application_id=application.pk, key="OPS")
        # Our insert waits on the unique index until the other process commits, then violates it.
        response = owner_client.post(
            reverse("project_create", args=[application.pk]), {"name": "Ours", "key": "ops"}, headers=HX
        )
        assert workers.finish(proc) == {"state": "committed"}
        assert response.status_code == 422
        assert response["HX-Retarget"] == f"#application-{application.pk}-message"
        assert "OPS is taken" in response.content.decode()
        assert list(Project.objects.filter(application=application, key="OPS").values_list("name", flat=True)) == [
            "Held"
        ]
        assert_counts_exact()


class TestColumnNames:
    def test_the_same_name_at_once_is_the_form_error(self, owner_client, project):
        proc = hold(kind="column", project_id=project.pk, name="QA")
        response = owner_client.post(
            reverse("column_add", args=[project.pk]), {"name": "QA", "category": "review"}, headers=HX
        )
        assert workers.finish(proc) == {"state": "committed"}
        assert response.status_code == 422
        assert "There is already a column called “QA”" in response.content.decode()
        assert list(TaskStatus.objects.filter(project=project, name="QA").values_list("category", flat=True)) == [
            "todo"
        ]
        assert_counts_exact()

    def test_the_same_name_in_another_case_at_once_is_the_form_error(self, owner_client, project):
        proc = hold(kind="column", project_id=project.pk, name="QA")
        response = owner_client.post(
            reverse("column_add", args=[project.pk]), {"name": "qa", "category": "review"}, headers=HX
        )
        assert workers.finish(proc) == {"state": "committed"}
        assert response.status_code == 422
        assert "There is already a column called “qa”" in response.content.decode()
        assert list(TaskStatus.objects.filter(project=project, name__iexact="qa").values_list("name", flat=True)) == [
            "QA"
        ]

    def test_a_rename_onto_a_name_being_added_is_the_form_error(self, owner_client, project, columns):
        proc = hold(kind="column", project_id=project.pk, name="QA")
        response = owner_client.post(
            reverse("column_update", args=[project.pk, columns["review"].pk]),
            {"name": "QA", "category": "review"},
            headers=HX,
        )
        assert workers.finish(proc) == {"state": "committed"}
        assert response.status_code == 422
        assert "There is already a column called “QA”" in response.content.decode()
        assert TaskStatus.objects.get(pk=columns["review"].pk).name == "In Review"
