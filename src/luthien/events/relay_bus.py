"""`RelayEventBus`: the live event bus of one worker of `luthien serve` when there is no Redis.

Publishing sends the event to the parent's hub (`luthien.events.relay_hub`), which gives it its id
and sends it back to every worker, this one included. Each worker keeps a mirror of the hub's bus (a
`MemoryEventBus` fed with the hub's events, ids and all), and its monitors and policy follower read
the mirror: a monitor on any worker sees every worker's calls, resumes with `Last-Event-ID` as on one
process, and `latest_control` answers from the retained events, which `start` waits for.

When the parent is gone (the connection ends while this worker is not closing), the worker has no
one to share with: `on_lost` is called, which by default asks this process to shut down gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from luthien.events.bus import EVENTS_DROPPED, LiveEvent
from luthien.events.memory import MemoryEventBus
from luthien.events.relay_wire import RelayProtocolError, event_from, frame, read_message

logger = logging.getLogger("luthien.workers")

SYNC_TIMEOUT_S = 10.0
"""How long `start` waits for the hub's retained events before serving without them."""


def stop_this_process() -> None:
    """Ask this process to shut down as on SIGTERM (drain, then exit)."""
    os.kill(os.getpid(), signal.SIGTERM)


class RelayEventBus:
    """`EventBus` of a worker: publishes through the parent's hub, reads a mirror of its bus.

    Attributes:
        lost: events published while the hub could not be reached (not delivered anywhere).
    """

    def __init__(self, path: str, retention: int, on_lost: Callable[[], None] = stop_this_process) -> None:
        """Create the bus (it connects in `start`).

        Args:
            path: the hub's Unix socket.
            retention: events the mirror keeps (as the hub does).
            on_lost: called once when the hub goes away while the bus is open.
        """
        self._path = path
        self._mirror = MemoryEventBus(retention=retention)
        self._on_lost = on_lost
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._synced: asyncio.Event | None = None
        self._closing = False
        self.lost = 0

    @property
    def backend(self) -> str:
        """`workers`: the parent's bus, which the workers of one `luthien serve` share."""
        return "workers"

    @property
    def healthy(self) -> bool:
        """Whether the hub is connected."""
        return self._writer is not None and not self._writer.is_closing()

    def publish(self, type: str, transaction_id: str, data: dict[str, Any]) -> None:
        """See `EventBus.publish`: sent to the hub; the event reaches subscribers when it comes back."""
        if not self.healthy:
            self.lost += 1
            return
        assert self._writer is not None
        self._writer.write(
            frame({"op": "publish", "type": type, "transaction_id": transaction_id, "data": data})
        )

    def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """See `EventBus.subscribe`."""
        return self._mirror.subscribe(last_event_id)

    def subscribe_control(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """See `EventBus.subscribe_control`."""
        return self._mirror.subscribe_control(last_event_id)

    async def latest_control(self) -> LiveEvent | None:
        """See `EventBus.latest_control`."""
        return await self._mirror.latest_control()

    async def position(self) -> str | None:
        """See `EventBus.position`."""
        return await self._mirror.position()

    async def start(self) -> None:
        """Connect to the hub, subscribe, and wait (a bounded time) for its retained events."""
        reader, self._writer = await asyncio.open_unix_connection(self._path)
        self._synced = asyncio.Event()
        self._writer.write(frame({"op": "subscribe"}))
        self._reader = asyncio.create_task(self._read(reader), name="luthien-relay-events")
        try:
            await asyncio.wait_for(self._synced.wait(), SYNC_TIMEOUT_S)
        except TimeoutError:
            logger.warning(
                "the workers' hub sent no retained events in %s s; serving without them", SYNC_TIMEOUT_S
            )

    async def _read(self, reader: asyncio.StreamReader) -> None:
        assert self._synced is not None
        try:
            while (message := await read_message(reader)) is not None:
                if message.get("op") == "synced":
                    self._synced.set()
                    continue
                event = event_from(message.get("event") or {})
                if event.type == EVENTS_DROPPED:
                    logger.warning("this worker's mirror of the event bus missed events: %s", event.data)
                    continue
                self._mirror.deliver(event)
        except (RelayProtocolError, asyncio.IncompleteReadError, ConnectionError) as error:
            logger.error("the workers' hub connection broke (%s)", type(error).__name__)
        if self._writer is not None:
            self._writer.close()
        if not self._closing:
            logger.error("the parent process is gone; this worker stops")
            self._on_lost()

    async def close(self) -> None:
        """Send what is queued and disconnect."""
        self._closing = True
        if self._writer is not None and not self._writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
            self._writer.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
