"""The policy stage: the one place a response's events may be changed on their way to the client.

A stage receives the events of one response, in order, and yields the events to send. It sees a
streaming response event by event as they arrive, and a non-streaming response as a one-event
sequence, so a policy has a single code path. The policy engine plugs in here; the default stage
passes every event through untouched (so every byte goes out as it came in).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from luthien.pipeline.events import WireEvent


class PolicyStage(Protocol):
    """What the pipeline needs from a policy."""

    @property
    def name(self) -> str:
        """The policy's configured name, reported in records and the `X-Luthien-Policy` header."""
        ...

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """Yield the events to send for the incoming `events`."""
        ...


class PassThroughStage:
    """The no-op stage: every event goes out exactly as it came in."""

    @property
    def name(self) -> str:
        """Always `noop`."""
        return "noop"

    def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """Return the incoming events unchanged, without an extra generator in between."""
        return events
