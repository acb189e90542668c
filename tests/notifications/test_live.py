"""The bell over the board socket, on the real channel layer (channels-redis): a notification
made by the worker reaches the recipient's open board, whatever board it is, and nobody else's."""

import re

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from boards import live, services
from notifications import services as notify_services
from tests.factories import make_project
from tests.support.live_support import open_socket, receive_until, session_cookie
from tests.support.queue import run_queued_jobs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_db_pool"),
    pytest.mark.timeout(60),
]


def bell_count(html: str) -> int:
    found = re.search(r'data-count="(\d+)"', html)
    return int(found.group(1)) if found else 0


def test_the_bell_is_pushed_to_the_recipients_open_boards(application, project, card, ada, bob):
    other_board = make_project(application, name="Other", key="OTH")
    ada_cookie, bob_cookie = session_cookie(ada), session_cookie(bob)

    def comment_and_run(body):
        services.add_comment(project=project, task_id=card.pk, body=body, author=bob)
        run_queued_jobs()
        live.flush()

    def read_all():
        notify_services.mark_all_read(user=ada)
        live.flush()

    async def scenario():
        # Ada looks at another board of the workspace: the bell follows her there.
        ada_socket, connected = await open_socket(other_board.pk, cookie=ada_cookie)
        assert connected
        bob_socket, _ = await open_socket(project.pk, cookie=bob_cookie)
        await receive_until(ada_socket, "hello")
        await receive_until(bob_socket, "hello")
        await sync_to_async(comment_and_run)("First")
        first = await receive_until(ada_socket, 'id="notify-bell"')
        await sync_to_async(comment_and_run)("Second")
        second = await receive_until(ada_socket, 'id="notify-bell"')
        await sync_to_async(read_all)()
        cleared = await receive_until(ada_socket, 'id="notify-bell"')
        bob_heard = []
        while not await bob_socket.receive_nothing(timeout=0.5):
            bob_heard.append((await bob_socket.receive_output())["text"])
        await ada_socket.disconnect()
        await bob_socket.disconnect()
        return first, second, cleared, bob_heard

    first, second, cleared, bob_heard = async_to_sync(scenario)()
    assert 'hx-swap-oob="true"' in first and bell_count(first) == 1
    assert bell_count(second) == 2
    assert bell_count(cleared) == 0
    assert not any("notify-bell" in text for text in bob_heard)  # the actor's own bell is not told
