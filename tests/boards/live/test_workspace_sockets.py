"""Board sockets when their project is archived, moved to another workspace or deleted."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from boards import services
from boards.live import presence, sockets
from boards.models import Membership, Project
from tests.factories import MembershipFactory
from tests.support.live_support import open_socket, receive_until, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.timeout(60),
]


async def closed_with(socket, timeout: float = 5) -> int:
    """Read until the socket closes; its close code."""
    while True:
        message = await socket.receive_output(timeout=timeout)
        if message["type"] == "websocket.close":
            return message["code"]


async def still_open(socket) -> bool:
    """Whether the socket is open (it answers nothing but presence, no close)."""
    while not await socket.receive_nothing(timeout=0.5, interval=0.01):
        if (await socket.receive_output())["type"] == "websocket.close":
            return False
    return True


class TestMove:
    def test_members_who_lose_access_are_closed_the_others_stay(self, project, application, owner, editor):
        target = MembershipFactory(user=owner, role=Membership.Role.OWNER).application
        stays = MembershipFactory(application=target, role=Membership.Role.EDITOR).user
        MembershipFactory(application=application, user=stays, role=Membership.Role.VIEWER)
        cookies = {user.pk: session_cookie(user) for user in (editor, stays)}

        async def scenario():
            leaving, _ = await open_socket(project.pk, cookie=cookies[editor.pk])
            staying, _ = await open_socket(project.pk, cookie=cookies[stays.pk])
            for socket in (leaving, staying):
                await receive_until(socket, "hello")
            await sync_to_async(services.move_project)(project=project, target=target, actor=owner)
            code = await closed_with(leaving)
            is_open = await still_open(staying)
            await staying.disconnect()
            return code, is_open

        assert async_to_sync(scenario)() == (4403, True)

    def test_a_lost_move_message_is_caught_up_when_the_cache_lapses(self, project, columns, application, owner, editor):
        """channels-redis may drop board.moved: the workspace is read again after ROLE_TTL."""
        target = MembershipFactory(user=owner, role=Membership.Role.OWNER).application
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            # Moved with no message to the sockets, and this process's cached workspace lapsed.
            await sync_to_async(Project.objects.filter(pk=project.pk).update)(application=target)
            sockets.forget_workspace(project.pk)
            await sync_to_async(services.create_task)(
                project=project, status_id=columns["todo"].pk, title="Secret", reporter=owner
            )
            while True:
                message = await socket.receive_output(timeout=5)
                if message["type"] == "websocket.close":
                    return message["code"]
                assert "Secret" not in message.get("text", "")

        assert async_to_sync(scenario)() == 4403


class TestDelete:
    def test_the_boards_sockets_close(self, project, owner, editor):
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await sync_to_async(services.delete_project)(project=project, actor=owner)
            return await closed_with(socket)

        assert async_to_sync(scenario)() == 4403

    def test_deleting_the_workspace_closes_its_members_sockets(self, project, application, owner, editor):
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await sync_to_async(services.delete_workspace)(
                application=application, actor=owner, confirm_name=application.name
            )
            return await closed_with(socket)

        assert async_to_sync(scenario)() == 4403


class TestArchived:
    def test_no_edit_lock_is_taken_on_an_archived_board(self, project, columns, editor, owner):
        task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=editor)
        services.archive_project(project=project, actor=owner)
        cookie = session_cookie(editor)

        async def scenario():
            socket, _ = await open_socket(project.pk, cookie=cookie)
            await receive_until(socket, "hello")
            await socket.send_to(text_data=f'{{"type": "take", "task": {task.pk}}}')
            await socket.receive_nothing(timeout=0.3)
            await socket.disconnect()

        async_to_sync(scenario)()
        assert presence.lock_state(task.pk, owner.pk).holder_id is None
