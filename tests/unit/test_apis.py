"""The three client APIs: decoding, encoding, terminal events, stream errors, request validation."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.wire.apis import UNPARSED, UNREADABLE, WireApi, response_event
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.events import COMMENT, DONE, RESPONSE_BODY, WireEvent
from luthien.wire.formats import WireFormat
from luthien.wire.sse import SSEFrame, SSEParser, parse_frame

ALL_APIS = [ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES]
API_IDS = ["anthropic_messages", "openai_chat", "openai_responses"]


def frame(raw: bytes) -> SSEFrame:
    (parsed,) = SSEParser().feed(raw)
    return parsed


# --- decode -------------------------------------------------------------------------------------


def test_anthropic_decode_sets_type_data_event_and_raw() -> None:
    raw = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0}\n\n'

    event = ANTHROPIC_MESSAGES.decode(frame(raw))

    assert event.type == "content_block_delta"
    assert event.data == {"type": "content_block_delta", "index": 0}
    assert event.sse_event == "content_block_delta"
    assert event.raw == raw


def test_anthropic_decode_falls_back_to_sse_event_name_without_payload_type() -> None:
    event = ANTHROPIC_MESSAGES.decode(frame(b'event: ping\ndata: {"x":1}\n\n'))

    assert event.type == "ping"


def test_anthropic_decode_error_event_is_terminal() -> None:
    raw = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"m"}}\n\n'

    event = ANTHROPIC_MESSAGES.decode(frame(raw))

    assert event.type == "error"
    assert ANTHROPIC_MESSAGES.is_terminal(event)


def test_chat_decode_chunk_type_is_object() -> None:
    raw = b'data: {"id":"c1","object":"chat.completion.chunk","choices":[]}\n\n'

    event = OPENAI_CHAT.decode(frame(raw))

    assert event.type == "chat.completion.chunk"
    assert event.data == {"id": "c1", "object": "chat.completion.chunk", "choices": []}
    assert event.sse_event is None
    assert event.raw == raw


def test_chat_decode_done() -> None:
    raw = b"data: [DONE]\n\n"

    event = OPENAI_CHAT.decode(frame(raw))

    assert event.type == DONE
    assert event.data is None
    assert event.raw == raw
    assert OPENAI_CHAT.is_terminal(event)


def test_chat_decode_error_chunk() -> None:
    raw = b'data: {"error":{"message":"m","type":"server_error","param":null,"code":null}}\n\n'

    event = OPENAI_CHAT.decode(frame(raw))

    assert event.type == "error"
    assert event.raw == raw


def test_chat_decode_json_without_object_is_unparsed_but_keeps_data() -> None:
    event = OPENAI_CHAT.decode(frame(b'data: {"id":"x"}\n\n'))

    assert event.type == UNPARSED
    assert event.data == {"id": "x"}


def test_responses_decode_sets_type_and_sequence() -> None:
    raw = (
        b"event: response.output_text.delta\n"
        b'data: {"type":"response.output_text.delta","delta":"hi","sequence_number":4}\n\n'
    )

    event = OPENAI_RESPONSES.decode(frame(raw))

    assert event.type == "response.output_text.delta"
    assert event.data["sequence_number"] == 4
    assert event.sse_event == "response.output_text.delta"
    assert event.raw == raw


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
@pytest.mark.parametrize(
    "data",
    [b'{"text": "\\ud800"}', b'{"x": NaN}', b'{"x": -Infinity}'],
    ids=["lone-surrogate", "nan", "infinity"],
)
def test_decode_json_only_lenient_parsers_read_is_unreadable(api: WireApi, data: bytes) -> None:
    raw = b"event: weird\ndata: " + data + b"\n\n"

    event = api.decode(frame(raw))

    assert event.type == UNREADABLE
    assert event.data is None
    assert api.encode(event) == raw


def test_chat_decode_a_payload_with_choices_is_a_chunk_whatever_its_object() -> None:
    for raw in (b'data: {"choices": []}\n\n', b'data: {"object": "x", "choices": []}\n\n'):
        assert OPENAI_CHAT.decode(frame(raw)).type == "chat.completion.chunk"


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_decode_non_json_data_is_unparsed_with_raw_kept(api: WireApi) -> None:
    raw = b"event: weird\ndata: not json {\n\n"

    event = api.decode(frame(raw))

    assert event.type == UNPARSED
    assert event.data is None
    assert event.raw == raw
    assert api.encode(event) == raw


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_decode_comment(api: WireApi) -> None:
    raw = b": keep-alive\n\n"

    event = api.decode(frame(raw))

    assert event.type == COMMENT
    assert event.data is None
    assert event.raw == raw
    assert not api.is_terminal(event)


@pytest.mark.parametrize("api", [ANTHROPIC_MESSAGES, OPENAI_RESPONSES], ids=API_IDS[::2])
def test_done_is_not_special_outside_chat(api: WireApi) -> None:
    event = api.decode(frame(b"data: [DONE]\n\n"))

    assert event.type == UNPARSED
    assert not api.is_terminal(event)


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_decode_json_scalar_payload_is_not_an_error(api: WireApi) -> None:
    event = api.decode(frame(b"data: 42\n\n"))

    assert event.data == 42
    assert event.type == UNPARSED


# --- encode -------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_encode_returns_raw_when_present(api: WireApi) -> None:
    raw = b'event: x\ndata:{"type":"x",  "spacing": "kept"}\r\n\r\n'

    assert api.encode(WireEvent("x", {"type": "x"}, "x", raw)) == raw


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_encode_without_raw_reserializes_named_event(api: WireApi) -> None:
    data = {"type": "content_block_delta", "delta": {"text": "héllo\nworld"}}

    out = api.encode(WireEvent("content_block_delta", data, "content_block_delta"))

    parsed = parse_frame(out)
    assert out.endswith(b"\n\n")
    assert parsed.event == "content_block_delta"
    assert parsed.data is not None
    assert orjson.loads(parsed.data) == data
    assert api.decode(frame(out)).data == data


def test_chat_encode_without_raw_has_no_event_line() -> None:
    data = {"object": "chat.completion.chunk", "choices": [{"delta": {"content": "x"}}]}

    out = OPENAI_CHAT.encode(WireEvent("chat.completion.chunk", data))

    assert not out.startswith(b"event:")
    decoded = OPENAI_CHAT.decode(frame(out))
    assert (decoded.type, decoded.data) == ("chat.completion.chunk", data)


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_encode_done_without_raw(api: WireApi) -> None:
    out = api.encode(WireEvent(DONE, None))

    assert out == b"data: [DONE]\n\n"
    assert OPENAI_CHAT.decode(frame(out)).type == DONE


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_encode_comment_without_raw(api: WireApi) -> None:
    out = api.encode(WireEvent(COMMENT, None))

    decoded = api.decode(frame(out))
    assert decoded.type == COMMENT


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_encode_response_body_without_raw_is_plain_json(api: WireApi) -> None:
    data = {"id": "msg_1", "content": [{"type": "text", "text": "hi"}]}

    out = api.encode(WireEvent(RESPONSE_BODY, data))

    assert orjson.loads(out) == data


def test_response_event_keeps_body_bytes() -> None:
    body = b'{ "id" : "x" }'

    event = response_event(body, {"id": "x"})

    assert event.type == RESPONSE_BODY
    assert event.raw == body
    assert ANTHROPIC_MESSAGES.encode(event) == body


# --- terminal events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "event_type", "terminal"),
    [
        (ANTHROPIC_MESSAGES, "message_stop", True),
        (ANTHROPIC_MESSAGES, "error", True),
        (ANTHROPIC_MESSAGES, "message_delta", False),
        (ANTHROPIC_MESSAGES, "content_block_stop", False),
        (ANTHROPIC_MESSAGES, DONE, False),
        (OPENAI_CHAT, DONE, True),
        (OPENAI_CHAT, "chat.completion.chunk", False),
        (OPENAI_CHAT, "error", True),
        (OPENAI_RESPONSES, "response.completed", True),
        (OPENAI_RESPONSES, "response.failed", True),
        (OPENAI_RESPONSES, "response.incomplete", True),
        (OPENAI_RESPONSES, "error", True),
        (OPENAI_RESPONSES, "response.output_text.done", False),
        (OPENAI_RESPONSES, "response.created", False),
    ],
)
def test_is_terminal(api: WireApi, event_type: str, terminal: bool) -> None:
    assert api.is_terminal(WireEvent(event_type, {})) is terminal


# --- errors -------------------------------------------------------------------------------------


def test_api_formats() -> None:
    assert ANTHROPIC_MESSAGES.format is WireFormat.ANTHROPIC
    assert OPENAI_CHAT.format is WireFormat.OPENAI
    assert OPENAI_RESPONSES.format is WireFormat.OPENAI


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_body_shapes(kind: ErrorKind) -> None:
    anthropic = ANTHROPIC_MESSAGES.error_body(kind, "m")
    assert anthropic["type"] == "error"
    assert set(anthropic["error"]) == {"type", "message"}
    assert isinstance(anthropic["error"]["type"], str)

    for api in (OPENAI_CHAT, OPENAI_RESPONSES):
        body = api.error_body(kind, "m")
        assert set(body) == {"error"}
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["param"] is None


def test_anthropic_stream_error_is_one_terminal_error_event() -> None:
    events = ANTHROPIC_MESSAGES.stream_error(ErrorKind.UPSTREAM_STREAM, "cut", None)

    (event,) = events
    assert event.type == "error"
    assert event.sse_event == "error"
    assert event.data["type"] == "error"
    assert event.data["error"]["type"] == ErrorKind.UPSTREAM_STREAM.value.anthropic_type
    assert ANTHROPIC_MESSAGES.is_terminal(event)
    decoded = ANTHROPIC_MESSAGES.decode(frame(ANTHROPIC_MESSAGES.encode(event)))
    assert (decoded.type, decoded.sse_event, decoded.data) == ("error", "error", event.data)


def test_chat_stream_error_is_error_chunk_then_done() -> None:
    events = OPENAI_CHAT.stream_error(ErrorKind.UPSTREAM_TIMEOUT, "slow", None)

    assert [event.type for event in events] == ["error", DONE]
    error_data = events[0].data
    assert error_data["error"]["code"] == ErrorKind.UPSTREAM_TIMEOUT.value.openai_code
    assert error_data["error"]["type"] == ErrorKind.UPSTREAM_TIMEOUT.value.openai_type
    assert OPENAI_CHAT.is_terminal(events[-1])

    stream = b"".join(OPENAI_CHAT.encode(event) for event in events)
    decoded = [OPENAI_CHAT.decode(parsed) for parsed in SSEParser().feed(stream)]
    assert [event.type for event in decoded] == ["error", DONE]
    assert decoded[0].data == error_data
    assert stream.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, 0),
        (WireEvent("response.created", {"type": "response.created", "sequence_number": 0}), 1),
        (WireEvent("response.output_text.delta", {"type": "x", "sequence_number": 41}), 42),
        (WireEvent("response.output_text.delta", {"type": "x"}), 0),
        (WireEvent("x", {"type": "x", "sequence_number": "7"}), 0),
    ],
)
def test_responses_stream_error_sequence_number(last: WireEvent | None, expected: int) -> None:
    (event,) = OPENAI_RESPONSES.stream_error(ErrorKind.UPSTREAM_STREAM, "cut", last)

    assert event.type == "error"
    assert event.sse_event == "error"
    assert event.data["type"] == "error"
    assert event.data["sequence_number"] == expected
    assert event.data["code"] == ErrorKind.UPSTREAM_STREAM.value.openai_code
    assert "message" in event.data
    assert OPENAI_RESPONSES.is_terminal(event)
    decoded = OPENAI_RESPONSES.decode(frame(OPENAI_RESPONSES.encode(event)))
    assert (decoded.type, decoded.data) == ("error", event.data)


def test_base_api_stream_error_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        WireApi().stream_error(ErrorKind.INTERNAL, "m", None)


# --- validate_request ---------------------------------------------------------------------------

MESSAGES_REQUIRED: dict[str, type] = {"model": str, "max_tokens": int, "messages": list}


@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_validate_request_accepts_valid_body(api: WireApi) -> None:
    body: dict[str, Any] = {"model": "m", "max_tokens": 5, "messages": [], "stream": True, "extra": 1}

    assert api.validate_request(body, MESSAGES_REQUIRED) is body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"max_tokens": 5, "messages": []}, id="missing-model"),
        pytest.param({"model": "m", "messages": []}, id="missing-max-tokens"),
        pytest.param({"model": 1, "max_tokens": 5, "messages": []}, id="model-not-string"),
        pytest.param({"model": "m", "max_tokens": "5", "messages": []}, id="max-tokens-string"),
        pytest.param({"model": "m", "max_tokens": 5.0, "messages": []}, id="max-tokens-float"),
        pytest.param({"model": "m", "max_tokens": True, "messages": []}, id="bool-is-not-int"),
        pytest.param({"model": "m", "max_tokens": 5, "messages": {}}, id="messages-not-list"),
        pytest.param({"model": None, "max_tokens": 5, "messages": []}, id="model-null"),
        pytest.param({"model": "m", "max_tokens": 5, "messages": [], "stream": "true"}, id="stream-str"),
        pytest.param({"model": "m", "max_tokens": 5, "messages": [], "stream": 1}, id="stream-int"),
        pytest.param([], id="array-body"),
        pytest.param("text", id="string-body"),
        pytest.param(None, id="null-body"),
        pytest.param(3, id="number-body"),
    ],
)
@pytest.mark.parametrize("api", ALL_APIS, ids=API_IDS)
def test_validate_request_rejects(api: WireApi, body: Any) -> None:
    with pytest.raises(GatewayError) as caught:
        api.validate_request(body, MESSAGES_REQUIRED)

    assert caught.value.kind is ErrorKind.INVALID_REQUEST
    assert caught.value.kind.status == 400


@pytest.mark.parametrize("stream", [True, False, None])
def test_validate_request_stream_may_be_bool_or_null(stream: bool | None) -> None:
    body = {"model": "m", "stream": stream}

    assert OPENAI_RESPONSES.validate_request(body, {"model": str}) == body


def test_validate_request_dict_field() -> None:
    with pytest.raises(GatewayError) as caught:
        OPENAI_RESPONSES.validate_request({"metadata": []}, {"metadata": dict})
    assert caught.value.kind is ErrorKind.INVALID_REQUEST

    assert OPENAI_RESPONSES.validate_request({"metadata": {}}, {"metadata": dict}) == {"metadata": {}}


def test_validate_request_zero_is_an_int() -> None:
    assert ANTHROPIC_MESSAGES.validate_request({"max_tokens": 0}, {"max_tokens": int}) == {"max_tokens": 0}
