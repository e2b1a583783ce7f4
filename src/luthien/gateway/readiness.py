"""`GET /ready`: whether this replica serves normally, and the state of each dependency it uses.

`/health` says the process is up; `/ready` looks at what Luthien depends on beside the model
providers: the records database and the live event bus. Neither stops calls when it fails (records
wait in the writer's queue, live events are dropped and counted), so a failing dependency makes the
replica `degraded` (HTTP 200: keep sending it traffic), never unready. Answered without
authentication, for load balancers and orchestrators; it names error types, never their messages
(which can hold URLs with credentials).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from luthien.events.bus import EventBus
from luthien.storage import Storage

READY_CHECK_TIMEOUT_S = 2.0
"""How long the database may take to answer `SELECT 1` before it counts as unavailable."""


class DependencyStatus(StrEnum):
    """The state of one dependency."""

    OK = "ok"
    UNAVAILABLE = "unavailable"
    OFF = "off"
    """Not used by this configuration (recording off)."""


class Readiness:
    """The `/ready` endpoint over the storage and the event bus of one app."""

    def __init__(self, storage: Storage, bus: EventBus, bus_backend: str) -> None:
        self.storage = storage
        self.bus = bus
        self.bus_backend = bus_backend

    async def respond(self, request: Request) -> Response:
        """`{"status": "ok" | "degraded", "checks": {name: {"status": ..., ...}}}`."""
        checks = {"database": await self._database(), "events": self._events()}
        degraded = any(check["status"] == DependencyStatus.UNAVAILABLE for check in checks.values())
        return JSONResponse({"status": "degraded" if degraded else "ok", "checks": checks})

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
        return {"status": status, "backend": self.bus_backend}
