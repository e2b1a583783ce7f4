"""The SSE parser: frame boundaries, exact raw bytes, line endings, and the encoder."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luthien.wire.sse import SSEFrame, SSEParser, encode_frame, parse_frame

ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1"}}\n\n'
    b": ping\n\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","delta":{"text":"h\xc3\xa9llo"}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)
CRLF_STREAM = ANTHROPIC_STREAM.replace(b"\n", b"\r\n")
CR_STREAM = ANTHROPIC_STREAM.replace(b"\n", b"\r")
STREAMS = [ANTHROPIC_STREAM, CRLF_STREAM, CR_STREAM]


def parse_all(chunks: list[bytes]) -> list[SSEFrame]:
    parser = SSEParser()
    frames: list[SSEFrame] = []
    for chunk in chunks:
        frames.extend(parser.feed(chunk))
    trailing = parser.finish()
    if trailing is not None:
        frames.append(trailing)
    return frames


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(cut, 0), len(data)) for cut in cuts})
    pieces: list[bytes] = []
    start = 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


def summary(frames: list[SSEFrame]) -> list[tuple[str | None, str | None]]:
    return [(frame.event, frame.data) for frame in frames]


@pytest.mark.parametrize("stream", STREAMS, ids=["lf", "crlf", "cr"])
def test_whole_stream_gives_expected_frames(stream: bytes) -> None:
    frames = parse_all([stream])

    assert summary(frames) == [
        ("message_start", '{"type":"message_start","message":{"id":"msg_1"}}'),
        (None, None),
        ("content_block_delta", '{"type":"content_block_delta","delta":{"text":"héllo"}}'),
        ("message_stop", '{"type":"message_stop"}'),
    ]
    assert b"".join(frame.raw for frame in frames) == stream


def content(frames: list[SSEFrame]) -> list[tuple[str | None, str | None]]:
    """The frames' fields, without frames of line breaks only.

    A frame ending in a CR at the end of a read is returned at once; when that CR was half of a
    CRLF, its LF leads the next frame (or is a frame of its own at the very end). That moves bytes
    between frames, never changes what they say or the bytes of the stream.
    """
    return [(frame.event, frame.data) for frame in frames if frame.raw.strip(b"\r\n")]


@pytest.mark.parametrize("stream", STREAMS, ids=["lf", "crlf", "cr"])
def test_every_single_split_point_gives_same_frames(stream: bytes) -> None:
    expected = parse_all([stream])
    for point in range(len(stream) + 1):
        frames = parse_all([stream[:point], stream[point:]])
        assert content(frames) == content(expected), point
        assert b"".join(frame.raw for frame in frames) == stream, point
        if stream is not CRLF_STREAM:
            assert frames == expected, point


@pytest.mark.parametrize("stream", STREAMS, ids=["lf", "crlf", "cr"])
def test_byte_at_a_time_gives_same_frames(stream: bytes) -> None:
    chunks = [stream[index : index + 1] for index in range(len(stream))]
    frames = parse_all(chunks)
    assert content(frames) == content(parse_all([stream]))
    assert b"".join(frame.raw for frame in frames) == stream


@pytest.mark.parametrize("ending", [b"\r\r", b"\r\n\r", b"\n\r"], ids=["cr", "crlf-cr", "lf-cr"])
def test_a_frame_ending_in_a_cr_at_the_end_of_a_read_is_returned_at_once(ending: bytes) -> None:
    parser = SSEParser()

    [frame] = parser.feed(b"data: 1" + ending)
    later = parser.feed(b"\ndata: 2\n\n")

    assert (frame.data, frame.raw) == ("1", b"data: 1" + ending)
    assert [(f.data, f.raw) for f in later] == [("2", b"\ndata: 2\n\n")]


@given(
    stream=st.sampled_from(STREAMS),
    cuts=st.lists(st.integers(min_value=0, max_value=len(CRLF_STREAM)), max_size=40),
)
def test_arbitrary_chunking_gives_same_frames_and_exact_bytes(stream: bytes, cuts: list[int]) -> None:
    chunks = split_at(stream, cuts)
    frames = parse_all(chunks)

    assert content(frames) == content(parse_all([stream]))
    assert b"".join(frame.raw for frame in frames) == stream


_field_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)


@given(
    events=st.lists(
        st.tuples(st.none() | _field_text, st.lists(_field_text, min_size=1, max_size=3)),
        min_size=1,
        max_size=6,
    ),
    ending=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
)
def test_generated_streams_survive_arbitrary_chunking(
    events: list[tuple[str | None, list[str]]], ending: bytes, cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(event, "\n".join(lines)).replace(b"\n", ending) for event, lines in events)
    frames = parse_all(split_at(stream, cuts))

    assert content(frames) == [(event, "\n".join(lines)) for event, lines in events]
    assert b"".join(frame.raw for frame in frames) == stream


def test_raw_includes_terminator_and_extra_blank_lines_are_kept() -> None:
    stream = b"data: a\n\n\n\ndata: b\n\n"
    frames = parse_all([stream])

    assert frames[0].raw == b"data: a\n\n"
    assert b"".join(frame.raw for frame in frames) == stream
    assert [frame.data for frame in frames if frame.data is not None] == ["a", "b"]


def test_comment_frame_has_no_data() -> None:
    (frame,) = SSEParser().feed(b": ping\n\n")

    assert frame.data is None
    assert frame.event is None
    assert frame.raw == b": ping\n\n"


def test_event_without_data_has_no_data() -> None:
    (frame,) = SSEParser().feed(b"event: ping\n\n")

    assert frame.event == "ping"
    assert frame.data is None


def test_multi_line_data_is_joined_with_newlines() -> None:
    (frame,) = SSEParser().feed(b"data: one\ndata: two\r\ndata: three\n\n")

    assert frame.data == "one\ntwo\nthree"


def test_field_without_space_after_colon() -> None:
    (frame,) = SSEParser().feed(b"event:delta\ndata:{}\n\n")

    assert frame.event == "delta"
    assert frame.data == "{}"


def test_only_one_leading_space_is_removed() -> None:
    (frame,) = SSEParser().feed(b"data:  two spaces\n\n")

    assert frame.data == " two spaces"


def test_data_field_without_colon_is_empty_data() -> None:
    (frame,) = SSEParser().feed(b"data\n\n")

    assert frame.data == ""


def test_unknown_fields_and_comment_lines_inside_frame_are_ignored() -> None:
    (frame,) = SSEParser().feed(b": note\nid: 7\nretry: 10\nevent: x\ndata: y\n\n")

    assert (frame.event, frame.data) == ("x", "y")


def test_last_event_field_wins() -> None:
    (frame,) = SSEParser().feed(b"event: a\nevent: b\ndata: y\n\n")

    assert frame.event == "b"


def test_invalid_utf8_does_not_raise() -> None:
    (frame,) = SSEParser().feed(b"data: \xff\n\n")

    assert frame.data is not None
    assert frame.raw == b"data: \xff\n\n"


def test_feed_returns_nothing_until_a_frame_completes() -> None:
    parser = SSEParser()

    assert parser.feed(b"data: partial") == []
    assert parser.pending_bytes == len(b"data: partial")
    assert parser.feed(b"\n") == []
    (frame,) = parser.feed(b"\n")
    assert frame.data == "partial"
    assert parser.pending_bytes == 0


def test_feed_empty_chunk_is_harmless() -> None:
    parser = SSEParser()

    assert parser.feed(b"") == []
    assert parser.finish() is None


def test_finish_returns_unterminated_trailing_frame() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: 1\n\ndata: 2\n") != []

    trailing = parser.finish()

    assert trailing is not None
    assert trailing.data == "2"
    assert trailing.raw == b"data: 2\n"
    assert parser.pending_bytes == 0
    assert parser.finish() is None


def test_finish_returns_none_for_other_whitespace() -> None:
    parser = SSEParser()
    parser.feed(b"data: 1\n\n  \n")

    assert parser.finish() is None


@pytest.mark.parametrize("rest", [b"\n", b"\r\n", b"\r"])
def test_finish_returns_trailing_line_breaks_as_they_came(rest: bytes) -> None:
    parser = SSEParser()
    parser.feed(b"data: 1\r\r")
    parser.feed(rest)

    trailing = parser.finish()

    assert trailing == SSEFrame(None, None, rest)


def test_finish_keeps_unterminated_comment() -> None:
    parser = SSEParser()
    parser.feed(b": ping")

    trailing = parser.finish()

    assert trailing is not None
    assert trailing.data is None
    assert trailing.raw == b": ping"


def test_parse_frame_without_terminator() -> None:
    frame = parse_frame(b"event: e\ndata: d")

    assert (frame.event, frame.data, frame.raw) == ("e", "d", b"event: e\ndata: d")


def test_encode_frame_format() -> None:
    assert encode_frame("ping", "{}") == b"event: ping\ndata: {}\n\n"
    assert encode_frame(None, "a\nb") == b"data: a\ndata: b\n\n"


@given(event=st.none() | _field_text, data=st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_encode_frame_round_trips_through_parse_frame_lf_data(event: str | None, data: str) -> None:
    # SSE cannot carry a CR inside data (the parser treats it as a line break); JSON never has one.
    data = data.replace("\r", "")
    raw = encode_frame(event, data)
    frame = parse_frame(raw)

    assert (frame.event, frame.data, frame.raw) == (event, data, raw)
    assert parse_all([raw]) == [frame]


def test_mixed_line_endings_blank_line_ends_frame() -> None:
    frames = SSEParser().feed(b"data: x\n\r\ndata: y\n\n")

    assert [frame.data for frame in frames] == ["x", "y"]


def _reference_parse(raw: bytes) -> tuple[str | None, str | None]:
    """The SSE field rules applied to the decoded text, line by line (the parser's former way)."""
    event: str | None = None
    data: list[str] = []
    for line in re.split(r"\r\n|\r|\n", raw.decode("utf-8", errors="replace")):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    return event, "\n".join(data) if data else None


@pytest.mark.parametrize(
    "raw",
    [
        b"event: a\ndata: {}\n\n",
        b"data:no-space\r\ndata:  two spaces\r\n\r\n",
        b"event:\xe2\ndata: caf\xc3\xa9 \xff\xfe\rdata\r\r",
        b": comment\nid: 7\nretry: 10\ndata\nevent: x: y\n\n",
        b"data: \xe2\x82\nmore\n\n",
        b"event: only\n\n",
    ],
)
def test_frames_parse_as_the_decoded_text_would(raw: bytes) -> None:
    frame = parse_frame(raw)
    assert (frame.event, frame.data) == _reference_parse(raw)
    assert frame.raw == raw


@given(
    st.lists(
        st.sampled_from([b"data", b"event", b":", b" ", b"\r", b"\n", b"x", b"\xc3\xa9", b"\xe2", b"\xff"])
    )
)
def test_any_frame_parses_as_the_decoded_text_would(pieces: list[bytes]) -> None:
    raw = b"".join(pieces)
    frame = parse_frame(raw)
    assert (frame.event, frame.data) == _reference_parse(raw)


@given(st.lists(st.sampled_from([b"data: x", b"event: e", b"\r", b"\n", b"\r\n", b"\n\n", b": c"])))
def test_frame_boundaries_do_not_depend_on_whether_the_stream_has_carriage_returns(
    pieces: list[bytes],
) -> None:
    """The LF-only fast path and the general search cut the same frames."""
    data = b"".join(pieces)
    ends: list[int] = []
    position = 0
    for frame in SSEParser().feed(data):
        position += len(frame.raw)
        ends.append(position)
    blank_line = rb"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))"
    assert ends == [match.end() for match in re.finditer(blank_line, data)]
