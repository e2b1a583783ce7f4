"""`open_bus(settings)`: the live event bus this process uses.

Redis when `LUTHIEN_REDIS_URL` is set; else, in a worker of a multi-process `luthien serve`, the
parent's relay (`luthien.events.relay_bus`); else in-process.
"""

from __future__ import annotations

from luthien.events.bus import EventBus
from luthien.events.memory import MemoryEventBus
from luthien.events.redis import RedisEventBus
from luthien.events.relay_bus import RelayEventBus
from luthien.events.relay_wire import relay_path
from luthien.settings import Settings


def open_bus(settings: Settings) -> EventBus:
    """A bus for `settings` (not started: the app's lifespan calls `start` and `close`)."""
    if settings.redis_url is not None:
        return RedisEventBus(
            settings.redis_url.get_secret_value(),
            stream_key=settings.events_stream_key,
            retention=settings.events_retention,
        )
    relay = relay_path()
    if relay is not None:
        return RelayEventBus(relay, retention=settings.events_retention)
    return MemoryEventBus(retention=settings.events_retention)
