"""Labels and the planning fields of a card: labels, priority, due date and time."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from boards import live, services
from boards.models import Label, Priority, Task, TaskEvent
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def create(project, column, owner, title="card"):
    return services.create_task(project=project, status_id=column.pk, title=title, reporter=owner)


class TestLabelService:
    def test_create_trims_and_checks(self, project):
        label = services.create_label(project=project, name="  needs   review ", colour="#b91c1c")
        assert (label.name, label.colour) == ("needs review", "#b91c1c")
        with pytest.raises(ValidationError) as error:
            services.create_label(project=project, name="x" * 41, colour="#123456")
        assert set(error.value.message_dict) == {"name", "colour"}

    def test_names_are_unique_in_any_case_per_project(self, project, application):
        services.create_label(project=project, name="Bug", colour="#b91c1c")
        with pytest.raises(ValidationError, match="already a label called"):
            services.create_label(project=project, name="bUG", colour="#1d4ed8")
        other = make_project(application, name="Other", key="OTH")
        assert services.create_label(project=other, name="bug", colour="#1d4ed8").pk

    def test_rename_and_recolour(self, project):
        label = services.create_label(project=project, name="Bug", colour="#b91c1c")
        services.create_label(project=project, name="Feature", colour="#1d4ed8")
        services.update_label(project=project, label_id=label.pk, name="Defect", colour="#7c3aed")
        assert Label.objects.filter(pk=label.pk, name="Defect", colour="#7c3aed").exists()
        with pytest.raises(ValidationError, match="already a label"):
            services.update_label(project=project, label_id=label.pk, name="feature", colour="#7c3aed")

    def test_another_projects_label_cannot_be_changed(self, project, application):
        other = make_project(application, name="Other", key="OTH")
        theirs = services.create_label(project=other, name="Bug", colour="#b91c1c")
        with pytest.raises(ValidationError, match="no longer exists"):
            services.update_label(project=project, label_id=theirs.pk, name="Mine", colour="#b91c1c")
        with pytest.raises(ValidationError, match="no longer exists"):
            services.delete_label(project=project, label_id=theirs.pk)
        assert Label.objects.filter(pk=theirs.pk, name="Bug").exists()

    def test_delete_takes_the_label_off_every_card_and_bumps_their_version(self, project, columns, owner):
        bug = services.create_label(project=project, name="Bug", colour="#b91c1c")
        ui = services.create_label(project=project, name="UI", colour="#1d4ed8")
        both = create(project, columns["todo"], owner)
        services.update_task(project=project, task_id=both.pk, version=1, label_ids=[bug.pk, ui.pk])
        plain = create(project, columns["todo"], owner)
        services.update_task(project=project, task_id=plain.pk, version=1, label_ids=[ui.pk])
        services.archive_task(project=project, task_id=plain.pk)
        untouched = create(project, columns["todo"], owner)
        services.delete_label(project=project, label_id=ui.pk)
        assert not Label.objects.filter(pk=ui.pk).exists()
        rows = {task.pk: (task.label_ids, task.version) for task in Task.objects.filter(project=project)}
        assert rows[both.pk] == ([bug.pk], 3)
        assert rows[plain.pk] == ([], 3)  # archived cards too
        assert rows[untouched.pk] == ([], 1)

    def test_label_changes_publish_on_commit(self, project, django_capture_on_commit_callbacks):
        label = services.create_label(project=project, name="Bug", colour="#b91c1c")
        with django_capture_on_commit_callbacks() as hooks:
            services.update_label(project=project, label_id=label.pk, name="Defect", colour="#b91c1c")
        assert len(hooks) == 1
        with django_capture_on_commit_callbacks() as hooks:
            services.delete_label(project=project, label_id=label.pk)
        assert len(hooks) == 1


class TestCardLabels:
    def test_labels_are_set_sorted_and_recorded_by_name(self, project, columns, owner):
        bug = services.create_label(project=project, name="Bug", colour="#b91c1c")
        ui = services.create_label(project=project, name="ui", colour="#1d4ed8")
        task = create(project, columns["todo"], owner)
        edited = services.update_task(
            project=project, task_id=task.pk, version=1, label_ids=[ui.pk, bug.pk, ui.pk], actor=owner
        )
        assert (edited.label_ids, edited.version) == (sorted([bug.pk, ui.pk]), 2)
        event = TaskEvent.objects.filter(task_id=task.pk, kind="edited").get()
        assert event.data["fields"] == ["labels"]
        assert event.data["labels"] == {"from": [], "to": ["Bug", "ui"]}

    def test_another_projects_label_is_refused(self, project, columns, owner, application):
        other = make_project(application, name="Other", key="OTH")
        theirs = services.create_label(project=other, name="Bug", colour="#b91c1c")
        task = create(project, columns["todo"], owner)
        with pytest.raises(ValidationError, match="not a label of this project"):
            services.update_task(project=project, task_id=task.pk, version=1, label_ids=[theirs.pk])
        assert Task.objects.get(pk=task.pk).label_ids == []

    def test_a_stale_label_edit_is_refused(self, project, columns, owner):
        bug = services.create_label(project=project, name="Bug", colour="#b91c1c")
        task = create(project, columns["todo"], owner)
        services.update_task(project=project, task_id=task.pk, version=1, title="theirs")
        with pytest.raises(services.StaleVersion):
            services.update_task(project=project, task_id=task.pk, version=1, label_ids=[bug.pk])


class TestPlanning:
    def test_priority_and_due_date(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        edited = services.update_task(
            project=project, task_id=task.pk, version=1, priority=Priority.HIGH, due_date=date(2026, 3, 31), actor=owner
        )
        assert (edited.priority, edited.due_date, edited.due_at, edited.version) == (3, date(2026, 3, 31), None, 2)
        event = TaskEvent.objects.filter(task_id=task.pk, kind="edited").get()
        assert event.data["priority"] == {"from": "None", "to": "High"}
        assert event.data["due"] == {"from": None, "to": "2026-03-31"}
        assert sorted(event.data["fields"]) == ["due", "priority"]

    def test_due_time_is_an_instant(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        at = datetime(2026, 3, 31, 17, 30, tzinfo=ZoneInfo("Europe/Paris"))
        edited = services.update_task(
            project=project, task_id=task.pk, version=1, due_date=date(2026, 3, 31), due_at=at
        )
        stored = Task.objects.get(pk=edited.pk)
        assert stored.due_at == datetime(2026, 3, 31, 15, 30, tzinfo=UTC)
        # A new day without a time clears the time.
        services.update_task(project=project, task_id=task.pk, version=2, due_date=date(2026, 4, 1))
        assert Task.objects.get(pk=task.pk).due_at is None

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"priority": 9}, "Pick a priority"),
            ({"priority": True}, "Pick a priority"),
            ({"due_date": "2026-02-30"}, "A due date is a day"),
            ({"due_date": None, "due_at": datetime(2026, 1, 1, tzinfo=UTC)}, "needs a due date"),
            ({"due_date": date(2026, 1, 1), "due_at": datetime(2026, 1, 1)}, "time zone"),  # noqa: DTZ001
        ],
    )
    def test_bad_values_are_refused(self, project, columns, owner, fields, message):
        task = create(project, columns["todo"], owner)
        with pytest.raises(ValidationError, match=message):
            services.update_task(project=project, task_id=task.pk, version=1, **fields)
        assert Task.objects.get(pk=task.pk).version == 1

    def test_the_pushed_card_face_shows_labels_priority_and_due(
        self, project, columns, owner, django_capture_on_commit_callbacks
    ):
        bug = services.create_label(project=project, name="Bug", colour="#b91c1c")
        task = create(project, columns["todo"], owner)
        with django_capture_on_commit_callbacks() as hooks:
            services.update_task(
                project=project, task_id=task.pk, version=1, label_ids=[bug.pk], priority=4, due_date=date(2020, 1, 1)
            )
        assert len(hooks) == 1
        html = live.render_change(project_id=project.pk, task_ids=[task.pk], column_ids=[], seq=3)["viewer"]
        assert '<span class="label label-b91c1c">Bug</span>' in html
        assert "priority-4" in html and "due-overdue" in html
