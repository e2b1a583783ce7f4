"""`MemoryEventBus`: the in-process live event bus (the default, one replica).

Every event gets an id shaped like a Redis stream id (`<milliseconds>-<sequence>`, increasing, and
larger after a restart than before it), is kept in a bounded ring for monitors that reconnect with
`Last-Event-ID`, and is handed to every subscriber's bounded queue. `publish` never waits: a
subscriber whose queue is full stops receiving until it has caught up, and is then told how many
events it lost (an `events.dropped` event, see `luthien.events.bus`). Call `publish` from the
event loop's thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from luthien.events.bus import (
    CONTROL_TYPES,
    DROPPED_RETENTION,
    DROPPED_SLOW_SUBSCRIBER,
    EVENTS_DROPPED,
    LiveEvent,
    parse_event_id,
)

logger = logging.getLogger("luthien.events")

DEFAULT_RETENTION = 10_000
DEFAULT_SUBSCRIBER_QUEUE = 1_000


class _Subscriber:
    __slots__ = ("dropped", "last_id", "queue", "types", "wakeup")

    def __init__(self, types: frozenset[str] | None) -> None:
        self.types = types
        self.queue: deque[LiveEvent] = deque()
        self.wakeup = asyncio.Event()
        self.dropped = 0
        self.last_id = ""


class MemoryEventBus:
    """In-process `EventBus` with a bounded ring for resuming and bounded subscriber queues.

    Attributes:
        dropped: events some subscriber lost because it was too slow (all subscribers together).
    """

    def __init__(
        self, retention: int = DEFAULT_RETENTION, subscriber_queue: int = DEFAULT_SUBSCRIBER_QUEUE
    ) -> None:
        """Create the bus.

        Args:
            retention: events kept for monitors that resume with a last event id.
            subscriber_queue: events a subscriber may fall behind before it starts losing them.
        """
        self._ring: deque[tuple[tuple[int, int], LiveEvent]] = deque(maxlen=retention)
        self._evicted: tuple[int, int] | None = None
        self._subscriber_queue = subscriber_queue
        self._subscribers: set[_Subscriber] = set()
        self._last = (0, 0)
        self.dropped = 0

    @property
    def backend(self) -> str:
        """`memory`: this process only."""
        return "memory"

    @property
    def healthy(self) -> bool:
        """Always True: nothing outside the process can fail."""
        return True

    def _next_id(self) -> tuple[int, int]:
        milliseconds = int(time.time() * 1000)
        last_ms, last_sequence = self._last
        # Never go back, even if the clock does.
        self._last = (milliseconds, 0) if milliseconds > last_ms else (last_ms, last_sequence + 1)
        return self._last

    def publish(self, type: str, transaction_id: str, data: dict[str, Any]) -> None:
        """See `EventBus.publish`."""
        key = self._next_id()
        self._append(key, LiveEvent(f"{key[0]}-{key[1]}", type, transaction_id, data, time.time()))

    def deliver(self, event: LiveEvent) -> None:
        """Add an event that already has its id (from another process's bus, in increasing order).

        The bus of a worker process mirrors its parent's this way (`luthien.events.relay_bus`).
        Events whose id is not an event id are ignored.
        """
        key = parse_event_id(event.id)
        if key is None:
            return
        self._last = max(self._last, key)
        self._append(key, event)

    def _append(self, key: tuple[int, int], event: LiveEvent) -> None:
        if len(self._ring) == self._ring.maxlen:
            self._evicted = self._ring[0][0]
        self._ring.append((key, event))
        for subscriber in self._subscribers:
            if subscriber.types is not None and event.type not in subscriber.types:
                continue
            if subscriber.dropped or len(subscriber.queue) >= self._subscriber_queue:
                # Once behind, a subscriber takes nothing until it has been told of the gap, so
                # what it receives after the notice is exactly what came after the loss.
                subscriber.dropped += 1
                self.dropped += 1
                continue
            subscriber.queue.append(event)
            subscriber.wakeup.set()

    def _retained_after(self, last_event_id: str) -> list[LiveEvent]:
        after = parse_event_id(last_event_id)
        if after is None:
            return []
        replay = [event for key, event in self._ring if key > after]
        if self._evicted is not None and self._evicted > after:
            notice = LiveEvent(last_event_id, EVENTS_DROPPED, "", {"reason": DROPPED_RETENTION}, time.time())
            replay.insert(0, notice)
        return replay

    async def position(self) -> str | None:
        """See `EventBus.position`."""
        return f"{self._last[0]}-{self._last[1]}"

    def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """See `EventBus.subscribe`. A malformed `last_event_id` replays nothing."""
        return self._subscribe(last_event_id, None)

    def subscribe_control(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """See `EventBus.subscribe_control`: the feed's events of `CONTROL_TYPES` only."""
        return self._subscribe(last_event_id, CONTROL_TYPES)

    async def latest_control(self) -> LiveEvent | None:
        """See `EventBus.latest_control`: the newest control event still in the ring."""
        return next((event for _, event in reversed(self._ring) if event.type in CONTROL_TYPES), None)

    async def _subscribe(
        self, last_event_id: str | None, types: frozenset[str] | None
    ) -> AsyncIterator[LiveEvent]:
        subscriber = _Subscriber(types)
        # Registered before the replay is read: nothing published meanwhile can fall in between.
        self._subscribers.add(subscriber)
        try:
            replay = self._retained_after(last_event_id) if last_event_id else []
            for event in replay:
                if types is not None and event.type not in types:
                    continue
                subscriber.last_id = event.id
                yield event
            while True:
                while subscriber.queue:
                    event = subscriber.queue.popleft()
                    subscriber.last_id = event.id
                    yield event
                if subscriber.dropped:
                    lost, subscriber.dropped = subscriber.dropped, 0
                    yield LiveEvent(
                        subscriber.last_id,
                        EVENTS_DROPPED,
                        "",
                        {"reason": DROPPED_SLOW_SUBSCRIBER, "dropped": lost},
                        time.time(),
                    )
                    continue
                subscriber.wakeup.clear()
                await subscriber.wakeup.wait()
        finally:
            self._subscribers.discard(subscriber)

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing queued outside the subscribers; they end when their consumers stop."""
