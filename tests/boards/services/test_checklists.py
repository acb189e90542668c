"""Ticking checklist items: a versioned write of the description, counted, recorded, pushed."""

import pytest
from django.core.exceptions import ValidationError

from boards import services
from boards.models import Task, TaskEvent

pytestmark = pytest.mark.django_db

TEXT = "Steps:\n\n- [ ] one\n- [x] two\n\n```\n- [ ] not an item\n```\n- [ ] three"


@pytest.fixture
def card(project, columns, owner):
    return services.create_task(
        project=project, status_id=columns["todo"].pk, title="List", reporter=owner, description=TEXT
    )


class TestChecklistCounts:
    def test_counted_when_the_description_is_saved(self, card):
        assert (card.checklist_done, card.checklist_total) == (1, 3)
        stored = Task.objects.get(pk=card.pk)
        assert (stored.checklist_done, stored.checklist_total) == (1, 3)

    def test_an_edit_recounts(self, project, card):
        services.update_task(project=project, task_id=card.pk, version=card.version, description="- [x] a\n- [x] b")
        stored = Task.objects.get(pk=card.pk)
        assert (stored.checklist_done, stored.checklist_total) == (2, 2)

    def test_render_descriptions_fills_the_counts(self, card):
        from boards.descriptions import rerender_descriptions

        Task.objects.filter(pk=card.pk).counts_handled().update(
            checklist_done=0, checklist_total=0, description_renderer=0
        )
        rerender_descriptions(Task)
        stored = Task.objects.get(pk=card.pk)
        assert (stored.checklist_done, stored.checklist_total) == (1, 3)


class TestToggle:
    def test_ticks_the_item_bumps_the_version_and_records(
        self, project, card, owner, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            task = services.toggle_checklist_item(
                project=project, task_id=card.pk, version=card.version, index=2, done=True, actor=owner
            )
        assert len(callbacks) == 1  # the live push
        stored = Task.objects.get(pk=card.pk)
        assert stored.description == TEXT.replace("- [ ] three", "- [x] three")
        assert (stored.version, stored.checklist_done, stored.checklist_total) == (card.version + 1, 2, 3)
        assert task.version == stored.version
        event = TaskEvent.objects.filter(task_id=card.pk).latest("seq")
        assert event.kind == TaskEvent.Kind.EDITED
        assert event.data == {"fields": ["checklist"], "checklist": {"from": "1/3", "to": "2/3"}}

    def test_a_stale_version_is_refused_and_changes_nothing(self, project, card):
        services.update_task(project=project, task_id=card.pk, version=card.version, description=TEXT + "\nmore")
        with pytest.raises(services.StaleVersion, match="Someone else changed this card"):
            services.toggle_checklist_item(project=project, task_id=card.pk, version=card.version, index=0, done=True)
        stored = Task.objects.get(pk=card.pk)
        assert stored.description == TEXT + "\nmore"
        assert stored.checklist_done == 1

    def test_no_such_item(self, project, card):
        with pytest.raises(ValidationError, match="no such item"):
            services.toggle_checklist_item(project=project, task_id=card.pk, version=card.version, index=3, done=True)

    def test_same_state_is_no_write(self, project, card):
        task = services.toggle_checklist_item(
            project=project, task_id=card.pk, version=card.version, index=1, done=True
        )
        assert task.version == card.version
        assert not TaskEvent.objects.filter(task_id=card.pk, kind=TaskEvent.Kind.EDITED).exists()

    def test_archived_card_is_refused(self, project, card):
        services.archive_task(project=project, task_id=card.pk)
        with pytest.raises(ValidationError, match="archived"):
            services.toggle_checklist_item(project=project, task_id=card.pk, version=card.version, index=0, done=True)

    def test_whole_list(self, project, card):
        services.set_checklist_items(
            project=project, task_id=card.pk, version=card.version, items={0: True, 1: False, 2: True}
        )
        stored = Task.objects.get(pk=card.pk)
        assert (stored.checklist_done, stored.checklist_total) == (2, 3)
        assert "- [x] one\n- [ ] two" in stored.description


def test_a_tick_costs_a_fixed_number_of_queries(project, card, django_assert_num_queries):
    # The locked read, the UPDATE (with the counts), the history event and its queued job; and the
    # savepoint and its release that the test's own transaction turns BEGIN and COMMIT into.
    with django_assert_num_queries(6):
        services.toggle_checklist_item(project=project, task_id=card.pk, version=card.version, index=0, done=True)
