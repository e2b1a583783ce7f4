"""What every endpoint shares for the server's lifetime."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from luthien.activity.log import ActivityLog
from luthien.approvals.service import ApprovalService
from luthien.events.bus import EventBus
from luthien.gateway.limits import CallGate
from luthien.gateway.selection import PolicySelector
from luthien.observability.metrics import Metrics
from luthien.ratelimit.limiter import RateLimiter
from luthien.records.model import RecordSink
from luthien.records.observer import CallObserver
from luthien.records.query import RecordStore
from luthien.replay.store import SqlReplayStore
from luthien.settings import Settings
from luthien.shadow.policies import ShadowSet
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router


@dataclass(frozen=True, slots=True)
class GatewayState:
    """Settings, routing, the upstream connection pool, the policies, activity, records and live events.

    Attributes:
        breakers: the upstreams' circuit breakers; upstream requests go through them.
        limiter: rate limits and token budgets.
        bus: where live events go (started and closed by the app's lifespan).
        records: where finished transaction records go; None when recording is off.
        store: where records are read back (admin API, web UI); None when recording is off.
        calls: counts the model calls in progress against `LUTHIEN_MAX_CONCURRENT_CALLS`.
        metrics: the Prometheus metrics (`/metrics`); e.g. `metrics.breaker_state(upstream, state)`.
        observer: told of every call by its recorder (feeds `metrics` and the call's trace span).
        shadows: the shadow policies (`luthien.shadow`) and their calls' background work.
        replays: replay runs (`luthien.replay`); None when recording is off.
        draining: set when the server starts shutting down (endless streams such as the activity
            monitor end then; calls in flight go on).
        approvals: pending human approvals and decisions (`human_approval`), shared through Redis.
    """

    settings: Settings
    router: Router
    client: UpstreamClient
    policies: PolicySelector
    activity: ActivityLog
    models: ModelCaller
    bus: EventBus
    records: RecordSink | None
    store: RecordStore | None
    breakers: Breakers
    limiter: RateLimiter
    calls: CallGate
    metrics: Metrics
    observer: CallObserver
    shadows: ShadowSet
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    replays: SqlReplayStore | None = None
    approvals: ApprovalService | None = None


def client_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """ASGI header pairs as strings, names lower-cased (ASGI already lower-cases them)."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
