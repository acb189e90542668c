"""tests/support/event_loops.py: a test that hung does not take the later tests' async code with it."""

import asyncio
import contextvars
import signal
import threading
from contextlib import contextmanager

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from tests.support import event_loops


class Interrupted(Exception):
    pass


@contextmanager
def interrupted_after(seconds: float):
    """Raise Interrupted in this thread after `seconds`, as pytest-timeout does (SIGUSR1 here, so
    pytest-timeout keeps its own SIGALRM)."""

    def interrupt(signum, frame):
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    timer = threading.Timer(seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGUSR1))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)


async def hang():
    await sync_to_async(lambda: None)()  # served by this thread: asgiref remembers the loop
    await asyncio.Event().wait()


async def authenticate():
    """What the ASGI stack does for a socket: a thread-sensitive call from a task that starts
    with an empty context (asgiref's ApplicationCommunicator)."""
    return await contextvars.Context().run(asyncio.create_task, sync_to_async(lambda: "user")())


def test_a_hung_loop_is_stopped_and_the_next_call_gets_a_loop_of_its_own():
    with pytest.raises(Interrupted), interrupted_after(0.5):
        async_to_sync(hang)()
    hung = event_loops.loops_left_open()
    assert len(hung) == 1 and hung[0].is_running()

    # Left as it is, the next call goes to the hung loop and waits for the abandoned executor.
    with pytest.raises(Interrupted), interrupted_after(1):
        async_to_sync(authenticate)()

    assert "in wait" in event_loops.describe(hung[0])  # the hung task, where it waits
    assert event_loops.stop(hung[0])
    event_loops.forget_event_loops()
    assert event_loops.loops_left_open() == []
    with interrupted_after(10):
        assert async_to_sync(authenticate)() == "user"
