"""People on the board: the assignee's avatar and display name on card faces, the presence row.

Profiles come in the same queries as their users (select_related), so every pinned count holds
with assigned cards: the board page (tests/boards/web/test_views.py), each write
(tests/boards/test_write_costs.py) and the live push."""

import re

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.urls import reverse

from accounts.models import AVATAR_COLOURS, Profile
from boards import history, live, services
from boards.live import consumers, presence
from boards.models import Membership, Task
from tests.boards.conftest import HX, add_tasks
from tests.boards.test_write_costs import COSTS, requests
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(application, owner):
    """The owner with a profile, a colleague with one, and one without (the defaults)."""
    Profile.objects.create(user=owner, display_name="Olga Owner", avatar_colour="#7c3aed")
    styled = MembershipFactory(application=application, role=Membership.Role.EDITOR).user
    Profile.objects.create(user=styled, display_name="Sam <b>Styled</b>", avatar_colour="#0e7490")
    plain = MembershipFactory(application=application, role=Membership.Role.EDITOR, user__first_name="Pat").user
    return {"owner": owner, "styled": styled, "plain": plain}


def faces(html: str) -> list[tuple[str, str, str]]:
    """(colour class, initials, name) of each assignee shown on a card face."""
    pattern = (
        r'<span class="assignee"><span class="avatar (avatar-\w+)" aria-hidden="true">([^<]*)</span>([^<]*)</span>'
    )
    return re.findall(pattern, html)


def test_card_faces_show_avatar_and_display_name(owner_client, project, columns, team):
    add_tasks(project, columns["todo"], 1, assignee=team["owner"])
    add_tasks(project, columns["active"], 1, assignee=team["styled"])
    add_tasks(project, columns["done"], 1, assignee=team["plain"])
    html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
    default = AVATAR_COLOURS[team["plain"].pk % len(AVATAR_COLOURS)][0][1:]
    assert sorted(faces(html)) == sorted(
        [
            ("avatar-7c3aed", "OO", "Olga Owner"),
            ("avatar-0e7490", "S&lt;", "Sam &lt;b&gt;Styled&lt;/b&gt;"),
            (f"avatar-{default}", "PA", "Pat"),
        ]
    )
    # The assignee picker shows display names too.
    assert ">Olga Owner</option>" in html


@pytest.mark.parametrize("size", [15, 300])
def test_the_board_query_count_is_unchanged_with_assignees_and_profiles(
    owner_client, project, columns, team, size, django_assert_num_queries
):
    people = list(team.values())
    for index, column in enumerate(columns.values()):
        add_tasks(project, column, size // len(columns), assignee=people[index % len(people)])
    # As pinned in tests/boards/web/test_views.py (the project's labels one of them), where no card has an assignee.
    with django_assert_num_queries(8):
        html = owner_client.get(reverse("board", args=[project.pk])).content.decode()
    assert len(faces(html)) == min(size, 5 * 50)


def test_each_write_costs_the_same_on_assigned_cards(owner_client, project, columns, team, django_assert_num_queries):
    for column in columns.values():
        add_tasks(project, column, 6, assignee=team["styled"])
    for name, url, data in requests(project, columns):
        with django_assert_num_queries(COSTS[name], info=name):
            response = owner_client.post(url, data, headers=HX)
        assert response.status_code == 200, (name, response.content[:300])
        if name.startswith("move") or name == "finish":  # a moved card's face comes back (a new one has no assignee)
            assert "avatar-0e7490" in response.content.decode(), name


def test_the_live_push_of_an_assigned_card_costs_the_same(
    owner_client, project, columns, team, django_assert_num_queries, django_capture_on_commit_callbacks
):
    for category in ("todo", "review", "done"):
        add_tasks(project, columns[category], 3, assignee=team["owner"])
    async_to_sync(get_channel_layer().group_add)(live.group_name(project.pk), "test.watcher")
    name, url, data = requests(project, columns)[1]
    # As tests/boards/test_write_costs.py pins it for unassigned cards.
    with django_assert_num_queries(COSTS[name] + 3), django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url, data, headers=HX)
    pushed = async_to_sync(get_channel_layer().receive)("test.watcher")
    assert "avatar-7c3aed" in str(pushed)


def test_the_card_page_shows_display_names(owner_client, project, columns, team):
    add_tasks(project, columns["todo"], 1, assignee=team["styled"])
    task = Task.objects.get(project=project)
    html = owner_client.get(reverse("card", args=[project.pk, task.pk])).content.decode()
    assert "Assigned to <b>Sam &lt;b&gt;Styled&lt;/b&gt;</b>" in html


class TestPresence:
    @pytest.fixture(autouse=True)
    def _in_process_presence(self, settings):
        settings.REDIS_URL = ""  # presence's in-process store: this test is about the fragment
        presence._memory.__init__()
        yield
        presence._memory.__init__()

    def test_viewers_show_their_avatar_and_name_in_one_query(self, project, team, outsider, django_assert_num_queries):
        for user in (*team.values(), outsider):
            presence.presence_touch(project.pk, f"{user.pk}:tab")
        with django_assert_num_queries(1):
            html = consumers.presence_html(project.pk)
        viewers = re.findall(r'<li class="viewer avatar (avatar-\w+)" data-user="(\d+)" title="([^"]*)"', html)
        default = AVATAR_COLOURS[team["plain"].pk % len(AVATAR_COLOURS)][0][1:]
        assert viewers == [
            ("avatar-7c3aed", str(team["owner"].pk), "Olga Owner"),
            ("avatar-0e7490", str(team["styled"].pk), "Sam &lt;b&gt;Styled&lt;/b&gt;"),
            (f"avatar-{default}", str(team["plain"].pk), "Pat"),
        ]  # the outsider is not a member: not shown


def test_a_cards_activity_names_people_by_display_name_in_one_query(project, columns, team, django_assert_num_queries):
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Named", reporter=team["owner"])
    services.move_task(project=project, task_id=task.pk, actor=team["styled"], status_id=columns["done"].pk)
    with django_assert_num_queries(1):
        sentences = [event.sentence for event in history.card_activity(task)]
    assert sentences[0].startswith("Sam <b>Styled</b> moved this")  # escaped where shown
    assert sentences[1].startswith("Olga Owner created this")
