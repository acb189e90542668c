"""Keep one test's asyncio event loop from capturing the next test's async code.

asgiref remembers, per thread, the event loop that last ran a thread-sensitive call in that
thread (SyncToAsync.threadlocal.main_event_loop) and sends that thread's next async_to_sync to it
for as long as it is not closed. Between tests the pytest thread runs no sync_to_async call, so
that memory is only ever stale. After a test hung (its loop still running, the pytest thread gone
on to the next test), each later async_to_sync in the process went to the hung loop, where the
ASGI stack's thread-sensitive calls (session, user) were queued for the hung test's abandoned
CurrentThreadExecutor: one hang timed out every later WebSocket test. The suite's conftest
forgets the loop around each test and stops a loop the test left running.
"""

import asyncio
import threading
import time

from asgiref.sync import AsyncToSync, SyncToAsync

_THREAD_STATE = ("main_event_loop", "main_event_loop_pid", "task_context")


def forget_event_loops() -> None:
    """Drop asgiref's memory of the loop the calling thread last served."""
    for name in _THREAD_STATE:
        if hasattr(SyncToAsync.threadlocal, name):
            delattr(SyncToAsync.threadlocal, name)


def loops_left_open() -> list[asyncio.AbstractEventLoop]:
    """Event loops of async_to_sync calls from this thread that have not finished."""
    here = threading.current_thread()
    loops = {
        getattr(SyncToAsync.threadlocal, "main_event_loop", None),
        *(loop for loop, executor in AsyncToSync.loop_thread_executors.copy().items() if executor._work_thread is here),
    }
    return [loop for loop in loops if loop is not None and not loop.is_closed()]


def describe(loop: asyncio.AbstractEventLoop) -> str:
    """The loop's tasks and where each one waits (the whole await chain), for the test report."""
    lines = [f"{loop!r} is still open; its tasks:"]
    for task in asyncio.all_tasks(loop):  # from another thread: good enough for a diagnosis
        lines.append(f"  {task!r}")
        awaited = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                lines.append(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)


def stop(loop: asyncio.AbstractEventLoop, timeout: float = 10.0) -> bool:
    """Cancel the loop's tasks, again and again, until asyncio.run in its thread closes it.

    Repeated because a cancellation can be lost (see tasktrack/channel_layer.py). A task waiting
    for a thread-sensitive call queued on an abandoned executor gives it up when cancelled. True
    when the loop closed; a loop that is not running cannot be reached and is only forgotten.
    """

    def cancel_all():
        for task in asyncio.all_tasks(loop):
            task.cancel()

    deadline = time.monotonic() + timeout
    while not loop.is_closed() and loop.is_running() and time.monotonic() < deadline:
        try:
            loop.call_soon_threadsafe(cancel_all)
        except RuntimeError:  # closed meanwhile
            break
        time.sleep(0.1)
    return loop.is_closed()
