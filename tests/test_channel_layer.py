"""tasktrack.channel_layer: a consumer's layer calls end when the consumer is cancelled.

On Python 3.11 redis-py's write timeout (asyncio.wait_for) loses a cancellation that lands while
a command is written. A receive that lost it polled Redis forever: the consumer test that
cancelled it (or asyncio.run, cleaning up) waited until pytest-timeout, and every later socket
test in the process hung behind it. Each case cancels the call after 0, 1, 2… steps of the event
loop, so one of them lands inside the write.
"""

import asyncio
import contextlib

import pytest
import redis
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings

STEPS = range(30)


def outcomes(call) -> dict[int, str]:
    """How `call(layer, channel)` ended when cancelled after each number of loop steps."""

    async def one(steps: int) -> str:
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)  # its own: a new loop each time
        channel = await layer.new_channel()
        task = asyncio.ensure_future(call(layer, channel))
        try:
            for _ in range(steps):
                await asyncio.sleep(0)
            if not task.cancel():
                return "finished before the cancel"
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=3)
            except asyncio.CancelledError:
                return "cancelled"
            except redis.RedisError:
                return "failed"  # Redis slower than the timeouts on a loaded machine: not the point here
            except TimeoutError:
                return "still running"
            return "returned as if not cancelled"
        finally:
            while not task.done():  # tidy up after a failure: ask until it listens
                task.cancel()
                await asyncio.sleep(0.05)
            if not task.cancelled():
                task.exception()  # retrieved: no "never retrieved" warning
            with contextlib.suppress(redis.RedisError):
                await layer.flush()

    async def every() -> dict[int, str]:
        return {steps: await one(steps) for steps in STEPS}

    return asyncio.run(every())


@pytest.fixture(autouse=True)
def _redis_layer():
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "tasktrack.channel_layer.RedisChannelLayer"


class TestCancellation:
    def test_a_cancelled_receive_ends(self):
        results = outcomes(lambda layer, channel: layer.receive(channel))
        assert {steps: result for steps, result in results.items() if result not in ("cancelled", "failed")} == {}

    @pytest.mark.parametrize("operation", ["group_add", "group_discard", "group_send", "send"])
    def test_a_cancelled_send_or_group_change_raises(self, operation):
        calls = {
            "group_add": lambda layer, channel: layer.group_add("board.1", channel),
            "group_discard": lambda layer, channel: layer.group_discard("board.1", channel),
            "group_send": lambda layer, channel: layer.group_send("board.1", {"type": "board.event", "html": ""}),
            "send": lambda layer, channel: layer.send(channel, {"type": "board.event", "html": ""}),
        }
        results = outcomes(calls[operation])
        unexpected = {steps: result for steps, result in results.items() if result == "returned as if not cancelled"}
        assert unexpected == {}
