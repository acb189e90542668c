"""Moves between the lanes of a grouped board (issue 16, item 11): the lane's assignee, label or
priority and the column in one write, versioned, in history and live push, WIP limits over every
lane, counts exact; and the lane rule, the same in SQL and in Python."""

import io
import random

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import queries, services, signals
from boards.models import Label, Membership, Task, TaskEvent
from tests.factories import MembershipFactory
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


def create(project, column, owner, title="card", **kwargs):
    return services.create_task(project=project, status_id=column.pk, title=title, reporter=owner, **kwargs)


@pytest.fixture
def ben(application):
    return MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Ben").user


@pytest.fixture
def labels(project):
    return {name: services.create_label(project=project, name=name, colour="#b91c1c") for name in ("bug", "Docs", "UI")}


def recount_matches() -> None:
    """recalc_aggregates --check: every project's stored counts equal a fresh recount."""
    out = io.StringIO()
    call_command("recalc_aggregates", "--check", stdout=out)
    assert "match" in out.getvalue()


class TestMoveIntoALane:
    def test_assignee_and_column_in_one_write_with_two_events(self, project, columns, owner, ben):
        task = create(project, columns["todo"], owner, assignee=owner)
        recorded = []

        def heard(sender, **kwargs):
            recorded.append((kwargs["first_seq"], kwargs["last_seq"]))

        signals.events_recorded.connect(heard)
        with CaptureQueriesContext(connection) as captured:
            moved = services.move_task(
                project=project,
                task_id=task.pk,
                status_id=columns["active"].pk,
                lane=("assignee", ben),
                version=task.version,
                actor=owner,
            )
        writes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('UPDATE "boards_task"')]
        assert len(writes) == 1  # column, rank, assignee and version: one UPDATE
        stored = Task.objects.get(pk=task.pk)
        assert (stored.assignee_id, stored.task_status_id, stored.version) == (
            ben.pk,
            columns["active"].pk,
            task.version + 1,
        )
        assert moved.lane_edits == {"assignee_id": (owner.pk, ben.pk)}
        events = list(TaskEvent.objects.filter(task_id=task.pk).order_by("seq").values_list("kind", "data"))
        assert [kind for kind, _ in events] == ["created", "moved", "edited"]
        assert events[2][1]["assignee_id"] == {"from": owner.pk, "to": ben.pk}
        # Both events numbered together: one change for the log's consumers (one fan-out job).
        signals.events_recorded.disconnect(heard)
        seqs = list(
            TaskEvent.objects.filter(task_id=task.pk, kind__in=["moved", "edited"]).values_list("seq", flat=True)
        )
        assert recorded == [(min(seqs), max(seqs))] and max(seqs) == min(seqs) + 1
        assert_counts_exact(project)
        recount_matches()

    def test_a_move_within_the_column_records_only_the_edit(self, project, columns, owner):
        task = create(project, columns["todo"], owner)
        services.move_task(
            project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("priority", 3), version=task.version
        )
        kinds = list(TaskEvent.objects.filter(task_id=task.pk).order_by("seq").values_list("kind", flat=True))
        assert kinds == ["created", "edited"]
        assert Task.objects.get(pk=task.pk).priority == 3

    def test_the_same_lane_is_a_plain_move(self, project, columns, owner):
        task = create(project, columns["todo"], owner, assignee=owner)
        moved = services.move_task(
            project=project, task_id=task.pk, status_id=columns["done"].pk, lane=("assignee", owner), version=1
        )
        assert moved.lane_edits == {} and Task.objects.get(pk=task.pk).version == task.version
        kinds = list(TaskEvent.objects.filter(task_id=task.pk).order_by("seq").values_list("kind", flat=True))
        assert kinds == ["created", "moved"]

    def test_a_stale_version_changes_nothing(self, project, columns, owner, ben):
        task = create(project, columns["todo"], owner)
        services.update_task(project=project, task_id=task.pk, version=task.version, title="Theirs")
        with pytest.raises(services.StaleVersion):
            services.move_task(
                project=project,
                task_id=task.pk,
                status_id=columns["active"].pk,
                lane=("assignee", ben),
                version=task.version,
            )
        stored = Task.objects.get(pk=task.pk)
        assert (stored.assignee_id, stored.task_status_id, stored.title) == (None, columns["todo"].pk, "Theirs")
        assert not TaskEvent.objects.filter(task_id=task.pk, kind="moved").exists()
        assert_counts_exact(project)

    def test_a_hard_wip_limit_counts_the_cards_of_every_lane(self, project, columns, owner, ben):
        active = columns["active"]
        services.update_column(
            project=project, status_id=active.pk, name="Doing", category="active", wip_limit=2, wip_hard=True
        )
        create(project, active, owner, assignee=owner)
        create(project, active, owner, assignee=ben)
        task = create(project, columns["todo"], owner)
        with pytest.raises(services.WipLimitReached, match="is full"):
            services.move_task(
                project=project, task_id=task.pk, status_id=active.pk, lane=("assignee", owner), version=task.version
            )
        stored = Task.objects.get(pk=task.pk)
        assert (stored.assignee_id, stored.task_status_id, stored.version) == (None, columns["todo"].pk, task.version)
        assert_counts_exact(project)

    def test_lane_moves_keep_the_counts_exact(self, project, columns, owner, ben, labels):
        rng = random.Random(16)
        tasks = [create(project, columns[c], owner) for c in ("todo", "active", "review", "issue", "done") * 4]
        label_ids = [label.pk for label in labels.values()]
        lanes = [("assignee", owner), ("assignee", ben), ("assignee", None), ("priority", 2), ("priority", 0)]
        lanes += [("label", pk) for pk in label_ids] + [("label", None)]
        for _ in range(60):
            task = Task.objects.get(pk=rng.choice(tasks).pk)
            services.move_task(
                project=project,
                task_id=task.pk,
                status_id=rng.choice(list(columns.values())).pk,
                lane=rng.choice(lanes),
                version=task.version,
            )
        assert_counts_exact(project)
        recount_matches()

    def test_publishes_one_live_event_on_commit(self, project, columns, owner, django_capture_on_commit_callbacks):
        task = create(project, columns["todo"], owner)
        with django_capture_on_commit_callbacks() as hooks:
            services.move_task(
                project=project, task_id=task.pk, status_id=columns["active"].pk, lane=("priority", 4), version=1
            )
        assert len(hooks) == 1

    def test_an_unknown_kind_or_label_is_refused(self, project, columns, owner, application):
        task = create(project, columns["todo"], owner)
        with pytest.raises(ValidationError):
            services.move_task(project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("colour", 1))
        other = Label.objects.create(
            project=services.create_project(application=application, name="Other", key="OTH"), name="x"
        )
        with pytest.raises(ValidationError, match="not a label of this project"):
            services.move_task(project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("label", other.pk))
        with pytest.raises(ValidationError):
            services.move_task(project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("priority", 9))
        assert Task.objects.get(pk=task.pk).version == task.version


class TestLabelLanes:
    def test_a_drop_replaces_the_lane_label_and_keeps_the_others(self, project, columns, owner, labels):
        bug, docs, ui = labels["bug"], labels["Docs"], labels["UI"]
        task = create(project, columns["todo"], owner)
        task = services.update_task(project=project, task_id=task.pk, version=1, label_ids=[ui.pk, bug.pk])
        rule = queries.grouping("label", queries.labels_of(project))
        assert rule.key_of(task) == bug.pk  # "bug" before "UI", whatever the case
        moved = services.move_task(
            project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("label", docs.pk), version=2
        )
        assert sorted(moved.label_ids) == sorted([docs.pk, ui.pk])
        assert rule.key_of(moved) == docs.pk
        event = TaskEvent.objects.filter(task_id=task.pk, kind="edited").order_by("-seq").first()
        assert event.data["labels"] == {"from": ["bug", "UI"], "to": ["Docs", "UI"]}

    def test_a_card_without_labels_gains_the_lane_label_and_no_label_clears_them(self, project, columns, owner, labels):
        task = create(project, columns["todo"], owner)
        moved = services.move_task(
            project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("label", labels["UI"].pk), version=1
        )
        assert moved.label_ids == [labels["UI"].pk]
        moved = services.move_task(
            project=project,
            task_id=task.pk,
            status_id=columns["todo"].pk,
            lane=("label", labels["Docs"].pk),
            version=moved.version,
        )
        assert moved.label_ids == [labels["Docs"].pk]
        task = services.update_task(
            project=project, task_id=task.pk, version=moved.version, label_ids=[labels["Docs"].pk, labels["bug"].pk]
        )
        cleared = services.move_task(
            project=project, task_id=task.pk, status_id=columns["todo"].pk, lane=("label", None), version=task.version
        )
        assert cleared.label_ids == []

    def test_the_sql_rule_equals_the_python_rule(self, project, columns, owner, labels):
        """Grouping.expression() (counts, pages) and key_of() (the service, the page grouping) agree."""
        rng = random.Random(11)
        ids = [label.pk for label in labels.values()] + [999_999]  # an id with no label shows nothing
        for i in range(40):
            task = create(project, columns["todo"], owner, title=f"c{i}")
            Task.objects.filter(pk=task.pk).update(label_ids=rng.sample(ids, rng.randint(0, 3)), priority=i % 5)
        for kind in queries.LANE_KINDS:
            rule = queries.grouping(kind, queries.labels_of(project))
            in_sql = dict(
                Task.objects.filter(project=project).annotate(lane=rule.expression()).values_list("pk", "lane")
            )
            in_python = {task.pk: rule.key_of(task) for task in Task.objects.filter(project=project)}
            assert in_sql == in_python
            for value in set(in_python.values()):
                lane = set(rule.cards(Task.objects.filter(project=project), value).values_list("pk", flat=True))
                assert lane == {pk for pk, key in in_python.items() if key == value}
