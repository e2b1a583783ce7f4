"""`RelayHub`: what the workers of one `luthien serve` share when there is no Redis.

The parent process runs it on a Unix socket (`luthien.gateway.workers`). It holds the one live
event bus of the server (a `MemoryEventBus`: ids, the retained ring, the newest policy switch) and
the one set of rate-limit counters (the `limits` library's memory storage). A worker publishes its
events to the hub and mirrors every event the hub fans out (`luthien.events.relay_bus`), so a
monitor or a policy follower on any worker sees every worker's events; a worker's rate-limit
operations run here (`luthien.ratelimit.relay_storage`), so every limit is counted once.
Messages: `luthien.events.relay_wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from limits.aio.storage import MemoryStorage

from luthien.events.bus import parse_event_id
from luthien.events.memory import MemoryEventBus
from luthien.events.relay_wire import RelayProtocolError, event_fields, frame, read_message

logger = logging.getLogger("luthien.workers")

STORAGE_METHODS = frozenset(
    {"incr", "get", "get_expiry", "check", "reset", "clear", "acquire_entry", "get_moving_window"}
)
"""The `limits` storage operations a worker may run on the shared counters."""
WORKER_QUEUE = 100_000
"""Events a worker's connection may fall behind before it loses some (then told, as any subscriber)."""


class RelayHub:
    """The parent's side of the relay: one event bus and one counter storage for every worker.

    Attributes:
        bus: the shared bus (its ids are the ones every worker's monitors see).
        storage: the shared rate-limit counters.
    """

    def __init__(self, path: str, retention: int) -> None:
        """Create the hub (nothing listens until `start`).

        Args:
            path: the Unix socket path to listen on.
            retention: events retained for monitors that resume and workers that start later.
        """
        self.path = path
        self.bus = MemoryEventBus(retention=retention, subscriber_queue=WORKER_QUEUE)
        self.storage = MemoryStorage()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on the socket."""
        self._server = await asyncio.start_unix_server(self._serve, path=self.path)

    async def close(self) -> None:
        """Stop listening and end every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        assert current is not None
        self._connections.add(current)
        forwarding: asyncio.Task[None] | None = None
        try:
            while (message := await read_message(reader)) is not None:
                op = message.get("op")
                if op == "publish":
                    self.bus.publish(
                        str(message.get("type")),
                        str(message.get("transaction_id")),
                        message.get("data") or {},
                    )
                elif op == "subscribe" and forwarding is None:
                    forwarding = asyncio.create_task(self._forward(writer), name="luthien-relay-forward")
                elif op == "call":
                    writer.write(frame(await self._call(message)))
                else:
                    raise RelayProtocolError(f"unexpected relay message {op!r}")
        except (RelayProtocolError, asyncio.IncompleteReadError, ConnectionError) as error:
            logger.error("a worker's relay connection broke (%s); closing it", type(error).__name__)
        finally:
            if forwarding is not None:
                forwarding.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await forwarding
            writer.close()
            self._connections.discard(current)

    async def _forward(self, writer: asyncio.StreamWriter) -> None:
        """Send the retained events, `synced`, then every new event, to one worker."""
        position = parse_event_id(await self.bus.position() or "0-0") or (0, 0)
        if position == (0, 0):
            writer.write(frame({"op": "synced"}))
        synced = position == (0, 0)
        async for event in self.bus.subscribe("0-0"):
            writer.write(frame({"op": "event", "event": event_fields(event)}))
            if not synced and (parse_event_id(event.id) or (0, 0)) >= position:
                synced = True
                writer.write(frame({"op": "synced"}))
            await writer.drain()

    async def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        call_id = message.get("id")
        method = message.get("method")
        if method not in STORAGE_METHODS:
            return {"op": "result", "id": call_id, "error": "UnknownMethod"}
        args: list[Any] = list(message.get("args") or [])
        try:
            value = await getattr(self.storage, str(method))(*args)
        except Exception as error:  # reported to the worker, whose limiter falls back
            return {"op": "result", "id": call_id, "error": type(error).__name__}
        return {"op": "result", "id": call_id, "value": value}
