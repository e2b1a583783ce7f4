"""Keeping a response's bytes for its record within `LUTHIEN_MAX_RECORD_RESPONSE_BYTES`.

A recorder keeps references to the chunks of a response (as the upstream sent it, and as the client
got it) to build the record later. `BoundedChunks` keeps them up to a limit: the head, whole chunks
and the first part of the chunk that crosses the limit. Past it, only a short rolling tail of the
rest (`TAIL_BYTES`) is kept, so the record can still tell how a stream ended (complete, or with an
error event) without holding the middle. The client always receives everything; only the stored
copy is cut, and the record says so (`TRUNCATED_FIELD` in the stored message, a marker after raw
bytes, and a `record.response_truncated` event).
"""

from __future__ import annotations

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
    thousand of them: the tail's deque (a 64-slot block) is only made once a side is truncated.

    Attributes:
        head: the chunks kept from the start, `limit` bytes at most.
        total: bytes seen in all.
    """

    __slots__ = ("_kept", "_tail", "_tail_bytes", "head", "limit", "total")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.head: list[bytes] = []
        self.total = 0
        self._kept = 0
        self._tail: deque[bytes] | None = None
        self._tail_bytes = 0

    @property
    def tail(self) -> tuple[bytes, ...]:
        """The last chunks after the head (about `TAIL_BYTES`); empty unless truncated."""
        return () if self._tail is None else tuple(self._tail)

    @property
    def truncated(self) -> bool:
        """Whether bytes were left out of `head`."""
        return self.total > self._kept

    @property
    def kept(self) -> int:
        """Bytes in `head`."""
        return self._kept

    def add(self, chunk: bytes) -> bool:
        """Keep `chunk` (or its part within the limit); True when all of it went into `head`."""
        whole = self.limit is None or (not self.truncated and self._kept + len(chunk) <= self.limit)
        self.total += len(chunk)
        if whole:
            self.head.append(chunk)
            self._kept += len(chunk)
            return True
        room = (self.limit or 0) - self._kept
        if room > 0:
            self.head.append(chunk[:room])
            self._kept += room
        tail = self._tail
        if tail is None:
            tail = self._tail = deque()
        tail.append(chunk)
        self._tail_bytes += len(chunk)
        while len(tail) > 1 and self._tail_bytes - len(tail[0]) >= TAIL_BYTES:
            self._tail_bytes -= len(tail.popleft())
        return False

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
