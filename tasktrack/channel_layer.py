"""channels-redis with short read timeouts that its blocking receive survives."""

import redis.exceptions
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer


class RedisChannelLayer(BaseRedisChannelLayer):
    """Waits for messages in rounds shorter than the socket read timeout.

    channels-redis waits for a message with one BZPOPMIN of 5 s, and redis-py gives up reading
    after `socket_timeout`, which stays well under a second so that a hung Redis cannot hang a
    request's broadcast. Left alone, every idle receive would fail with TimeoutError after
    `socket_timeout` and end the consumer. Here a round lasts `receive_timeout`, below it, and a
    round that still times out (a frozen Redis) counts as "nothing yet": the consumer keeps
    waiting instead of dying. Written against channels-redis 4.3 (`_brpop_with_clean`).
    """

    def __init__(self, *args, receive_timeout: float = 0.25, **kwargs):
        super().__init__(*args, **kwargs)
        self.brpop_timeout = receive_timeout

    async def _brpop_with_clean(self, index, channel, timeout):
        try:
            return await super()._brpop_with_clean(index, channel, timeout)
        except redis.exceptions.TimeoutError:
            return None
