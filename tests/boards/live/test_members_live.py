"""Members changed through services.members reach the board sockets over the real channel layer:
a removed member's socket closes with 4403 and leaves the presence list; a demoted editor's
socket takes no edit lock."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from boards import live, services
from boards.live import presence
from boards.models import Membership
from tests.boards.live.test_consumers import named_editor, quiet
from tests.support.live_support import open_socket, receive_until, session_cookie

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.timeout(60),
]


async def closed_with(socket) -> int:
    while True:
        message = await socket.receive_output(timeout=5)
        if message["type"] == "websocket.close":
            return message["code"]


def test_a_removed_member_is_closed_4403_and_leaves_the_presence_list(project, application, owner):
    bob = named_editor(application, "Bob", "Marley")
    ada = named_editor(application, "Ada", "Lovelace")
    bob_cookie, ada_cookie = session_cookie(bob), session_cookie(ada)

    async def scenario():
        watcher, _ = await open_socket(project.pk, cookie=ada_cookie)
        removed, _ = await open_socket(project.pk, cookie=bob_cookie)
        await receive_until(watcher, ">BM</li>")
        await quiet([watcher, removed])
        await sync_to_async(services.remove_member)(application=application, actor=owner, user_id=bob.pk)
        code = await closed_with(removed)  # no board event needed: the removal itself closes it
        html = await receive_until(watcher, f'id="presence-{project.pk}"')
        await watcher.disconnect()
        return code, html

    code, html = async_to_sync(scenario)()
    assert code == 4403
    assert ">AL</li>" in html and "BM" not in html
    assert bob.pk not in presence.presence_user_ids(project.pk)


def test_a_member_who_leaves_is_closed_4403(project, application, owner, editor):
    cookie = session_cookie(editor)

    async def scenario():
        socket, _ = await open_socket(project.pk, cookie=cookie)
        await receive_until(socket, "hello")
        await quiet([socket])
        await sync_to_async(services.leave_workspace)(application=application, user=editor)
        return await closed_with(socket)

    assert async_to_sync(scenario)() == 4403


def test_an_editor_demoted_to_viewer_takes_no_edit_lock(project, application, columns, owner, editor):
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=owner)
    cookie = session_cookie(editor)

    async def scenario():
        socket, _ = await open_socket(project.pk, cookie=cookie)
        await receive_until(socket, "hello")
        await quiet([socket])

        def demote():
            services.change_role(application=application, actor=owner, user_id=editor.pk, role=Membership.Role.VIEWER)
            live.flush()

        await sync_to_async(demote)()
        await quiet([socket])  # the change reached the socket
        await socket.send_to(text_data=f'{{"type": "take", "task": {task.pk}}}')
        await quiet([socket])
        # Asked while the socket is open: closing it would give back a lock it had taken.
        assert (await sync_to_async(presence.lock_state)(task.pk, owner.pk)).holder_id is None
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_editor_still_takes_a_lock_before_demotion(project, application, columns, owner, editor):
    """The counterpart of the test above: the same steps without the demotion take the lock."""
    task = services.create_task(project=project, status_id=columns["todo"].pk, title="Text", reporter=owner)
    cookie = session_cookie(editor)

    async def scenario():
        socket, _ = await open_socket(project.pk, cookie=cookie)
        await receive_until(socket, "hello")
        await quiet([socket])
        await socket.send_to(text_data=f'{{"type": "take", "task": {task.pk}}}')
        await quiet([socket])
        assert (await sync_to_async(presence.lock_state)(task.pk, owner.pk)).holder_id == editor.pk
        await socket.disconnect()

    async_to_sync(scenario)()
