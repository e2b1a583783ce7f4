"""`GET /api/activity/stream`: the live event bus as Server-Sent Events, filtered.

The transaction filters apply to each event's data where the event carries the field; an event that
cannot show it matches a set filter is left out (with `status=blocked`, a `transaction.started` event
is not sent; its `transaction.completed` is). `blocked=true` also lets through activity events whose
decision blocked something, so a monitor sees a block as it happens. Idle connections get a comment
every `LUTHIEN_ACTIVITY_KEEPALIVE_S` so proxies keep them open; a reconnecting `EventSource` sends
`Last-Event-ID` and gets the retained events it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from luthien.events.bus import EventBus, LiveEvent
from luthien.records.model import TransactionStatus
from luthien.records.query import TransactionFilter

RETRY_MS = 2000
"""How long a disconnected `EventSource` waits before reconnecting."""
KEEPALIVE = b": keep-alive\n\n"
SSE_HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}
_ABSENT: Any = object()
BLOCK_VERDICT = "block"
"""The `verdict` of a `transaction.activity` event whose decision blocked something."""


def _clean(value: str) -> str:
    """An SSE field value on one line."""
    return value.replace("\r", " ").replace("\n", " ")


def _equals(data: dict[str, Any], key: str, expected: str | None) -> bool:
    return expected is None or data.get(key, _ABSENT) == expected


def _blocked(event: LiveEvent) -> bool:
    data = event.data
    return data.get("status") == TransactionStatus.BLOCKED.value or data.get("verdict") == BLOCK_VERDICT


def _has_event_type(data: dict[str, Any], event_type: str | None) -> bool:
    if event_type is None:
        return True
    if data.get("event_type") == event_type:
        return True
    types = data.get("event_types")
    return isinstance(types, list) and event_type in types


def _in_time(event: LiveEvent, filter: TransactionFilter) -> bool:
    return (filter.since is None or event.timestamp >= filter.since) and (
        filter.until is None or event.timestamp < filter.until
    )


def event_matches(filter: TransactionFilter, event: LiveEvent) -> bool:
    """Whether a live event passes the filter (a filter the event cannot satisfy excludes it)."""
    data = event.data
    if not (
        _equals(data, "session_id", filter.session_id)
        and _equals(data, "model", filter.model)
        and _equals(data, "policy", filter.policy)
        and _has_event_type(data, filter.event_type)
        and _in_time(event, filter)
    ):
        return False
    if filter.statuses and data.get("status") not in {status.value for status in filter.statuses}:
        return False
    if filter.blocked_only and not _blocked(event):
        return False
    if filter.shadow_disagreed is not None and data.get("shadow_disagreed") is not filter.shadow_disagreed:
        return False  # only `transaction.completed` says it (once the shadows finished)
    if filter.text is not None:
        haystack = orjson.dumps(data).decode("utf-8").lower()
        if filter.text.lower() not in haystack and filter.text.lower() not in event.transaction_id.lower():
            return False
    return True


def event_frame(event: LiveEvent) -> bytes:
    """One SSE frame: `id`, `event` (the type) and the event as JSON `data`."""
    payload = orjson.dumps(
        {
            "id": event.id,
            "type": event.type,
            "transaction_id": event.transaction_id,
            "data": event.data,
            "timestamp": event.timestamp,
        }
    )
    head = f"id: {_clean(event.id)}\nevent: {_clean(event.type)}\ndata: ".encode()
    return head + payload + b"\n\n"


async def sse_stream(
    bus: EventBus,
    filter: TransactionFilter,
    last_event_id: str | None,
    keepalive_s: float,
    draining: asyncio.Event,
) -> AsyncIterator[bytes]:
    """The SSE body: a `retry` line, then matching events, with keep-alive comments while idle.

    The stream ends when `draining` is set (the server is shutting down): a monitor's `EventSource`
    reconnects, through a load balancer to another replica, and resumes from its `Last-Event-ID`.
    """
    # A new monitor starts from the bus's position before the client hears anything: whatever is
    # published once the stream has visibly begun reaches it, however late the subscription
    # starts reading (a Redis subscription finds its place with a round trip of its own).
    start = last_event_id if last_event_id is not None else await bus.position()
    events = bus.subscribe(start)
    # Start waiting for the first event before the client hears anything (the in-process bus
    # registers the subscriber then).
    pending: asyncio.Future[LiveEvent] | None = asyncio.ensure_future(anext(events))
    stopping = asyncio.ensure_future(draining.wait())
    await asyncio.sleep(0)
    try:
        yield f"retry: {RETRY_MS}\n\n".encode("ascii")
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait(
                {pending, stopping}, timeout=keepalive_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                yield KEEPALIVE
                continue
            if stopping in done:
                return
            future, pending = pending, None
            try:
                event = future.result()
            except StopAsyncIteration:
                return
            if event_matches(filter, event):
                yield event_frame(event)
    finally:
        stopping.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
