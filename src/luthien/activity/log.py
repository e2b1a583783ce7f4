"""The activity log: where the pipeline and policies publish what happened during a call.

`ActivityLog` is process-wide: a bounded in-memory history, a log line per event, and in-process
subscribers. `CallActivity` is one call's own collection: a policy's `ctx.record` publishes to it, it
keeps the call's events in order (for the call's transaction record) and forwards each to the log.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger("luthien.activity")

DEFAULT_HISTORY = 10_000
"""Events kept in memory for inspection."""


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One thing that happened during a call.

    Attributes:
        transaction_id: the call it belongs to.
        type: dotted name, e.g. `policy.repaired`, `policy.error`, `judge.decision`.
        data: details (JSON-serializable; never credentials).
        policy: the policy instance that produced it, if any.
        timestamp: seconds since the epoch.
    """

    transaction_id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    policy: str | None = None
    timestamp: float = field(default_factory=time.time)


Subscriber = Callable[[ActivityEvent], None]


class ActivitySink(Protocol):
    """Anything activity events can be published to."""

    def publish(self, event: ActivityEvent) -> None:
        """Take one event; never raises."""
        ...


class ActivityLog:
    """Bounded history plus synchronous fan-out to subscribers."""

    def __init__(self, history: int = DEFAULT_HISTORY) -> None:
        self._events: deque[ActivityEvent] = deque(maxlen=history)
        self._subscribers: list[Subscriber] = []

    def publish(self, event: ActivityEvent) -> None:
        """Record `event` and hand it to every subscriber (a failing subscriber is logged, not raised)."""
        self._events.append(event)
        logger.debug("%s %s %s", event.transaction_id, event.type, event.data)
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                logger.exception("activity subscriber failed")

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call `subscriber` for every future event."""
        self._subscribers.append(subscriber)

    def events(self, transaction_id: str | None = None, type: str | None = None) -> list[ActivityEvent]:
        """Recent events, optionally only one call's and/or one type's."""
        return [
            event
            for event in self._events
            if (transaction_id is None or event.transaction_id == transaction_id)
            and (type is None or event.type == type)
        ]


class CallActivity:
    """One call's activity events, in order, each also forwarded to the process-wide log.

    Attributes:
        events: the events published so far, oldest first.
    """

    __slots__ = ("_forward", "_listener", "events")

    def __init__(self, forward: ActivitySink, listener: Subscriber | None = None) -> None:
        """Collect a call's events.

        Args:
            forward: where every event goes too (the server's `ActivityLog`).
            listener: called with each event as it happens (e.g. to publish it live).
        """
        self._forward = forward
        self._listener = listener
        self.events: list[ActivityEvent] = []

    def publish(self, event: ActivityEvent) -> None:
        """Keep `event`, forward it, and tell the listener (a failing listener is logged, not raised)."""
        self.events.append(event)
        self._forward.publish(event)
        if self._listener is not None:
            try:
                self._listener(event)
            except Exception:
                logger.exception("activity listener failed")
