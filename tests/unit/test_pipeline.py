"""The response pipeline: byte-exact pass-through, replaced events, and well-formed stream endings."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import PassThroughStage, ResponseStage
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind
from luthien.wire.events import DONE, RESPONSE_BODY, WireEvent
from luthien.wire.sse import SSEParser
from tests.support.codec_streams import chunked, decode_all

ANTHROPIC_FRAMES = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","content":[]}}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n',
    b'event: ping\ndata: {"type": "ping"}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"secret"}}\n\n',
    b": keep-alive\n\n",
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
]
CHAT_FRAMES = [
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}'
    b"\n\n",
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"secret"}}]}'
    b"\n\n",
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},'
    b'"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
]
RESPONSES_FRAMES = [
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n',
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"secret",'
    b'"sequence_number":1}\n\n',
    b'event: response.output_text.done\ndata: {"type":"response.output_text.done","sequence_number":2}\n\n',
    b'event: response.completed\ndata: {"type":"response.completed","sequence_number":3}\n\n',
]
CASES = [
    pytest.param(ANTHROPIC_MESSAGES, ANTHROPIC_FRAMES, id="anthropic_messages"),
    pytest.param(OPENAI_CHAT, CHAT_FRAMES, id="openai_chat"),
    pytest.param(OPENAI_RESPONSES, RESPONSES_FRAMES, id="openai_responses"),
]


async def upstream(chunks: list[bytes], error: UpstreamStreamError | None = None) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk
    if error is not None:
        raise error


async def collect(api: WireApi, chunks: AsyncIterator[bytes], stage: ResponseStage | None = None) -> bytes:
    out = [piece async for piece in run_stream(api, chunks, stage or PassThroughStage())]
    return b"".join(out)


class MapStage:
    """Replaces the events for which `change` returns a new event."""

    passes_through = False

    def __init__(self, change: Callable[[WireEvent], WireEvent | None]) -> None:
        self.change = change
        self.seen: list[WireEvent] = []

    @property
    def name(self) -> str:
        return "map"

    async def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        async for event in events:
            self.seen.append(event)
            yield self.change(event) or event

    async def process_body(self, body: WireEvent) -> WireEvent:
        self.seen.append(body)
        return self.change(body) or body


class DropStage:
    """Drops every event of one type."""

    passes_through = False

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type

    @property
    def name(self) -> str:
        return "drop"

    async def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        async for event in events:
            if event.type != self.event_type:
                yield event

    async def process_body(self, body: WireEvent) -> WireEvent:
        return body


def redact(event: WireEvent) -> WireEvent | None:
    """Replace the text "secret" with "[redacted]" wherever it appears in a payload."""
    if event.data is None or b"secret" not in orjson.dumps(event.data):
        return None
    data: Any = orjson.loads(orjson.dumps(event.data).replace(b"secret", b"[redacted]"))
    return WireEvent(event.type, data, event.sse_event)


# --- unchanged events ---------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.parametrize("chunk_size", [1, 3, 17, 10_000])
@pytest.mark.asyncio
async def test_pass_through_is_byte_identical(api: WireApi, frames: list[bytes], chunk_size: int) -> None:
    body = b"".join(frames)

    out = await collect(api, upstream(chunked(body, chunk_size)))

    assert out == body


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_identity_generator_stage_is_byte_identical(api: WireApi, frames: list[bytes]) -> None:
    body = b"".join(frames).replace(b"\n", b"\r\n")
    stage = MapStage(lambda event: None)

    out = await collect(api, upstream(chunked(body, 5)), stage)

    assert out == body
    assert len(stage.seen) == len(frames)


@settings(max_examples=50, deadline=None)
@given(
    case=st.sampled_from([(ANTHROPIC_MESSAGES, ANTHROPIC_FRAMES), (OPENAI_CHAT, CHAT_FRAMES)]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=20),
)
def test_pass_through_is_byte_identical_for_any_chunking(
    case: tuple[WireApi, list[bytes]], cuts: list[int]
) -> None:
    api, frames = case
    body = b"".join(frames)
    points = sorted({0, len(body), *(min(cut, len(body)) for cut in cuts)})
    chunks = [body[start:end] for start, end in itertools.pairwise(points)]

    assert asyncio.run(collect(api, upstream(chunks))) == body


# --- replaced events ----------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_replaced_event_is_the_only_one_reserialized(api: WireApi, frames: list[bytes]) -> None:
    body = b"".join(frames)
    (changed_index,) = [index for index, frame in enumerate(frames) if b"secret" in frame]

    out = await collect(api, upstream(chunked(body, 7)), MapStage(redact))

    prefix = b"".join(frames[:changed_index])
    suffix = b"".join(frames[changed_index + 1 :])
    assert out.startswith(prefix)
    assert out.endswith(suffix)
    middle = out[len(prefix) : len(out) - len(suffix)]
    assert middle != frames[changed_index]
    (replaced,) = decode_all(api, middle)
    original = api.decode(SSEParser().feed(frames[changed_index])[0])
    assert replaced.type == original.type
    assert replaced.sse_event == original.sse_event
    assert orjson.dumps(replaced.data) == orjson.dumps(original.data).replace(b"secret", b"[redacted]")


@pytest.mark.asyncio
async def test_stage_may_insert_events() -> None:
    extra = WireEvent("ping", {"type": "ping"}, "ping")

    class InsertStage:
        passes_through = False

        @property
        def name(self) -> str:
            return "insert"

        async def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
            async for event in events:
                if event.type == "message_stop":
                    yield extra
                yield event

        async def process_body(self, body: WireEvent) -> WireEvent:
            return body

    out = await collect(ANTHROPIC_MESSAGES, upstream(ANTHROPIC_FRAMES), InsertStage())

    assert out == b"".join(ANTHROPIC_FRAMES[:-1]) + ANTHROPIC_MESSAGES.encode(extra) + ANTHROPIC_FRAMES[-1]


# --- incomplete streams -------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_missing_terminal_event_gets_error_appended(api: WireApi, frames: list[bytes]) -> None:
    sent = b"".join(frames[:-1])

    out = await collect(api, upstream(chunked(sent, 11)))

    assert out.startswith(sent)
    appended = decode_all(api, out[len(sent) :])
    assert appended
    assert appended[0].type == "error"
    assert api.is_terminal(appended[-1])
    if api is OPENAI_CHAT:
        assert [event.type for event in appended] == ["error", DONE]
        assert appended[0].data["error"]["code"] == ErrorKind.UPSTREAM_STREAM.value.openai_code
    elif api is ANTHROPIC_MESSAGES:
        assert appended[0].data["error"]["type"] == ErrorKind.UPSTREAM_STREAM.value.anthropic_type
    else:
        assert appended[0].data["sequence_number"] == 3


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_empty_upstream_gets_only_the_error(api: WireApi, frames: list[bytes]) -> None:
    out = await collect(api, upstream([]))

    events = decode_all(api, out)
    assert events[0].type == "error"
    assert api.is_terminal(events[-1])
    if api is OPENAI_RESPONSES:
        assert events[0].data["sequence_number"] == 0


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_unterminated_trailing_terminal_frame_completes_the_stream(
    api: WireApi, frames: list[bytes]
) -> None:
    body = b"".join(frames).removesuffix(b"\n\n")

    out = await collect(api, upstream(chunked(body, 13)))

    # The final frame goes out terminated, so the client's SSE parser dispatches it.
    assert out == body + b"\n\n"


@pytest.mark.asyncio
async def test_stage_dropping_terminal_event_gets_error_appended() -> None:
    out = await collect(ANTHROPIC_MESSAGES, upstream(ANTHROPIC_FRAMES), DropStage("message_stop"))

    sent = b"".join(ANTHROPIC_FRAMES[:-1])
    assert out.startswith(sent)
    (error,) = decode_all(ANTHROPIC_MESSAGES, out[len(sent) :])
    assert error.type == "error"


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.parametrize(
    "kind", [ErrorKind.UPSTREAM_TIMEOUT, ErrorKind.UPSTREAM_UNAVAILABLE, ErrorKind.UPSTREAM_STREAM]
)
@pytest.mark.asyncio
async def test_upstream_error_mid_stream_appends_error_after_sent_bytes(
    api: WireApi, frames: list[bytes], kind: ErrorKind
) -> None:
    sent = b"".join(frames[:2])

    out = await collect(api, upstream(chunked(sent, 4), UpstreamStreamError(kind, "cut")))

    assert out.startswith(sent)
    appended = decode_all(api, out[len(sent) :])
    assert appended[0].type == "error"
    assert api.is_terminal(appended[-1])
    if api is OPENAI_CHAT:
        assert [event.type for event in appended] == ["error", DONE]
        assert appended[0].data["error"]["code"] == kind.value.openai_code
    elif api is ANTHROPIC_MESSAGES:
        assert appended[0].data["error"]["type"] == kind.value.anthropic_type
    else:
        assert appended[0].data["code"] == kind.value.openai_code
        assert appended[0].data["sequence_number"] == 2


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_partial_frame_is_not_sent_when_upstream_breaks(api: WireApi, frames: list[bytes]) -> None:
    sent = frames[0]
    partial = frames[1][: len(frames[1]) // 2]

    out = await collect(api, upstream([sent, partial], UpstreamStreamError(ErrorKind.UPSTREAM_STREAM, "cut")))

    assert out.startswith(sent)
    appended = decode_all(api, out[len(sent) :])
    assert appended[0].type == "error"
    assert all(event.raw is not None and partial not in event.raw for event in appended)


@pytest.mark.parametrize(("api", "frames"), CASES)
@pytest.mark.asyncio
async def test_no_error_after_terminal_even_if_upstream_breaks(api: WireApi, frames: list[bytes]) -> None:
    body = b"".join(frames)

    out = await collect(
        api, upstream(chunked(body, 9), UpstreamStreamError(ErrorKind.UPSTREAM_TIMEOUT, "idle"))
    )

    assert out == body


@pytest.mark.asyncio
async def test_no_error_after_upstream_error_event() -> None:
    error_frame = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"m"}}\n\n'
    )
    body = ANTHROPIC_FRAMES[0] + error_frame

    out = await collect(ANTHROPIC_MESSAGES, upstream([body]))

    assert out == body


@pytest.mark.asyncio
async def test_responses_error_after_comment_keeps_sequence_rising() -> None:
    sent = b"".join(RESPONSES_FRAMES[:2]) + b": keep-alive\n\n"

    out = await collect(
        OPENAI_RESPONSES, upstream([sent], UpstreamStreamError(ErrorKind.UPSTREAM_TIMEOUT, "idle"))
    )

    (error,) = decode_all(OPENAI_RESPONSES, out[len(sent) :])
    assert error.data["sequence_number"] == 2


# --- non-streaming bodies -----------------------------------------------------------------------


@pytest.mark.parametrize("api", [ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES])
@pytest.mark.asyncio
async def test_run_body_json_is_byte_identical(api: WireApi) -> None:
    body = b'{ "id": "msg_1",\n  "content": [{"type": "text", "text": "h\xc3\xa9"}] }'
    stage = MapStage(lambda event: None)

    out = await run_body(api, body, stage)

    assert out == body
    (event,) = stage.seen
    assert event.type == RESPONSE_BODY
    assert event.data == orjson.loads(body)
    assert event.raw == body


@pytest.mark.parametrize("body", [b"not json", b"", b"<html>502</html>", b"\xff\xfe"])
@pytest.mark.asyncio
async def test_run_body_non_json_is_forwarded_untouched(body: bytes) -> None:
    stage = MapStage(redact)

    assert await run_body(ANTHROPIC_MESSAGES, body, stage) == body
    assert stage.seen == []


@pytest.mark.asyncio
async def test_run_body_replaced_event_is_reserialized() -> None:
    body = b'{"id": "msg_1", "content": [{"type": "text", "text": "secret"}]}'

    out = await run_body(ANTHROPIC_MESSAGES, body, MapStage(redact))

    assert orjson.loads(out) == {"id": "msg_1", "content": [{"type": "text", "text": "[redacted]"}]}


@pytest.mark.asyncio
async def test_run_body_pass_through_stage() -> None:
    body = b"[1, 2, 3]"

    assert await run_body(OPENAI_CHAT, body, PassThroughStage()) == body


def test_pass_through_stage_identity() -> None:
    async def no_events() -> AsyncIterator[WireEvent]:
        for event in ():
            yield event

    stage = PassThroughStage()
    events = no_events()

    assert stage.process(events) is events


@pytest.mark.asyncio
async def test_a_stage_that_changes_nothing_gets_one_piece_per_upstream_read() -> None:
    """The frames one read completed go out in one write; a read that completes none sends nothing."""
    data = b"".join(ANTHROPIC_FRAMES)
    cut = len(ANTHROPIC_FRAMES[0]) + len(ANTHROPIC_FRAMES[1]) + 5  # two frames and a part of the third
    reads = [data[:cut], data[cut : cut + 3], data[cut + 3 :]]
    pieces = [piece async for piece in run_stream(ANTHROPIC_MESSAGES, upstream(reads), PassThroughStage())]
    assert pieces == [ANTHROPIC_FRAMES[0] + ANTHROPIC_FRAMES[1], b"".join(ANTHROPIC_FRAMES[2:])]
    stage = MapStage(lambda event: None)  # looks at every event, changes none: one piece per event
    per_event = [piece async for piece in run_stream(ANTHROPIC_MESSAGES, upstream(reads), stage)]
    assert per_event == ANTHROPIC_FRAMES
