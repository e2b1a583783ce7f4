"""Keeping a response's bytes for its record within `LUTHIEN_MAX_RECORD_RESPONSE_BYTES`.

A recorder keeps the chunks of a response (as the upstream sent it, and as the client got it) to
build the record later. `BoundedChunks` keeps them up to a limit: the head, whole chunks
and the first part of the chunk that crosses the limit. Past it, only a short rolling tail of the
rest (`TAIL_BYTES`) is kept, so the record can still tell how a stream ended (complete, or with an
error event) without holding the middle. The client always receives everything; only the stored
copy is cut, and the record says so (`TRUNCATED_FIELD` in the stored message, a marker after raw
bytes, and a `record.response_truncated` event).
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Any

TAIL_BYTES = 64 * 1024
"""Bytes of the end of a truncated stream kept to read how it ended (its last events)."""
TRUNCATED_FIELD = "luthien_response_truncated"
"""Key added to a stored message assembled from a truncated stream."""
TRUNCATED_EVENT = "record.response_truncated"
"""Type of the record event that says a side's stored copy was truncated."""


class BoundedChunks:
    """The chunks of one response side, kept up to `limit` bytes (None: no limit).

    One is held per response side for the whole call, so a thousand streams open at once hold two
    thousand of them; a stream of small events would cost an object (header, pointer, allocator
    rounding) per event. So the head is kept as one buffer and the end offset of each chunk (8
    bytes): a side's first chunk is kept as the object it came as (a whole body is not copied),
    later ones are appended to a buffer. The client's side is made with the upstream's as its
    `mirror`: while what the client got is, byte for byte, what the upstream sent (no policy changed
    it), it keeps only its offsets and reads its bytes from the mirror; the first chunk that differs
    gives it a buffer of its own. The tail's deque is only made once a side is truncated.

    Attributes:
        limit: bytes kept in the head, at most (None: no limit).
        total: bytes seen in all.
    """

    __slots__ = ("_buffer", "_ends", "_kept", "_mirror", "_tail", "_tail_bytes", "limit", "total")

    def __init__(self, limit: int | None, mirror: BoundedChunks | None = None) -> None:
        """Keep a side's chunks up to `limit` bytes, reading them from `mirror` while they match it."""
        self.limit = limit
        self.total = 0
        self._kept = 0
        self._buffer: bytes | bytearray = b""
        self._ends = array("q")
        self._mirror = mirror
        self._tail: deque[bytes] | None = None
        self._tail_bytes = 0

    @property
    def truncated(self) -> bool:
        """Whether bytes were left out of `head`."""
        return self.total > self._kept

    @property
    def kept(self) -> int:
        """Bytes in `head`."""
        return self._kept

    @property
    def chunks(self) -> int:
        """Chunks (or parts of one, at the limit) in `head`."""
        return len(self._ends)

    @property
    def head(self) -> list[bytes]:
        """The chunks kept from the start, `limit` bytes at most (made anew on each access)."""
        data = self.raw()
        pieces: list[bytes] = []
        start = 0
        for end in self._ends:
            pieces.append(data[start:end])
            start = end
        return pieces

    @property
    def tail(self) -> tuple[bytes, ...]:
        """The last chunks after the head (about `TAIL_BYTES`); empty unless truncated."""
        return () if self._tail is None else tuple(self._tail)

    def raw(self) -> bytes:
        """The head's chunks joined."""
        buffer = self._buffer if self._mirror is None else self._mirror._buffer
        if isinstance(buffer, bytes) and len(buffer) == self._kept:
            return buffer
        return bytes(buffer[: self._kept])

    def add(self, chunk: bytes) -> bool:
        """Keep `chunk` (or its part within the limit); True when all of it went into `head`."""
        whole = self.limit is None or (not self.truncated and self._kept + len(chunk) <= self.limit)
        self.total += len(chunk)
        if whole:
            self._keep(chunk)
            return True
        room = (self.limit or 0) - self._kept
        if room > 0:
            self._keep(chunk[:room])
        tail = self._tail
        if tail is None:
            tail = self._tail = deque()
        tail.append(chunk)
        self._tail_bytes += len(chunk)
        while len(tail) > 1 and self._tail_bytes - len(tail[0]) >= TAIL_BYTES:
            self._tail_bytes -= len(tail.popleft())
        return False

    def _keep(self, piece: bytes) -> None:
        end = self._kept + len(piece)
        mirror = self._mirror
        if mirror is not None:
            if end <= mirror._kept and mirror._buffer.startswith(piece, self._kept):
                self._ends.append(end)
                self._kept = end
                return
            # The first difference: from here on this side holds its own bytes.
            self._buffer = bytes(mirror._buffer[: self._kept])
            self._mirror = None
        buffer = self._buffer
        if not buffer:
            self._buffer = piece  # the object itself: a whole body is not copied
        elif isinstance(buffer, bytes):
            self._buffer = bytearray(buffer) + piece
        else:
            buffer += piece
        self._ends.append(end)
        self._kept = end

    def marked_raw(self, raw: bytes) -> bytes:
        """`raw` (the joined head) with a visible marker after it when truncated."""
        if not self.truncated:
            return raw
        return raw + f"\n[… truncated by Luthien: {self._kept} of {self.total} bytes kept]".encode()

    def event_data(self, side: str) -> dict[str, Any]:
        """The data of the `record.response_truncated` event for `side` (`upstream` or `client`)."""
        return {"side": side, "kept_bytes": self._kept, "total_bytes": self.total, "limit": self.limit}


def mark_message(message: dict[str, Any] | None, truncated: bool) -> dict[str, Any] | None:
    """`message` with `TRUNCATED_FIELD` set when it was assembled from a truncated stream."""
    if message is None or not truncated:
        return message
    return {**message, TRUNCATED_FIELD: True}
