"""Fan-out over real channels-redis: every socket of a board gets each event once, other boards'
sockets get nothing, a removed member's sockets stop, and an event costs the same queries for one
socket or twenty (rendered once per role on commit, never per socket)."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from boards import services
from boards.live import events
from boards.models import Membership
from tests.boards.live.test_consumers import consumer_queries, quiet
from tests.factories import MembershipFactory, make_project
from tests.support.live_support import open_socket, receive_until, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.timeout(90),
]

CHANGE = 'data-kind="change"'


def members(application, roles: list[str]) -> list[tuple[str, object]]:
    """(role, user) for a new member per role."""
    return [(role, MembershipFactory(application=application, role=role).user) for role in roles]


async def open_many(project_id: int, cookies: list[str]) -> list:
    sockets = []
    for cookie in cookies:
        socket, connected = await open_socket(project_id, cookie=cookie)
        assert connected
        await receive_until(socket, "hello")
        sockets.append(socket)
    await quiet(sockets)  # the arrivals' presence lists
    return sockets


async def changes(socket, timeout: float = 0.3) -> list[str]:
    """Every change event the socket has left to read, after `timeout` s of quiet; skips presence."""
    heard = []
    while not await socket.receive_nothing(timeout=timeout, interval=0.01):
        message = await socket.receive_output()
        if message["type"] == "websocket.close":
            heard.append(f"closed {message.get('code')}")
            break
        if CHANGE in message.get("text", ""):
            heard.append(message["text"])
    return heard


class TestEveryoneOnce:
    def test_every_socket_of_the_board_gets_the_event_once_and_other_boards_nothing(
        self, application, project, columns, editor
    ):
        other = make_project(application, name="Elsewhere", key="ELS")
        people = members(application, ["editor", "editor", "owner", "viewer", "viewer"])
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Fanned", reporter=editor)
        cookies = {user.pk: session_cookie(user) for _, user in people}
        # Twenty sockets on the board, four per person (tabs); three on the other board.
        here = [(role, cookies[user.pk]) for role, user in people for _ in range(4)]
        there = [cookies[user.pk] for _, user in people[:3]]

        async def scenario():
            sockets = await open_many(project.pk, [cookie for _, cookie in here])
            elsewhere = await open_many(other.pk, there)
            await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=columns["done"].pk)
            seq = await sync_to_async(events.current_seq)(project.pk)
            heard = await asyncio.gather(*(changes(socket) for socket in sockets))
            heard_elsewhere = await asyncio.gather(*(changes(socket) for socket in elsewhere))
            for socket in [*sockets, *elsewhere]:
                await socket.disconnect()
            return seq, heard, heard_elsewhere

        seq, heard, heard_elsewhere = async_to_sync(scenario)()
        assert [len(texts) for texts in heard] == [1] * 20
        assert all(f'data-seq="{seq}"' in texts[0] and "Fanned" in texts[0] for texts in heard)
        # One text per role: every editor (and owner) the same bytes, every viewer the same.
        by_role = {}
        for (role, _), texts in zip(here, heard, strict=True):
            by_role.setdefault("viewer" if role == "viewer" else "editor", set()).add(texts[0])
        assert {role: len(texts) for role, texts in by_role.items()} == {"editor": 1, "viewer": 1}
        assert heard_elsewhere == [[], [], []]

    def test_a_removed_members_sockets_stop_and_the_others_still_hear(self, application, project, columns, editor):
        people = members(application, ["editor", "editor", "viewer"])
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Kept", reporter=editor)
        gone = people[0][1]
        cookies = [session_cookie(user) for _, user in people for _ in range(3)]

        async def scenario():
            sockets = await open_many(project.pk, cookies)
            await sync_to_async(Membership.objects.filter(user=gone, application=application).delete)()
            await sync_to_async(events.flush)()
            closed = [await changes(socket) for socket in sockets[:3]]
            await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=columns["done"].pk)
            heard = await asyncio.gather(*(changes(socket) for socket in sockets[3:]))
            for socket in sockets:
                await socket.disconnect()
            return closed, heard

        closed, heard = async_to_sync(scenario)()
        assert closed == [["closed 4403"]] * 3  # before the move: nothing of it reaches them
        assert [len(texts) for texts in heard] == [1] * 6


class TestQueriesPerEvent:
    def test_an_event_costs_the_same_queries_for_1_or_20_sockets(self, application, project, columns, editor):
        people = members(application, ["editor", "owner", "viewer", "editor"])
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Counted", reporter=editor)
        cookies = [session_cookie(user) for _, user in people]
        targets = iter([columns["active"], columns["review"], columns["done"], columns["todo"]])

        def one_event(sockets: list[str]) -> list[str]:
            """Every statement of the move, its render on commit and every consumer, any thread."""
            target = next(targets)

            async def scenario():
                opened = await open_many(project.pk, sockets)
                with consumer_queries() as queries:
                    await sync_to_async(services.move_task)(project=project, task_id=task.pk, status_id=target.pk)
                    heard = await asyncio.gather(*(changes(socket) for socket in opened))
                for socket in opened:
                    await socket.disconnect()
                assert [len(texts) for texts in heard] == [1] * len(opened)
                return list(queries.statements)

            return async_to_sync(scenario)()

        unwatched = one_event([])
        one = one_event(cookies[:1])
        twenty = one_event([cookie for cookie in cookies for _ in range(5)])
        assert len(one) == len(twenty), (one, twenty)
        # The move, then its render once on commit (the board's state, the card, the card above
        # it in its column): nothing per socket.
        assert len(one) - len(unwatched) == 3, (unwatched, one)
