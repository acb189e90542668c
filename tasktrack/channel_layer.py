"""channels-redis with short read timeouts that its blocking receive survives."""

import asyncio

import redis.exceptions
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer


def _raise_if_cancel_was_lost() -> None:
    """Raise CancelledError when this task was asked to stop and the request got lost on the way.

    With a socket_timeout, redis-py bounds each write with asyncio.wait_for. On Python 3.11
    wait_for returns normally when its task is cancelled while the write completes, and the
    cancellation is gone (CPython gh-86296, fixed in 3.12); only Task.cancelling() still counts
    it. A consumer's receive loop that lost its cancellation polls Redis forever, and whoever
    awaits it (channels on disconnect, asyncio.run on exit) waits forever too; a consumer
    cancelled in the middle of group_add carries on as if it had not been.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class RedisChannelLayer(BaseRedisChannelLayer):
    """Waits for messages in rounds shorter than the socket read timeout, and stops when cancelled.

    channels-redis waits for a message with one BZPOPMIN of 5 s, and redis-py gives up reading
    after `socket_timeout`, which stays well under a second so that a hung Redis cannot hang a
    request's broadcast. Left alone, every idle receive would fail with TimeoutError after
    `socket_timeout` and end the consumer. Here a round lasts `receive_timeout`, below it, and a
    round that still times out (a frozen Redis) counts as "nothing yet": the consumer keeps
    waiting instead of dying. Each round first checks that the task was not cancelled meanwhile
    (see _raise_if_cancel_was_lost). Written against channels-redis 4.3 (`_brpop_with_clean`).
    """

    def __init__(self, *args, receive_timeout: float = 0.25, **kwargs):
        super().__init__(*args, **kwargs)
        self.brpop_timeout = receive_timeout

    async def _brpop_with_clean(self, index, channel, timeout):
        # Before the round, not after: a message popped by the last round is delivered.
        _raise_if_cancel_was_lost()
        try:
            return await super()._brpop_with_clean(index, channel, timeout)
        except redis.exceptions.TimeoutError:
            return None

    async def send(self, channel, message):
        await super().send(channel, message)
        _raise_if_cancel_was_lost()

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        _raise_if_cancel_was_lost()

    async def group_discard(self, group, channel):
        await super().group_discard(group, channel)
        _raise_if_cancel_was_lost()

    async def group_send(self, group, message):
        await super().group_send(group, message)
        _raise_if_cancel_was_lost()
