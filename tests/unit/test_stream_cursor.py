"""Trim detection for Redis stream subscribers, from the stream's counters alone."""

from __future__ import annotations

from luthien.events.stream_cursor import StreamCursor, StreamInfo


def info(length: int, added: int, first: str, last: str) -> StreamInfo:
    reply = {
        "length": length,
        "entries-added": added,
        "recorded-first-entry-id": first.encode(),
        "last-generated-id": last.encode(),
    }
    parsed = StreamInfo.of(reply)
    assert parsed is not None
    return parsed


def test_a_cursor_at_the_tail_learns_its_index_and_counts_what_was_trimmed() -> None:
    cursor = StreamCursor("100-9")
    assert cursor.trimmed(info(length=10, added=10, first="100-0", last="100-9")) is None  # index 9

    # 50 more entries arrived, and the stream now holds the last 20 (indexes 40..59).
    lost = cursor.trimmed(info(length=20, added=60, first="200-0", last="300-0"))

    assert lost == 30  # indexes 10..39
    assert cursor.index == 39
    cursor.delivered("200-0")
    assert cursor.index == 40
    assert cursor.trimmed(info(length=20, added=60, first="200-0", last="300-0")) is None


def test_a_cursor_that_keeps_up_is_never_told_of_a_gap() -> None:
    cursor = StreamCursor("3-0")
    assert cursor.trimmed(info(length=3, added=3, first="1-0", last="3-0")) is None  # index 2

    for added in range(4, 20):
        # One new entry each time; the stream keeps the last 3.
        assert cursor.trimmed(info(length=3, added=added, first=f"{added - 2}-0", last=f"{added}-0")) is None
        cursor.delivered(f"{added}-0")

    assert cursor.index == 18


def test_a_resume_from_an_unknown_id_older_than_the_stream_is_a_gap_of_unknown_size() -> None:
    cursor = StreamCursor("5-0")

    assert cursor.trimmed(info(length=10, added=100, first="90-0", last="99-0")) == 0
    assert cursor.index == 89
    assert cursor.trimmed(info(length=10, added=100, first="90-0", last="99-0")) is None


def test_a_resume_is_no_gap_when_nothing_was_trimmed_or_the_position_is_held() -> None:
    never_trimmed = StreamCursor("0-0")
    held = StreamCursor("95-0")

    assert never_trimmed.trimmed(info(length=5, added=5, first="1-0", last="5-0")) is None
    assert held.trimmed(info(length=10, added=100, first="90-0", last="99-0")) is None
    assert held.index is None
    held.delivered("99-0")
    held.caught_up(info(length=10, added=100, first="90-0", last="99-0"))
    assert held.index == 99


def test_a_missing_stream_is_no_gap() -> None:
    assert StreamInfo.of(Exception("no such key")) is None
    assert StreamCursor("5-0").trimmed(None) is None
