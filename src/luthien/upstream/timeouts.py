"""Upstream timeouts of one call: connect, first byte and idle, resolved from settings and config.

Three limits bound an upstream call:

- **connect**: establishing the connection (aiohttp's `connect` timeout, pool wait included);
- **first byte**: from sending the request until the first byte of the response body (for a
  non-streaming answer this includes all of the model's thinking; for a stream, the wait for its
  first event);
- **idle**: silence between two body chunks once the body is flowing.

Each comes from the most specific place that sets it: the matching route's `timeouts:`, then the
upstream's `timeouts:`, then the global settings (`LUTHIEN_UPSTREAM_CONNECT_TIMEOUT_S`,
`LUTHIEN_UPSTREAM_FIRST_BYTE_TIMEOUT_S` and `LUTHIEN_UPSTREAM_IDLE_TIMEOUT_S`, the last two defaulting
to `LUTHIEN_UPSTREAM_READ_TIMEOUT_S`).
"""

from __future__ import annotations

from dataclasses import dataclass

from luthien.config import TimeoutsConfig, UpstreamConfig
from luthien.settings import Settings


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    """The three timeouts of one upstream call, in seconds."""

    connect_s: float
    first_byte_s: float
    idle_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamTimeouts:
        """The global defaults."""
        read = settings.upstream_read_timeout_s
        return cls(
            connect_s=settings.upstream_connect_timeout_s,
            first_byte_s=settings.upstream_first_byte_timeout_s or read,
            idle_s=settings.upstream_idle_timeout_s or read,
        )

    def overridden(self, config: TimeoutsConfig | None) -> UpstreamTimeouts:
        """These timeouts with the values `config` sets replacing them."""
        if config is None:
            return self
        return UpstreamTimeouts(
            connect_s=config.connect_s or self.connect_s,
            first_byte_s=config.first_byte_s or self.first_byte_s,
            idle_s=config.idle_s or self.idle_s,
        )


def resolve_timeouts(
    defaults: UpstreamTimeouts, upstream: UpstreamConfig, route: TimeoutsConfig | None
) -> UpstreamTimeouts:
    """The timeouts of a call to `upstream` through a route with `route` timeouts (None: none set)."""
    return defaults.overridden(upstream.timeouts).overridden(route)
