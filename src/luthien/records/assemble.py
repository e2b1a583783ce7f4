"""Assembling a streamed response into the whole message its API returns without streaming.

A record stores streams this way so the original and final responses compare field by field. This
module reads the SSE frames; each API's assembler (`apis/<name>/message.py`: Anthropic's `message`,
Chat's `chat.completion`, Responses' `response`) builds the message from their payloads.

This runs after the call ended, never while bytes are flowing. It also finds the chunk in which the
first model output (text, thinking, tool call) went out, for the time-to-first-token.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, cast

import orjson

from luthien.apis.registry import StreamAssembler, entry_of, named
from luthien.wire.sse import SSEParser

_CHAT_DONE = b"[DONE]"


@dataclass(frozen=True, slots=True)
class StreamAssembly:
    """A stream as one message.

    Attributes:
        message: the whole message, or None when the stream carried none.
        error: the error the stream ended with (in-stream error event, failed response), if any.
        complete: whether the stream reached its API's terminal event.
        first_output_chunk: index of the chunk that completed the first frame with model output.
    """

    message: dict[str, Any] | None
    error: str | None
    complete: bool
    first_output_chunk: int | None


def _assembler(client_api: str) -> StreamAssembler:
    return entry_of(named(client_api)).whole_message.assembler()


def _data(frame: bytes) -> bytes | None:
    """The `data:` payload of one frame (lines joined by newlines), or None for a frame without data."""
    # Fast path: a single `data: ` line that ends the frame (after an optional `event:` line).
    at = 0 if frame.startswith(b"data: ") else frame.find(b"\ndata: ") + 1
    if (at or frame.startswith(b"data: ")) and frame.find(b"\n", at) == -1:
        return frame[at + 6 :]
    parts: list[bytes] = []
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(parts) if parts else None


def _frames(chunks: Sequence[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Each frame's data, with the byte offset in the stream at which the frame was complete.

    The last frame counts even without its blank line.
    """
    joined = b"".join(chunks)
    if b"\r" in joined:
        # Rare line endings: the pipeline's own parser, chunk by chunk.
        parser = SSEParser()
        offset = 0
        for chunk in chunks:
            offset += len(chunk)
            for frame in parser.feed(chunk):
                yield offset - 1, None if frame.data is None else frame.data.encode("utf-8")
        trailing = parser.finish()
        if trailing is not None and trailing.data is not None:
            yield offset - 1, trailing.data.encode("utf-8")
        return
    start = 0
    while (end := joined.find(b"\n\n", start)) != -1:
        yield end + 1, _data(joined[start:end])
        start = end + 2
    rest = joined[start:].strip(b"\n")
    if rest:
        yield len(joined) - 1, _data(rest)


def assemble_stream(client_api: str, chunks: Sequence[bytes]) -> StreamAssembly:
    """The whole message a stream carried.

    Args:
        client_api: the API the stream is in (`WireApi.name`).
        chunks: the stream's bytes, in the pieces they were sent or received.
    """
    assembler = _assembler(client_api)
    first_output: int | None = None
    for offset, data in _frames(chunks):
        if data is None:
            continue
        if data == _CHAT_DONE:
            assembler.done()
            continue
        try:
            payload: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        output = isinstance(payload, dict) and assembler.feed(cast(dict[str, Any], payload))
        if output and first_output is None:
            # The chunk holding the frame's last byte is the one that completed it.
            first_output = bisect_right(list(accumulate(len(chunk) for chunk in chunks)), offset)
    return StreamAssembly(assembler.result(), assembler.error, assembler.complete, first_output)
