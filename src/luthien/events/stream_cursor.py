"""Where a Redis stream subscriber is, and whether the stream was trimmed past it.

A Redis stream trimmed with `MAXLEN` drops its oldest entries and keeps counting: `XINFO STREAM`
tells how many entries were ever added and how many are held. A `StreamCursor` learns the add-order
index of its position whenever it is at the stream's last entry, and from then on knows exactly how
many entries after it were trimmed. Resuming from an id whose index it never learned, it reports a
gap of unknown size when its position is older than the oldest entry held (unless the stream never
trimmed anything).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from luthien.events.bus import parse_event_id


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """The stream counters a trim check needs (from `XINFO STREAM`)."""

    length: int
    entries_added: int
    first_id: tuple[int, int] | None
    last_id: str

    @classmethod
    def of(cls, info: Any) -> StreamInfo | None:
        """From an `XINFO STREAM` reply; None for anything else (e.g. the error of a missing stream)."""
        if not isinstance(info, dict):
            return None
        fields = cast(dict[str, Any], info)
        return cls(
            length=int(fields.get("length", 0)),
            entries_added=int(fields.get("entries-added", 0)),
            first_id=parse_event_id(_text(fields.get("recorded-first-entry-id", b"0-0"))),
            last_id=_text(fields.get("last-generated-id", b"0-0")),
        )

    @property
    def first_index(self) -> int:
        """Add-order index (0-based) of the oldest entry still held; trimming removes the oldest."""
        return self.entries_added - self.length


class StreamCursor:
    """A subscriber's position (a stream id) and, once known, that entry's add-order index."""

    __slots__ = ("index", "position")

    def __init__(self, position: str) -> None:
        self.position = position
        self.index: int | None = None

    def trimmed(self, info: StreamInfo | None) -> int | None:
        """How many entries after the position were trimmed (0: some, count unknown), or None."""
        if info is None:
            return None
        if self.index is None and self.position == info.last_id:
            self.index = info.entries_added - 1
        if self.index is not None:
            lost = info.first_index - (self.index + 1)
            if lost <= 0:
                return None
            self.index = info.first_index - 1
            return lost
        position = parse_event_id(self.position)
        if info.entries_added == info.length or info.first_id is None or position is None:
            return None
        if info.first_id <= position:
            return None
        self.index = info.first_index - 1
        return 0

    def delivered(self, event_id: str) -> None:
        """The subscriber got the next entry."""
        self.position = event_id
        if self.index is not None:
            self.index += 1

    def caught_up(self, info: StreamInfo | None) -> None:
        """Learn the index when the last delivered entry is the stream's last one."""
        if info is not None and self.index is None and self.position == info.last_id:
            self.index = info.entries_added - 1
