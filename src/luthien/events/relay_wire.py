"""The relay's wire format: what a worker process and its parent (`luthien serve`) exchange.

With `LUTHIEN_WORKERS` > 1 and no Redis, the parent runs a relay on a Unix socket
(`luthien.events.relay_hub`) that holds what the workers share: the live event bus and the
rate-limit counters. Each message is a 4-byte big-endian length and an orjson object with an `op`:

    worker → parent: `publish` (`type`, `transaction_id`, `data`), `subscribe` (every event from
        now on, after the retained ones), `call` (`id`, `method`, `args`: a rate-limit storage
        operation).
    parent → worker: `event` (`event`: a `LiveEvent`'s fields), `synced` (the retained events
        have all been sent), `result` (`id`, `value`, or `error`: the exception's type name).

The parent tells its workers where the relay listens in `RELAY_ENV`; it is not a user setting.
"""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any, cast

import orjson

from luthien.events.bus import LiveEvent

RELAY_ENV = "LUTHIEN_WORKER_RELAY"
"""The relay's socket path, set by `luthien serve` in each worker's environment."""
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Largest message accepted: events are summaries, far smaller; a bigger length is a broken peer."""
_LENGTH = struct.Struct(">I")


class RelayProtocolError(Exception):
    """The peer sent something that is not a relay message."""


def relay_path() -> str | None:
    """The relay's socket path when this process is a worker of `luthien serve`, else None."""
    return os.environ.get(RELAY_ENV) or None


def frame(message: dict[str, Any]) -> bytes:
    """`message` as one length-prefixed frame."""
    body = orjson.dumps(message)
    return _LENGTH.pack(len(body)) + body


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream.

    Raises:
        RelayProtocolError: a frame too large or not a JSON object.
        asyncio.IncompleteReadError: the stream ended inside a frame.
    """
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            return None
        raise
    (length,) = _LENGTH.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise RelayProtocolError(f"relay message of {length} bytes")
    try:
        message = orjson.loads(await reader.readexactly(length))
    except orjson.JSONDecodeError as error:
        raise RelayProtocolError("relay message is not JSON") from error
    if not isinstance(message, dict):
        raise RelayProtocolError("relay message is not an object")
    return cast(dict[str, Any], message)


def event_fields(event: LiveEvent) -> dict[str, Any]:
    """A `LiveEvent` as a JSON object."""
    return {
        "id": event.id,
        "type": event.type,
        "transaction_id": event.transaction_id,
        "data": event.data,
        "timestamp": event.timestamp,
    }


def event_from(fields: dict[str, Any]) -> LiveEvent:
    """The `LiveEvent` of `event_fields`.

    Raises:
        RelayProtocolError: a field is missing or has the wrong type.
    """
    try:
        event = LiveEvent(
            str(fields["id"]),
            str(fields["type"]),
            str(fields["transaction_id"]),
            dict(fields["data"]),
            float(fields["timestamp"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RelayProtocolError("malformed relay event") from error
    return event
