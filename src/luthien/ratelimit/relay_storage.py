"""`RelayStorage`: rate-limit counters kept by the parent of a multi-process `luthien serve`.

A `limits` async storage whose every operation runs on the parent's memory storage
(`luthien.events.relay_hub`) over its Unix socket, so the workers count every limit once. Used by
`LimiterBackend` when there is no Redis and this process is a worker; when the parent cannot be
reached an operation raises `StorageError`, and the backend counts in this worker's memory instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any, cast

from limits.aio.storage import MovingWindowSupport, Storage

from luthien.events.relay_wire import RelayProtocolError, frame, read_message

logger = logging.getLogger("luthien.workers")


class RelayError(Exception):
    """The parent's hub could not run an operation (unreachable, or it failed there)."""


class RelayStorage(Storage, MovingWindowSupport):
    """`limits` storage over the workers' relay (moving windows and fixed windows)."""

    STORAGE_SCHEME = None  # built directly, never from a storage URI

    def __init__(self, path: str) -> None:
        """Create the storage (it connects at its first operation).

        Args:
            path: the hub's Unix socket.
        """
        super().__init__(wrap_exceptions=True)
        self._path = path
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """What `limits` wraps in `StorageError`."""
        return (RelayError, OSError)

    async def _connection(self) -> asyncio.StreamWriter:
        async with self._connecting:
            if self._writer is None or self._writer.is_closing():
                reader, self._writer = await asyncio.open_unix_connection(self._path)
                self._reader = asyncio.create_task(self._read(reader), name="luthien-relay-limits")
            return self._writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while (message := await read_message(reader)) is not None:
                future = self._pending.pop(int(message.get("id", -1)), None)
                if future is None or future.done():
                    continue
                if "error" in message:
                    future.set_exception(RelayError(str(message["error"])))
                else:
                    future.set_result(message.get("value"))
        except (RelayProtocolError, asyncio.IncompleteReadError, ConnectionError) as error:
            # The pending calls fail below and the backend counts in memory; say why the relay broke.
            logger.error("the workers' hub connection for rate limits broke (%s)", type(error).__name__)
        finally:
            if self._writer is not None:
                self._writer.close()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(RelayError("the workers' hub is gone"))

    async def _call(self, method: str, *args: Any) -> Any:
        writer = await self._connection()
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        writer.write(frame({"op": "call", "id": call_id, "method": method, "args": list(args)}))
        try:
            return await future
        finally:
            self._pending.pop(call_id, None)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """See `limits.aio.storage.Storage.incr`."""
        return int(await self._call("incr", key, expiry, amount))

    async def get(self, key: str) -> int:
        """See `limits.aio.storage.Storage.get`."""
        return int(await self._call("get", key))

    async def get_expiry(self, key: str) -> float:
        """See `limits.aio.storage.Storage.get_expiry`."""
        return float(await self._call("get_expiry", key))

    async def check(self) -> bool:
        """Whether the hub answers."""
        try:
            return bool(await self._call("check"))
        except (RelayError, OSError):
            return False

    async def reset(self) -> int | None:
        """See `limits.aio.storage.Storage.reset`."""
        value = await self._call("reset")
        return None if value is None else int(value)

    async def clear(self, key: str) -> None:
        """See `limits.aio.storage.Storage.clear`."""
        await self._call("clear", key)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """See `limits.aio.storage.MovingWindowSupport.acquire_entry`."""
        return bool(await self._call("acquire_entry", key, limit, expiry, amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """See `limits.aio.storage.MovingWindowSupport.get_moving_window`."""
        start, count = cast(list[Any], await self._call("get_moving_window", key, limit, expiry))
        return float(start), int(count)

    async def close(self) -> None:
        """Disconnect from the hub."""
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
