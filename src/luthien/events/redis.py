"""`RedisEventBus`: live events through a Redis stream, so every replica's monitor sees every call.

Publishing: `publish` serializes the event and puts it on a bounded in-process queue (never waits);
one background task writes batches with `XADD ... MAXLEN ~ retention`, so the stream keeps about the
last `retention` events. The stream ids are the event ids. Redis down: the batch in hand is dropped
(counted in `dropped`, logged once per outage), the task retries with backoff, events queue up to the
bound meanwhile (and are dropped, counted, past it); `healthy` is False until a write succeeds.

Control events (`CONTROL_TYPES`: policy switches) are also written to a small stream of their own
(the feed's key + `:control`), which `subscribe_control` reads: a replica following policy switches
does not read, decode and discard the whole feed.

Subscribing: from the stream's last id at the time of subscribing (or from the given last id,
replaying what the stream still holds after it). Each read is `XINFO STREAM` and `XREAD` in one
MULTI/EXEC, so the stream's counters tell exactly whether entries after the subscriber's position
were trimmed; when there is nothing new, an `XREAD BLOCK` waits for it. A subscriber that fell so
far behind that the stream was trimmed past its position, or resumes from such an id, gets an
`events.dropped` event (reason `retention`, with `dropped` when the count is known) before what
follows. On connection errors a subscriber waits and retries from where it was, losing nothing the
stream still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from luthien.events.bus import CONTROL_TYPES, DROPPED_RETENTION, EVENTS_DROPPED, LiveEvent, parse_event_id
from luthien.events.stream_cursor import StreamCursor, StreamInfo

logger = logging.getLogger("luthien.events")

DEFAULT_STREAM_KEY = "luthien:events"
DEFAULT_RETENTION = 10_000
DEFAULT_QUEUE = 10_000
BATCH = 200
"""Events written per pipeline, and read per `XREAD`."""
BLOCK_MS = 5_000
"""How long one `XREAD` waits for new events before asking again."""
CONNECT_TIMEOUT_S = 2.0
CLIENT_RETRIES = 1
COMMAND_TIMEOUT_S = BLOCK_MS / 1000 + 5.0
"""Socket timeout: longer than a blocking read, short enough to notice a dead server."""
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 2.0
CLOSE_TIMEOUT_S = 5.0
"""How long `close` waits for queued events to be written."""
CONTROL_SUFFIX = ":control"
"""The control stream's key is the feed's key plus this."""
CONTROL_RETENTION = 1_000
"""Control events (policy switches) kept in their stream."""

_FIELD_TYPE = b"type"
_FIELD_TRANSACTION = b"tx"
_FIELD_TIMESTAMP = b"ts"
_FIELD_DATA = b"data"
_Entry = dict[bytes, bytes]
_Queued = tuple[str, _Entry, int]
"""An entry to write: the stream key, the fields, the stream's retention."""
_CONNECTION_ERRORS = (RedisError, OSError, TimeoutError)


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _decode(entry_id: Any, fields: Any) -> LiveEvent:
    raw = cast(dict[bytes, bytes], fields)
    try:
        data: Any = orjson.loads(raw.get(_FIELD_DATA, b"{}"))
    except orjson.JSONDecodeError:
        data = {}
    try:
        timestamp = float(raw.get(_FIELD_TIMESTAMP, b"0"))
    except ValueError:
        timestamp = 0.0
    return LiveEvent(
        id=_text(entry_id),
        type=_text(raw.get(_FIELD_TYPE, b"")),
        transaction_id=_text(raw.get(_FIELD_TRANSACTION, b"")),
        data=cast(dict[str, Any], data) if isinstance(data, dict) else {},
        timestamp=timestamp,
    )


class _Backoff:
    """Exponential waits between retries, reset after a success."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = BACKOFF_MIN_S

    def reset(self) -> None:
        self._next = BACKOFF_MIN_S

    def take(self) -> float:
        wait, self._next = self._next, min(self._next * 2, BACKOFF_MAX_S)
        return wait


class RedisEventBus:
    """`EventBus` over one Redis stream shared by every replica.

    Attributes:
        dropped: events not written to Redis (queue full, or Redis unreachable).
    """

    def __init__(
        self,
        url: str,
        stream_key: str = DEFAULT_STREAM_KEY,
        retention: int = DEFAULT_RETENTION,
        queue_size: int = DEFAULT_QUEUE,
    ) -> None:
        """Create the bus (no connection is made before `start`).

        Args:
            url: `redis://host:port/db` (or `rediss://`, `unix://`).
            stream_key: the stream's key; replicas that share it share their events.
            retention: about how many events the stream keeps for monitors that resume.
            queue_size: events waiting to be written before further ones are dropped.
        """
        self._url = url
        self.stream_key = stream_key
        self._retention = retention
        self.control_key = stream_key + CONTROL_SUFFIX
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue(maxsize=queue_size)
        self._client: aioredis.Redis | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._healthy = False
        self.dropped = 0

    @property
    def backend(self) -> str:
        """`redis`: one stream every replica shares."""
        return "redis"

    @property
    def healthy(self) -> bool:
        """Whether the last write to Redis (or the connection check at start) succeeded."""
        return self._healthy

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("RedisEventBus.start() was not called")
        return self._client

    def _set_healthy(self, healthy: bool, error: BaseException | None = None) -> None:
        if healthy and not self._healthy:
            logger.info("live events: connected to Redis (stream %s)", self.stream_key)
        elif not healthy and self._healthy:
            logger.warning("live events: Redis unreachable, events are dropped until it returns: %r", error)
        self._healthy = healthy

    async def start(self) -> None:
        """Connect (a Redis that is down is retried in the background) and start the writer."""
        self._client = aioredis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            self._url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=COMMAND_TIMEOUT_S,
            # One immediate retry on a fresh connection: after an outage the pool still holds
            # connections Redis has forgotten. Longer waits are ours (backoff, drop counting).
            retry=Retry(NoBackoff(), CLIENT_RETRIES),
        )
        try:
            await self._client.ping()  # pyright: ignore[reportUnknownMemberType]
            self._set_healthy(True)
        except _CONNECTION_ERRORS as error:
            logger.warning(
                "live events: Redis at start is unreachable, retrying in the background: %r", error
            )
        self._writer = asyncio.create_task(self._write_forever(), name="luthien-events-writer")

    def publish(self, type: str, transaction_id: str, data: dict[str, Any]) -> None:
        """See `EventBus.publish`. Data that is not JSON-serializable is dropped and logged."""
        try:
            payload = orjson.dumps(data)
        except TypeError:
            self.dropped += 1
            logger.exception("live event %s of %s is not JSON-serializable; dropped", type, transaction_id)
            return
        entry = {
            _FIELD_TYPE: type.encode("utf-8"),
            _FIELD_TRANSACTION: transaction_id.encode("utf-8"),
            _FIELD_TIMESTAMP: repr(time.time()).encode("ascii"),
            _FIELD_DATA: payload,
        }
        try:
            self._queue.put_nowait((self.stream_key, entry, self._retention))
            if type in CONTROL_TYPES:
                self._queue.put_nowait((self.control_key, entry, CONTROL_RETENTION))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % self._queue.maxsize == 0:
                logger.warning("live events: queue full, %d events dropped so far", self.dropped)

    def _take_batch(self, limit: int = BATCH) -> list[_Queued]:
        batch: list[_Queued] = []
        while len(batch) < limit and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _write_forever(self) -> None:
        backoff = _Backoff()
        while True:
            if self._queue.empty():
                if self._closing.is_set():
                    return
                waiter = asyncio.ensure_future(self._queue.get())
                closing = asyncio.ensure_future(self._closing.wait())
                await asyncio.wait((waiter, closing), return_when=asyncio.FIRST_COMPLETED)
                closing.cancel()
                if not waiter.done():
                    waiter.cancel()
                    continue
                batch = [waiter.result(), *self._take_batch(BATCH - 1)]
            else:
                batch = self._take_batch()
            if await self._write(batch):
                backoff.reset()
            elif self._closing.is_set():
                # Closing with Redis down: nothing more can be written.
                self.dropped += self._queue.qsize()
                return
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), backoff.take())

    async def _write(self, batch: list[_Queued]) -> bool:
        try:
            async with self._redis().pipeline(transaction=False) as pipe:
                for key, entry, retention in batch:
                    pipe.xadd(  # pyright: ignore[reportUnknownMemberType]
                        key,
                        cast(dict[Any, Any], entry),
                        maxlen=retention,
                        approximate=True,
                    )
                await pipe.execute()  # pyright: ignore[reportUnknownMemberType]
        except _CONNECTION_ERRORS as error:
            self.dropped += len(batch)
            self._set_healthy(False, error)
            return False
        self._set_healthy(True)
        return True

    async def close(self) -> None:
        """Write what is queued (up to `CLOSE_TIMEOUT_S`), stop the writer and disconnect."""
        self._closing.set()
        if self._writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_TIMEOUT_S)
            except TimeoutError:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._writer
            self._writer = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _tail_id(self, key: str) -> str:
        last = await self._redis().xrevrange(key, "+", "-", count=1)  # pyright: ignore[reportUnknownMemberType]
        entries = cast(list[tuple[bytes, Any]], last)
        return _text(entries[0][0]) if entries else "0-0"

    async def _snapshot(self, key: str, position: str) -> tuple[StreamInfo | None, list[tuple[Any, Any]]]:
        """The stream's counters and the entries after `position`, read atomically (MULTI/EXEC)."""
        async with self._redis().pipeline(transaction=True) as pipe:
            pipe.xinfo_stream(key)  # pyright: ignore[reportUnknownMemberType]
            pipe.xread({key: position}, count=BATCH)  # pyright: ignore[reportUnknownMemberType]
            info, reply = await pipe.execute(raise_on_error=False)  # pyright: ignore[reportUnknownMemberType]
        if isinstance(reply, Exception):
            raise reply
        streams = cast(list[tuple[Any, list[tuple[Any, Any]]]], reply or [])
        # No stream yet: XINFO fails, and nothing was ever trimmed.
        return StreamInfo.of(info), streams[0][1] if streams else []

    async def _wait_after(self, key: str, position: str) -> None:
        """Return once the stream has an entry after `position` (or after `BLOCK_MS`)."""
        await self._redis().xread({key: position}, count=1, block=BLOCK_MS)  # pyright: ignore[reportUnknownMemberType]

    async def position(self) -> str | None:
        """See `EventBus.position`: the feed's last stream id (`0-0` for an empty stream)."""
        try:
            return await self._tail_id(self.stream_key)
        except _CONNECTION_ERRORS as error:
            logger.debug("live events: the stream's position is unknown: %r", error)
            return None

    def subscribe(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """See `EventBus.subscribe`. A malformed `last_event_id` is treated as none."""
        return self._subscribe(self.stream_key, last_event_id)

    def subscribe_control(self, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
        """See `EventBus.subscribe_control`: reads the control stream, not the feed."""
        return self._subscribe(self.control_key, last_event_id)

    async def latest_control(self) -> LiveEvent | None:
        """See `EventBus.latest_control`: the control stream's last entry.

        Raises:
            redis.exceptions.RedisError, OSError, TimeoutError: Redis cannot be reached.
        """
        last = await self._redis().xrevrange(self.control_key, "+", "-", count=1)  # pyright: ignore[reportUnknownMemberType]
        entries = cast(list[tuple[bytes, Any]], last)
        return _decode(*entries[0]) if entries else None

    async def _subscribe(self, key: str, last_event_id: str | None) -> AsyncIterator[LiveEvent]:
        resume = last_event_id if last_event_id and parse_event_id(last_event_id) else None
        cursor: StreamCursor | None = StreamCursor(resume) if resume is not None else None
        backoff = _Backoff()
        while True:
            try:
                if cursor is None:
                    cursor = StreamCursor(await self._tail_id(key))
                info, entries = await self._snapshot(key, cursor.position)
                if not entries:
                    # Wake up on new entries, then read them with a fresh snapshot: what arrives in
                    # between can be checked for trimming like everything else.
                    await self._wait_after(key, cursor.position)
                    continue
            except _CONNECTION_ERRORS as error:
                logger.debug("live events: subscriber read failed, retrying: %r", error)
                await asyncio.sleep(backoff.take())
                continue
            backoff.reset()
            lost = cursor.trimmed(info)
            if lost is not None:
                data: dict[str, Any] = {"reason": DROPPED_RETENTION}
                if lost > 0:
                    data["dropped"] = lost
                yield LiveEvent(cursor.position, EVENTS_DROPPED, "", data, time.time())
            for entry_id, fields in entries:
                event = _decode(entry_id, fields)
                cursor.delivered(event.id)
                yield event
            cursor.caught_up(info)
