"""A card moving to another project (services.move_task_to_project)."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from boards import history, services
from boards.models import KeyRedirect, Membership, Task, TaskEvent
from boards.queries import ReadOnly, get_project_for
from tests.factories import ApplicationFactory, MembershipFactory, make_project
from tests.support.helpers import assert_counts_exact

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(application):
    return make_project(application, name="Operations", key="OPS")


def as_seen_by(user, project):
    return get_project_for(user, project.pk)


def make(project, title, owner, category="todo"):
    column = project.task_statuses.filter(category=category).order_by("position").first()
    return services.create_task(project=project, status_id=column.pk, title=title, reporter=owner)


def move(user, task, source, target, **kwargs):
    return services.move_task_to_project(
        project=as_seen_by(user, source), task_id=task.pk, target=as_seen_by(user, target), actor=user, **kwargs
    )


def test_counts_of_both_projects_stay_exact(project, ops, owner):
    task = make(project, "a", owner, "active")
    make(project, "b", owner, "done")
    make(ops, "c", owner, "review")
    moved = move(owner, task, project, ops)
    assert moved.project_id == ops.pk
    assert moved.task_status == ops.task_statuses.filter(category="todo").order_by("position").first()
    assert_counts_exact(project, ops)
    out = io.StringIO()
    call_command("recalc_aggregates", "--check", stdout=out)
    assert "match a recount" in out.getvalue()  # --check raises CommandError on any drift


def test_a_chosen_column_of_the_target(project, ops, owner):
    task = make(project, "a", owner)
    done = ops.task_statuses.get(category="done")
    moved = move(owner, task, project, ops, status_id=done.pk)
    assert moved.task_status_id == done.pk
    assert_counts_exact(project, ops)


def test_a_column_of_another_project_is_refused(project, ops, owner, columns):
    task = make(project, "a", owner)
    with pytest.raises(ValidationError):
        move(owner, task, project, ops, status_id=columns["done"].pk)
    assert Task.objects.get(pk=task.pk).project_id == project.pk


def test_the_card_goes_on_top_of_its_new_column(project, ops, owner):
    there = make(ops, "there", owner)
    task = make(project, "a", owner)
    moved = move(owner, task, project, ops)
    assert moved.position < Task.objects.get(pk=there.pk).position


def test_the_number_is_kept_when_the_target_never_used_it_for_a_card_there(project, ops, owner):
    for i in range(3):
        make(ops, f"o{i}", owner)  # OPS-1..3
    gone = Task.objects.get(project=ops, number=2)
    services.delete_task(project=ops, task_id=gone.pk)
    make(project, "w1", owner)
    task = make(project, "w2", owner)  # WEB-2
    moved = move(owner, task, project, ops)
    assert moved.number == 2  # OPS-2 is free and within OPS's numbers
    assert KeyRedirect.objects.get(project=project, number=2).task_id == task.pk


def test_a_taken_number_becomes_the_targets_next(project, ops, owner):
    make(ops, "o1", owner)  # OPS-1
    task = make(project, "w1", owner)  # WEB-1
    moved = move(owner, task, project, ops)
    assert moved.number == 2
    assert history.take_card_numbers(ops.pk) == 3  # never given again


def test_a_number_beyond_the_targets_last_is_not_kept(project, ops, owner):
    for i in range(3):
        task = make(project, f"w{i}", owner)  # WEB-3 last
    moved = move(owner, task, project, ops)
    assert moved.number == 1
    assert make(ops, "next", owner).number == 2


def test_the_old_key_redirects_and_a_card_coming_home_takes_it_back(project, ops, owner, client):
    task = make(project, "a", owner)
    moved = move(owner, task, project, ops)
    client.force_login(owner)
    response = client.get(f"/WEB-{task.number}/")
    assert response.status_code == 302 and response["Location"] == moved.get_absolute_url()
    back = move(owner, Task.objects.get(pk=task.pk), ops, project)
    assert back.number == task.number  # WEB-1 is its own again
    assert not KeyRedirect.objects.filter(project=project).exists()
    assert KeyRedirect.objects.get(project=ops, number=moved.number).task_id == task.pk
    assert client.get(f"/OPS-{moved.number}/")["Location"] == back.get_absolute_url()


def test_labels_are_cleared_and_the_version_bumped(project, ops, owner):
    task = make(project, "a", owner)
    Task.objects.filter(pk=task.pk).update(label_ids=[1, 2])
    moved = move(owner, Task.objects.get(pk=task.pk), project, ops)
    stored = Task.objects.get(pk=task.pk)
    assert stored.label_ids == [] and stored.version == task.version + 1 == moved.version


def test_history_moved_out_and_moved_in(project, ops, owner):
    task = make(project, "a", owner, "review")
    move(owner, task, project, ops)
    out = TaskEvent.objects.get(project=project, kind="moved_out")
    arrived = TaskEvent.objects.get(project=ops, kind="moved_in")
    assert (out.from_category, out.to_category, out.task_id) == ("review", None, task.pk)
    assert (arrived.from_category, arrived.to_category, arrived.task_id) == (None, "todo", task.pk)
    assert out.seq == history.current_seq(project.pk) and arrived.seq == history.current_seq(ops.pk)
    sentences = [event.sentence for event in history.card_activity(task)]
    assert any("to another project as OPS-" in s for s in sentences)
    assert any("moved this here from WEB-" in s for s in sentences)


def test_the_flow_of_each_log_adds_up_to_its_counts(project, ops, owner):
    moved = make(project, "a", owner, "active")
    make(project, "b", owner, "done")
    move(owner, moved, project, ops)
    for each in (project, ops):
        flow = {}
        for event in TaskEvent.objects.filter(project=each):
            if event.from_category:
                flow[event.from_category] = flow.get(event.from_category, 0) - event.task_count
            if event.to_category:
                flow[event.to_category] = flow.get(event.to_category, 0) + event.task_count
        live = {}
        for category in Task.objects.live().filter(project=each).values_list("task_status__category", flat=True):
            live[category] = live.get(category, 0) + 1
        assert {k: v for k, v in flow.items() if v} == live


def test_viewers_of_either_project_may_not(project, ops, owner, viewer, editor):
    task = make(project, "a", owner)
    with pytest.raises(ReadOnly):
        move(viewer, task, project, ops)
    other = ApplicationFactory()
    MembershipFactory(application=other, user=editor, role=Membership.Role.VIEWER)
    elsewhere = make_project(other, name="Elsewhere", key="ELS")
    with pytest.raises(ReadOnly):
        move(editor, task, project, elsewhere)
    assert Task.objects.get(pk=task.pk).project_id == project.pk


def test_across_workspaces_the_assignee_is_kept_only_if_a_member_there(project, owner, editor):
    other = ApplicationFactory()
    MembershipFactory(application=other, user=owner, role=Membership.Role.OWNER)
    far = make_project(other, name="Far", key="FAR")
    task = services.create_task(
        project=project, status_id=project.task_statuses.first().pk, title="a", reporter=owner, assignee=editor
    )
    moved = move(owner, task, project, far)
    assert moved.assignee_id is None
    assert_counts_exact(project, far)


def test_archived_cards_and_the_same_project_are_refused(project, ops, owner):
    task = make(project, "a", owner)
    with pytest.raises(ValidationError):
        move(owner, task, project, project)
    services.archive_task(project=project, task_id=task.pk)
    with pytest.raises(ValidationError):
        move(owner, task, project, ops)


def test_live_push_to_both_boards_after_commit(project, ops, owner, django_capture_on_commit_callbacks):
    task = make(project, "a", owner)
    with django_capture_on_commit_callbacks() as callbacks:
        move(owner, task, project, ops)
    assert len(callbacks) >= 2


def test_deleting_the_project_a_card_moved_to_takes_its_old_key_too(project, ops, owner):
    task = make(project, "a", owner)
    move(owner, task, project, ops)
    assert KeyRedirect.objects.filter(task_id=task.pk).exists()
    services.delete_project(project=as_seen_by(owner, ops), actor=owner)
    assert not KeyRedirect.objects.filter(task_id=task.pk).exists()
    assert not Task.objects.filter(pk=task.pk).exists()
    assert_counts_exact(project)
