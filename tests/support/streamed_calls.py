"""A streamed call on each client API whose upstream pauses, and a client that reads only part of it.

`STREAMS` is, for each API, the path, the streaming request and the upstream's frames; `LONG_PAUSE`
holds the upstream's reply far longer than any test waits, so only a closed connection ends it;
`read_until_frames` reads the first frames of a stream, as a client about to go away.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.fake_provider import Pause, anthropic_stream, chat_stream, responses_stream

USER: Any = [{"role": "user", "content": "hi"}]
LONG_PAUSE = Pause(30.0)
"""Far longer than any test waits: only a closed connection ends these upstream replies early."""
CLIENT_TIMEOUT_S = 0.3
"""A client's read timeout that runs out while the upstream pauses."""

STREAMS: dict[str, tuple[str, dict[str, Any], list[bytes]]] = {
    "messages": (
        "/v1/messages",
        {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": USER, "stream": True},
        anthropic_stream("one two three four five six", text_chunks=6),
    ),
    "chat": (
        "/v1/chat/completions",
        {"model": "gpt-5", "messages": USER, "stream": True},
        chat_stream("one two three four five six", text_chunks=6),
    ),
    "responses": (
        "/v1/responses",
        {"model": "gpt-5", "input": "hi", "stream": True},
        responses_stream("one two three four five six", text_chunks=6),
    ),
}


def read_until_frames(chunks: Iterator[bytes], count: int) -> bytes:
    """Read from `chunks` until `count` complete SSE frames arrived.

    The caller keeps its own reference to `chunks`: dropping an httpx byte iterator closes the
    response, which would disconnect before the test means to.
    """
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        if buffer.count(b"\n\n") >= count:
            return buffer
    raise AssertionError(f"stream ended after {buffer!r}")
