"""The live event bus contract: what a publisher and a monitor need, whatever carries the events.

Events are small (ids and summaries); a monitor fetches details from the admin API on demand.
Two implementations: in-process (the default) and Redis Streams (`LUTHIEN_REDIS_URL`), so that a
monitor on one replica sees every replica's calls and can resume after a reconnect.

Event types:
    `transaction.started`: a call arrived (`model`, `policy`, `client_api`, `session_id`, `streaming`).
    `transaction.activity`: an activity event of a call (`event_type`, `policy`, and a summary such
        as `tool_name`, `verdict`, `probability`).
    `transaction.completed`: a call ended (the fields of a `TransactionSummary`).
    `policy.switched`: the active policy changed (`policy`, `previous`, `by`, and `configured`: the
        policy the switching replica's configuration names, which a replica starting later compares
        with its own before adopting the switch).
    `approval.pending`, `approval.decided`: a tool call waits for a person, or was decided
        (`luthien.approvals.model`; the web UI's approvals badge follows them).
    `events.dropped`: this subscriber missed events (`reason`: `slow_subscriber`, with `dropped`, the
        count; or `retention`, when resuming from an id older than what the bus still holds). Its id is
        the last id the subscriber was given before the gap; `transaction_id` is "".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

TRANSACTION_STARTED = "transaction.started"
TRANSACTION_ACTIVITY = "transaction.activity"
TRANSACTION_COMPLETED = "transaction.completed"
POLICY_SWITCHED = "policy.switched"
SHADOW_SWITCHED = "shadow.switched"
CONTROL_TYPES = frozenset({POLICY_SWITCHED, SHADOW_SWITCHED})
"""Events every replica must act on (not only show): published to the feed and to a control channel
of their own, so that a replica following them does not read the whole feed."""
EVENTS_DROPPED = "events.dropped"
DROPPED_SLOW_SUBSCRIBER = "slow_subscriber"
DROPPED_RETENTION = "retention"


def parse_event_id(value: str) -> tuple[int, int] | None:
    """An event id (`<milliseconds>-<sequence>`, as Redis stream ids) as a comparable pair.

    Returns:
        The pair, or None when `value` is not an event id (a `Last-Event-ID` to reject).
    """
    milliseconds, _, sequence = value.partition("-")
    if not milliseconds.isdigit() or not (sequence or "0").isdigit():
        return None
    return int(milliseconds), int(sequence or "0")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event as a monitor receives it.

    Attributes:
        id: position in the bus, increasing; a monitor resumes after it (SSE `Last-Event-ID`).
        type: one of the event types above.
        transaction_id: the call it concerns ("" for events not about one call).
        data: JSON-serializable summary fields.
        timestamp: seconds since the epoch.
    """

    id: str
    type: str
    transaction_id: str
    data: dict[str, Any]
    timestamp: float


class EventBus(Protocol):
    """Publishes events to, and streams them from, every replica."""

    @property
    def backend(self) -> str:
        """Where the events go: `memory`, `redis`, or `workers` (the parent's relay), as `/ready` says."""
        ...

    @property
    def healthy(self) -> bool:
        """Whether events are flowing (False while the Redis bus cannot reach Redis)."""
        ...

    def publish(self, type: str, transaction_id: str, data: dict[str, Any]) -> None:
        """Queue an event for every subscriber; never blocks the caller, never raises."""
        ...

    def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """Events from now on; with `last_event_id`, first the retained ones after it."""
        ...

    async def position(self) -> str | None:
        """The id of the newest event now, or None when it cannot be known (Redis unreachable).

        `subscribe(position)` then misses nothing published after this returned, even if the
        subscription only starts reading later.
        """
        ...

    def subscribe_control(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """Only the `CONTROL_TYPES` events, from now on (ids are the control channel's own)."""
        ...

    async def latest_control(self) -> LiveEvent | None:
        """The newest retained control event, or None when there is none.

        `subscribe_control(event.id)` then continues right after it; with None, `"0-0"` does.

        Raises:
            Exception: the bus cannot be read now (Redis unreachable); the caller retries.
        """
        ...

    async def start(self) -> None:
        """Connect and start background work."""
        ...

    async def close(self) -> None:
        """Flush what is queued and stop."""
        ...
