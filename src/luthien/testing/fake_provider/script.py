"""The fake provider's script: the requests it receives and the replies it is told to send.

Also the small types the wire builders share (`ToolCall`, SSE framing).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson

__all__ = [
    "Gate",
    "HangReply",
    "JSONReply",
    "Pause",
    "RawReply",
    "ReceivedRequest",
    "Reply",
    "StreamReply",
    "ToolCall",
    "split_text",
    "sse_frame",
]


@dataclass
class ReceivedRequest:
    """One request the fake received.

    Attributes:
        method: The HTTP method.
        path: The URL path, e.g. ``/v1/messages``.
        query: The raw query string, without ``?``.
        headers: The request headers, names lower-cased (repeated headers joined with ``", "``).
        body: The raw request body.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body decoded as JSON."""
        return orjson.loads(self.body)


@dataclass
class ToolCall:
    """A tool call the fake model makes.

    Attributes:
        id: The provider's call id (``toolu_...`` for Anthropic, ``call_...`` for OpenAI).
        name: The tool's name.
        arguments: The tool input. A dict is serialized as JSON; a str is sent verbatim, which lets a
            test send cut-off or invalid JSON.
    """

    id: str
    name: str
    arguments: dict[str, Any] | str


@dataclass
class Pause:
    """A pause between two frames of a :class:`StreamReply`."""

    seconds: float


class Gate:
    """A point in a :class:`StreamReply` where the stream waits until the test calls :meth:`open`.

    Unlike a :class:`Pause`, the wait lasts exactly as long as the test needs (no guessed duration).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def open(self) -> None:
        """Let the stream go on past this point (callable from any thread)."""
        with self._lock:
            self._opened = True
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        """Return once :meth:`open` was called (on the fake's event loop)."""
        event = asyncio.Event()
        with self._lock:
            if self._opened:
                return
            self._waiters.append((asyncio.get_running_loop(), event))
        await event.wait()


@dataclass
class JSONReply:
    """A JSON reply; ``body`` is serialized with orjson."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict[str, str])


@dataclass
class RawReply:
    """A reply with an arbitrary body and content type (for malformed or non-JSON replies)."""

    body: bytes
    status: int = 200
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict[str, str])


@dataclass
class StreamReply:
    """A ``text/event-stream`` reply.

    Attributes:
        frames: Raw SSE frames (each already ending in a blank line), pauses and gates, sent in order;
            any sequence, so a builder's ``list[bytes]`` can be passed as-is.
        status: The HTTP status.
        headers: Extra response headers.
        cut: When true the TCP connection is aborted after the last frame, without the terminating
            chunk, so the client sees an incomplete body.
    """

    frames: Sequence[bytes | Pause | Gate]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict[str, str])
    cut: bool = False


@dataclass
class HangReply:
    """A reply that never comes: the connection is held open until ``reset()`` or ``stop()``."""


Reply: TypeAlias = JSONReply | RawReply | StreamReply | HangReply


def sse_frame(event: str | None, data: Any) -> bytes:
    """Build one complete server-sent-events frame.

    Args:
        event: The ``event:`` field, or None to send only data (OpenAI Chat Completions style).
        data: The payload. A str (or bytes) is used as-is; anything else is serialized as compact JSON.
            A payload spanning several lines becomes several ``data:`` lines.

    Returns:
        The frame, ending in a blank line.
    """
    if isinstance(data, bytes):
        payload = data.decode()
    elif isinstance(data, str):
        payload = data
    else:
        payload = orjson.dumps(data).decode()
    lines = [] if event is None else [f"event: {event}"]
    lines.extend(f"data: {line}" for line in payload.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def split_text(text: str, pieces: int) -> list[str]:
    """Split ``text`` into at most ``pieces`` consecutive, non-empty, near-equal parts.

    Args:
        text: The text to split; an empty text gives no parts.
        pieces: The wanted number of parts (at least 1); fewer are returned when ``text`` is shorter.

    Returns:
        The parts, which join back to ``text``.
    """
    count = max(1, min(pieces, len(text)))
    if not text:
        return []
    size, extra = divmod(len(text), count)
    parts: list[str] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        parts.append(text[start:end])
        start = end
    return parts
