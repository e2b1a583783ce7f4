"""`GET /ready`: whether this replica serves normally, and the state of each dependency it uses.

`/health` says the process is up; `/ready` looks at what Luthien depends on: the records database,
the live event bus, the rate limiter's Redis, and each upstream's circuit breaker. None of the first
three stops calls when it fails (records wait in the writer's queue, live events are dropped and
counted, rate limits are counted in this replica's memory), so a failing one makes the replica
`degraded` (HTTP 200: keep sending it traffic). So does an open breaker while another upstream still
serves, or one is half-open (on trial). The replica is `unavailable` (HTTP 503) when every upstream
that has been called has its breaker open: no call can be served until a cool-down ends (then the
breaker reads half-open and the replica is `degraded` again, so traffic returns for the trial
call). Answered without authentication, for load balancers and orchestrators; it names error types,
never their messages (which can hold URLs with credentials). See docs/operating.md.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from luthien.events.bus import EventBus
from luthien.ratelimit.limiter import RateLimiter
from luthien.storage import Storage
from luthien.upstream.breaker import Breakers, BreakerState
from luthien.upstream.routing import Router

READY_CHECK_TIMEOUT_S = 2.0
"""How long the database may take to answer `SELECT 1` before it counts as unavailable."""
HTTP_SERVICE_UNAVAILABLE = 503


class ReadyStatus(StrEnum):
    """The replica's overall state."""

    OK = "ok"
    DEGRADED = "degraded"
    """Serving, with a dependency away or some upstream's breaker open (HTTP 200)."""
    UNAVAILABLE = "unavailable"
    """Every upstream in use has its breaker open: calls fail fast (HTTP 503)."""


class DependencyStatus(StrEnum):
    """The state of one dependency."""

    OK = "ok"
    UNAVAILABLE = "unavailable"
    DEGRADED = "degraded"
    """Partly working: some upstreams' breakers are open or half-open."""
    OFF = "off"
    """Not used by this configuration (recording off, no rate limits)."""


_SERVING_NORMALLY = frozenset({DependencyStatus.OK, DependencyStatus.OFF})


class Readiness:
    """The `/ready` endpoint over the dependencies of one app."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        limiter: RateLimiter,
        breakers: Breakers,
        router: Router,
    ) -> None:
        self.storage = storage
        self.bus = bus
        self.limiter = limiter
        self.breakers = breakers
        self.router = router

    async def respond(self, request: Request) -> Response:
        """`{"status": "ok" | "degraded" | "unavailable", "checks": {name: {"status": ..., ...}}}`."""
        upstreams, all_open = self._upstreams()
        checks = {
            "database": await self._database(),
            "events": self._events(),
            "rate_limiter": await self._rate_limiter(),
            "upstreams": upstreams,
        }
        if all_open:
            status = ReadyStatus.UNAVAILABLE
        elif any(check["status"] not in _SERVING_NORMALLY for check in checks.values()):
            status = ReadyStatus.DEGRADED
        else:
            status = ReadyStatus.OK
        code = HTTP_SERVICE_UNAVAILABLE if status is ReadyStatus.UNAVAILABLE else 200
        return JSONResponse({"status": status, "checks": checks}, status_code=code)

    async def _database(self) -> dict[str, Any]:
        writer = self.storage.writer
        if writer is None:
            return {"status": DependencyStatus.OFF}
        check: dict[str, Any] = {"queued": writer.stats.queued, "dropped": writer.stats.dropped}
        try:
            await self.storage.ping(READY_CHECK_TIMEOUT_S)
        except Exception as error:  # any failure to answer is the state reported, never a 500
            return {"status": DependencyStatus.UNAVAILABLE, "error": type(error).__name__, **check}
        return {"status": DependencyStatus.OK, **check}

    def _events(self) -> dict[str, Any]:
        status = DependencyStatus.OK if self.bus.healthy else DependencyStatus.UNAVAILABLE
        return {"status": status, "backend": self.bus.backend}

    async def _rate_limiter(self) -> dict[str, Any]:
        backend = self.limiter.backend
        if not (self.limiter.counts_clients or self.router.has_rate_limits()):
            return {"status": DependencyStatus.OFF}
        if await backend.check():
            return {"status": DependencyStatus.OK, "backend": backend.configured}
        # Limits still hold: each replica counts in its own memory until Redis answers.
        return {"status": DependencyStatus.UNAVAILABLE, "backend": backend.configured, "fallback": "memory"}

    def _upstreams(self) -> tuple[dict[str, Any], bool]:
        """Each upstream's breaker state, and whether every upstream called so far is open."""
        states = self.breakers.states(self.router.names())
        used = [states[name] for name in self.breakers.used() if name in states]
        all_open = bool(used) and all(state is BreakerState.OPEN for state in used)
        if all_open:
            status = DependencyStatus.UNAVAILABLE
        elif any(state is not BreakerState.CLOSED for state in states.values()):
            status = DependencyStatus.DEGRADED
        else:
            status = DependencyStatus.OK
        return {"status": status, "breakers": states}, all_open
