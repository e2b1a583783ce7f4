"""The activity log: where the pipeline and policies publish what happened during a call.

Today it keeps a bounded in-memory history, logs each event, and notifies in-process subscribers;
durable storage and the cross-replica bus subscribe to the same interface.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
