"""Server-sent events: an incremental frame parser that keeps each frame's exact bytes, and an encoder.

The parser is sans-IO: `feed()` takes whatever bytes arrived and returns the frames they completed;
`finish()` returns a final frame that lacked its blank-line terminator. Keeping the raw bytes lets the
pipeline forward an unchanged frame byte-for-byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A frame ends at the first blank line: two line breaks in a row, each CRLF, LF or a lone CR (one not
# followed by LF, which would make it half of a CRLF).
_BREAK = rb"(?:\r\n|\n|\r(?!\n))"
_FRAME_END = re.compile(_BREAK + _BREAK)
_COLON = ord(":")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEFrame:
    """One server-sent event.

    Attributes:
        event: the `event:` field, or None when the frame has none.
        data: the `data:` lines joined by newlines, or None for a frame without data (a comment).
        raw: the exact bytes of the frame, terminator included.
    """

    event: str | None
    data: str | None
    raw: bytes


def parse_frame(raw: bytes) -> SSEFrame:
    """Parse one complete frame's bytes (terminator optional).

    Works on bytes (`bytes.splitlines` breaks at exactly CRLF, LF and CR, as the SSE grammar
    does) and decodes only the `event` and `data` values: the same result as decoding the frame
    first (line breaks are ASCII, so they never fall inside a character), for less work per event.
    """
    event: str | None = None
    data_lines: list[bytes] = []
    for line in raw.splitlines():
        if not line or line[0] == _COLON:
            continue
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            event = value.decode("utf-8", errors="replace")
    if not data_lines:
        return SSEFrame(event=event, data=None, raw=raw)
    data = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
    return SSEFrame(event=event, data=data.decode("utf-8", errors="replace"), raw=raw)


class SSEParser:
    """Turns a byte stream into frames, however the bytes are chunked."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """Add bytes; return every frame they complete, in order.

        A frame ending in a CR at the end of `chunk` is complete whatever comes next: if the next
        byte is an LF (the CR was half of a CRLF), that LF is a leading line break of the next frame,
        which parsing ignores and forwarding keeps. So no frame waits for the next read.
        """
        buffer = self._buffer + chunk if self._buffer else chunk
        frames: list[SSEFrame] = []
        start = 0
        if b"\r" not in buffer:
            # LF line breaks only (what providers send): a blank line is exactly two LFs.
            while (end := buffer.find(b"\n\n", start)) >= 0:
                end += 2
                frames.append(parse_frame(buffer[start:end]))
                start = end
        else:
            while match := _FRAME_END.search(buffer, start):
                end = match.end()
                frames.append(parse_frame(buffer[start:end]))
                start = end
        self._buffer = buffer[start:] if start else buffer
        return frames

    def finish(self) -> SSEFrame | None:
        """Return the unterminated trailing frame, if the stream ended inside one.

        Trailing line breaks alone are returned too (as a frame without data), so that forwarding
        them keeps the stream's bytes; other trailing whitespace is dropped.
        """
        rest, self._buffer = self._buffer, b""
        if not rest.strip(b"\r\n"):
            return parse_frame(rest) if rest else None
        if not rest.strip():
            return None
        return parse_frame(rest)

    @property
    def pending_bytes(self) -> int:
        """Bytes received that do not yet form a complete frame."""
        return len(self._buffer)


def terminated(raw: bytes) -> bytes:
    """A frame that lacks its blank line, completed with the line break it uses (LF when none)."""
    body = raw.rstrip(b"\r\n")
    line_break = _LINE_BREAK_BYTES.search(raw)
    return body + (line_break.group() if line_break else b"\n") * 2


def encode_frame(event: str | None, data: str) -> bytes:
    """Serialize one frame; multi-line data becomes several `data:` lines."""
    lines = [f"event: {event}"] if event is not None else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")
