"""Errors through a real Luthien server, in each client's own shape, before and during streams."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    Pause,
    RawReply,
    StreamReply,
    anthropic_error_body,
    anthropic_error_event,
    anthropic_message,
    anthropic_stream,
    chat_stream,
    openai_error_body,
    responses_error_event,
    responses_stream,
    sse_frame,
)
from tests.support.ports import free_port
from tests.support.servers import LuthienServer

Shape = Literal["anthropic", "openai"]
USER: Any = [{"role": "user", "content": "hi"}]
TRANSACTION_HEADER = "x-luthien-transaction-id"
# Short enough to keep the suite fast, long enough for loopback calls that do answer.
READ_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Api:
    """One model-call endpoint as the tests drive it."""

    name: str
    path: str
    body: dict[str, Any]
    shape: Shape
    streams: bool = True


MESSAGES = Api(
    "messages",
    "/v1/messages",
    {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": USER},
    "anthropic",
)
COUNT_TOKENS = Api(
    "count_tokens",
    "/v1/messages/count_tokens",
    {"model": "claude-sonnet-4-6", "messages": USER},
    "anthropic",
    streams=False,
)
CHAT = Api("chat", "/v1/chat/completions", {"model": "gpt-5", "messages": USER}, "openai")
RESPONSES = Api("responses", "/v1/responses", {"model": "gpt-5", "input": "hi"}, "openai")
ALL_APIS = [MESSAGES, COUNT_TOKENS, CHAT, RESPONSES]
STREAMING_APIS = [api for api in ALL_APIS if api.streams]


def api_params(apis: list[Api]) -> list[Any]:
    return [pytest.param(api, id=api.name) for api in apis]


def request_body(api: Api, stream: bool) -> dict[str, Any]:
    return {**api.body, "stream": True} if stream else dict(api.body)


def post(server: LuthienServer, api: Api, body: dict[str, Any] | bytes, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"content-type": "application/json", "x-api-key": "client-key"}
    return httpx.post(f"{server.base_url}{api.path}", content=content, headers=headers, **kwargs)


def upstream_error_body(shape: Shape, status: int) -> dict[str, Any]:
    if shape == "anthropic":
        error_type = {
            400: "invalid_request_error",
            401: "authentication_error",
            429: "rate_limit_error",
            500: "api_error",
            529: "overloaded_error",
        }[status]
        return anthropic_error_body(error_type, f"upstream says {status}", request_id="req_fixed")
    error_type = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        429: "requests",
        500: "server_error",
        529: "server_error",
    }[status]
    return openai_error_body(error_type, f"upstream says {status}", code=f"code_{status}")


def assert_error_shape(body: Any, shape: Shape, error_type: str, code: str | None = None) -> None:
    """`body` is the client's error shape with the given type (and, for OpenAI, code)."""
    if shape == "anthropic":
        assert set(body) == {"type", "error"}
        assert body["type"] == "error"
        assert set(body["error"]) == {"type", "message"}
        assert body["error"]["type"] == error_type
        assert isinstance(body["error"]["message"], str)
        assert body["error"]["message"]
        return
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == error_type
    assert body["error"]["code"] == code
    assert body["error"]["param"] is None
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def assert_json_error(
    response: httpx.Response, status: int, shape: Shape, anthropic_type: str, openai_type: str, code: str
) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    if shape == "anthropic":
        assert_error_shape(response.json(), shape, anthropic_type)
    else:
        assert_error_shape(response.json(), shape, openai_type, code)


@dataclass(frozen=True)
class Frame:
    """One parsed SSE frame."""

    event: str | None
    data: str | None

    def json(self) -> Any:
        assert self.data is not None
        return orjson.loads(self.data)


def parse_frames(raw: bytes) -> list[Frame]:
    """Parse an SSE body of frames ending in a blank line (Luthien and the fake end lines with LF)."""
    assert raw.endswith(b"\n\n")
    frames: list[Frame] = []
    for block in raw.decode("utf-8").split("\n\n")[:-1]:
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
        frames.append(Frame(event, "\n".join(data) if data else None))
    return frames


def stream_raw(server: LuthienServer, api: Api) -> tuple[httpx.Response, bytes]:
    """POST a streaming request and read the whole body."""
    body = orjson.dumps(request_body(api, stream=True))
    headers = {"content-type": "application/json", "x-api-key": "client-key"}
    with httpx.stream("POST", f"{server.base_url}{api.path}", content=body, headers=headers) as response:
        raw = b"".join(response.iter_bytes())
    return response, raw


def frames_for(api: Api) -> list[bytes]:
    if api is MESSAGES:
        return anthropic_stream("Hello there, how are you today?", text_chunks=4)
    if api is CHAT:
        return chat_stream("Hello there, how are you today?", text_chunks=4)
    return responses_stream("Hello there, how are you today?", text_chunks=4)


def assert_error_events(
    api: Api, tail: list[Frame], previous_sequence: int, anthropic_type: str, openai_code: str
) -> None:
    """`tail` is exactly the API's in-stream error event(s)."""
    if api is MESSAGES:
        assert len(tail) == 1
        assert tail[0].event == "error"
        assert_error_shape(tail[0].json(), "anthropic", anthropic_type)
    elif api is CHAT:
        assert len(tail) == 2
        assert tail[0].event is None
        assert_error_shape(tail[0].json(), "openai", "server_error", openai_code)
        assert tail[1] == Frame(None, "[DONE]")
    else:
        assert len(tail) == 1
        assert tail[0].event == "error"
        payload = tail[0].json()
        assert set(payload) == {"type", "code", "message", "param", "sequence_number"}
        assert payload["type"] == "error"
        assert payload["code"] == openai_code
        assert payload["param"] is None
        assert isinstance(payload["message"], str)
        assert payload["sequence_number"] == previous_sequence + 1


def last_sequence_number(sent: list[bytes]) -> int:
    """The Responses `sequence_number` of the last frame in `sent`; -1 when nothing was sent."""
    return parse_frames(sent[-1])[-1].json()["sequence_number"] if sent else -1


def assert_ends_with_error_event(
    api: Api, raw: bytes, sent: list[bytes], anthropic_type: str, openai_code: str
) -> None:
    """`raw` is exactly the `sent` frames followed by the API's in-stream error event(s)."""
    prefix = b"".join(sent)
    assert raw.startswith(prefix)
    tail = parse_frames(raw[len(prefix) :])
    previous = last_sequence_number(sent) if api is RESPONSES else -1
    assert_error_events(api, tail, previous, anthropic_type, openai_code)


# -- upstream HTTP errors ----------------------------------------------------------------------------

UPSTREAM_STATUSES = [400, 401, 429, 500, 529]


def api_stream_params() -> list[Any]:
    """Every endpoint unstreamed, and every streaming endpoint streamed."""
    plain = [pytest.param(api, False, id=f"{api.name}-plain") for api in ALL_APIS]
    streamed = [pytest.param(api, True, id=f"{api.name}-stream") for api in STREAMING_APIS]
    return plain + streamed


@pytest.mark.parametrize("status", UPSTREAM_STATUSES)
@pytest.mark.parametrize(("api", "stream"), api_stream_params())
def test_upstream_http_error_keeps_status_body_and_request_id(
    luthien: LuthienServer, fake: FakeProvider, api: Api, status: int, stream: bool
) -> None:
    error = upstream_error_body(api.shape, status)
    fake.enqueue(JSONReply(error, status=status, headers={"request-id": "req_up", "x-request-id": "req_up"}))

    response = post(luthien, api, request_body(api, stream))

    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == error
    assert response.headers["request-id"] == "req_up"
    assert len(fake.requests) == 1


ANTHROPIC_SDK_ERRORS: dict[int, type[anthropic.APIStatusError]] = {
    400: anthropic.BadRequestError,
    401: anthropic.AuthenticationError,
    429: anthropic.RateLimitError,
    500: anthropic.InternalServerError,
    529: anthropic.InternalServerError,
}
OPENAI_SDK_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    429: openai.RateLimitError,
    500: openai.InternalServerError,
    529: openai.InternalServerError,
}


def anthropic_client(server: LuthienServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="client-key", max_retries=0)


def openai_client(server: LuthienServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="client-key", max_retries=0)


def call_anthropic(client: anthropic.Anthropic, stream: bool) -> None:
    """One Messages call with the SDK, streaming or not, read to the end."""
    if stream:
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=USER) as events:
            events.get_final_message()
    else:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=USER)


def call_openai(client: openai.OpenAI, api: Api, stream: bool) -> None:
    """One Chat or Responses call with the SDK, streaming or not, read to the end."""
    if api is CHAT and stream:
        with client.chat.completions.stream(model="gpt-5", messages=USER) as chat_events:
            chat_events.get_final_completion()
    elif api is CHAT:
        client.chat.completions.create(model="gpt-5", messages=USER)
    elif stream:
        with client.responses.stream(model="gpt-5", input="hi") as response_events:
            response_events.get_final_response()
    else:
        client.responses.create(model="gpt-5", input="hi")


@pytest.mark.parametrize("status", UPSTREAM_STATUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_anthropic_sdk_raises_its_type_for_upstream_errors(
    luthien: LuthienServer, fake: FakeProvider, status: int, stream: bool
) -> None:
    error = upstream_error_body("anthropic", status)
    fake.enqueue(JSONReply(error, status=status, headers={"request-id": "req_up"}))

    with pytest.raises(ANTHROPIC_SDK_ERRORS[status]) as caught:
        call_anthropic(anthropic_client(luthien), stream)

    assert caught.value.status_code == status
    assert caught.value.body == error
    assert caught.value.type == error["error"]["type"]
    assert caught.value.request_id == "req_up"


@pytest.mark.parametrize("status", UPSTREAM_STATUSES)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("api", api_params([CHAT, RESPONSES]))
def test_openai_sdk_raises_its_type_for_upstream_errors(
    luthien: LuthienServer, fake: FakeProvider, api: Api, status: int, stream: bool
) -> None:
    error = upstream_error_body("openai", status)
    fake.enqueue(JSONReply(error, status=status, headers={"x-request-id": "req_up"}))

    with pytest.raises(OPENAI_SDK_ERRORS[status]) as caught:
        call_openai(openai_client(luthien), api, stream)

    assert caught.value.status_code == status
    assert caught.value.body == error["error"]
    assert caught.value.code == error["error"]["code"]
    assert caught.value.type == error["error"]["type"]
    assert caught.value.request_id == "req_up"


@pytest.mark.parametrize("api", api_params(ALL_APIS))
@pytest.mark.parametrize(
    ("status", "anthropic_type", "openai_type"),
    [(502, "api_error", "server_error"), (403, "invalid_request_error", "invalid_request_error")],
)
def test_non_json_upstream_error_is_wrapped_in_client_shape(
    luthien: LuthienServer,
    fake: FakeProvider,
    api: Api,
    status: int,
    anthropic_type: str,
    openai_type: str,
) -> None:
    html = b"<html><body><h1>Bad Gateway</h1></body></html>"
    fake.enqueue(RawReply(html, status=status, content_type="text/html"))

    response = post(luthien, api, api.body)

    code = "upstream_unavailable" if status >= 500 else "invalid_request"
    assert_json_error(response, status, api.shape, anthropic_type, openai_type, code)


def test_sdks_raise_status_error_for_non_json_upstream_error(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    fake.enqueue(RawReply(b"<html>502</html>", status=502, content_type="text/html"))
    with pytest.raises(anthropic.InternalServerError) as anthropic_caught:
        anthropic_client(luthien).messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    assert anthropic_caught.value.status_code == 502
    assert anthropic_caught.value.type == "api_error"

    fake.enqueue(RawReply(b"<html>502</html>", status=502, content_type="text/html"))
    with pytest.raises(openai.InternalServerError) as openai_caught:
        openai_client(luthien).chat.completions.create(model="gpt-5", messages=USER)
    assert openai_caught.value.status_code == 502
    assert openai_caught.value.code == "upstream_unavailable"


# -- unreachable and silent upstreams ---------------------------------------------------------------


@pytest.fixture
def unreachable(make_luthien: LuthienFactory) -> LuthienServer:
    port = free_port()
    return make_luthien(
        anthropic_base_url=f"http://127.0.0.1:{port}", openai_base_url=f"http://127.0.0.1:{port}/v1"
    )


@pytest.mark.parametrize(("api", "stream"), api_stream_params())
def test_unreachable_upstream_is_502(unreachable: LuthienServer, api: Api, stream: bool) -> None:
    response = post(unreachable, api, request_body(api, stream))

    assert_json_error(response, 502, api.shape, "api_error", "server_error", "upstream_unavailable")


@pytest.mark.parametrize(
    ("headers", "shape"),
    [({"anthropic-version": "2023-06-01"}, "anthropic"), ({}, "openai")],
    ids=["anthropic", "openai"],
)
def test_unreachable_upstream_model_list_is_502(
    unreachable: LuthienServer, headers: dict[str, str], shape: Shape
) -> None:
    response = httpx.get(f"{unreachable.base_url}/v1/models", headers=headers)

    assert_json_error(response, 502, shape, "api_error", "server_error", "upstream_unavailable")


def test_sdks_raise_status_error_for_unreachable_upstream(unreachable: LuthienServer) -> None:
    with pytest.raises(anthropic.InternalServerError) as anthropic_caught:
        anthropic_client(unreachable).messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    assert anthropic_caught.value.status_code == 502

    with pytest.raises(openai.InternalServerError) as openai_caught:
        openai_client(unreachable).responses.create(model="gpt-5", input="hi")
    assert openai_caught.value.status_code == 502
    assert openai_caught.value.code == "upstream_unavailable"


@pytest.mark.parametrize(("api", "stream"), api_stream_params())
def test_upstream_that_never_answers_is_504(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, stream: bool
) -> None:
    server = make_luthien(upstream_read_timeout_s=READ_TIMEOUT_S)
    fake.enqueue(HangReply())

    response = post(server, api, request_body(api, stream))

    assert_json_error(response, 504, api.shape, "timeout_error", "server_error", "upstream_timeout")
    assert len(fake.requests) == 1


def test_sdks_raise_gateway_timeout_for_silent_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(upstream_read_timeout_s=READ_TIMEOUT_S)
    fake.enqueue(HangReply())
    with pytest.raises(anthropic.InternalServerError) as anthropic_caught:
        anthropic_client(server).messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    assert anthropic_caught.value.status_code == 504
    assert anthropic_caught.value.type == "timeout_error"

    fake.enqueue(HangReply())
    with pytest.raises(openai.InternalServerError) as openai_caught:
        openai_client(server).chat.completions.create(model="gpt-5", messages=USER)
    assert openai_caught.value.status_code == 504
    assert openai_caught.value.code == "upstream_timeout"


# -- failures after the stream started ---------------------------------------------------------------

CUT_AFTER = [0, 1, 3]


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
@pytest.mark.parametrize("k", CUT_AFTER)
def test_cut_stream_ends_with_error_event(
    luthien: LuthienServer, fake: FakeProvider, api: Api, k: int
) -> None:
    sent = frames_for(api)[:k]
    fake.enqueue(StreamReply(sent, cut=True))

    response, raw = stream_raw(luthien, api)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert_ends_with_error_event(api, raw, sent, "api_error", "upstream_stream_error")


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
@pytest.mark.parametrize("k", CUT_AFTER)
def test_stream_ending_before_terminal_event_ends_with_error_event(
    luthien: LuthienServer, fake: FakeProvider, api: Api, k: int
) -> None:
    sent = frames_for(api)[:k]
    fake.enqueue(StreamReply(sent))

    response, raw = stream_raw(luthien, api)

    assert response.status_code == 200
    assert_ends_with_error_event(api, raw, sent, "api_error", "upstream_stream_error")


PARTIAL_FRAMES: dict[str, Callable[[bytes], bytes]] = {
    # The stream stops 20 bytes into its third frame.
    "mid-frame": lambda frame: frame[:20],
    # The third frame is whole but for the blank line that ends it.
    "no-blank-line": lambda frame: frame[:-1],
}


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
@pytest.mark.parametrize("partial", list(PARTIAL_FRAMES))
def test_stream_cut_inside_a_frame_ends_with_error_event(
    luthien: LuthienServer, fake: FakeProvider, api: Api, partial: str
) -> None:
    frames = frames_for(api)
    sent = frames[:2]
    fake.enqueue(StreamReply([*sent, PARTIAL_FRAMES[partial](frames[2])], cut=True))

    _, raw = stream_raw(luthien, api)

    assert_ends_with_error_event(api, raw, sent, "api_error", "upstream_stream_error")


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
@pytest.mark.parametrize("partial", list(PARTIAL_FRAMES))
def test_stream_ending_cleanly_inside_a_frame_ends_with_error_event(
    luthien: LuthienServer, fake: FakeProvider, api: Api, partial: str
) -> None:
    frames = frames_for(api)
    sent = frames[:2]
    fake.enqueue(StreamReply([*sent, PARTIAL_FRAMES[partial](frames[2])]))

    _, raw = stream_raw(luthien, api)

    # Whether the partial frame is dropped or closed off, the stream must end in a well-formed
    # error event after the complete frames.
    assert raw.startswith(b"".join(sent))
    received = parse_frames(raw)
    error_count = 2 if api is CHAT else 1
    # A closed-off final frame counts: the error is numbered after the last event the client got.
    previous = received[-error_count - 1].json()["sequence_number"] if api is RESPONSES else -1
    assert_error_events(api, received[-error_count:], previous, "api_error", "upstream_stream_error")


def test_anthropic_sdk_raises_when_stream_ends_inside_a_frame(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    frames = frames_for(MESSAGES)
    fake.enqueue(StreamReply([*frames[:3], frames[3][:20]]))
    client = anthropic_client(luthien)

    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=USER) as events,
    ):
        events.get_final_message()


def test_openai_chat_sdk_raises_api_error_when_stream_ends_inside_a_frame(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    frames = frames_for(CHAT)
    fake.enqueue(StreamReply([*frames[:2], frames[2][:20]]))
    chunks = openai_client(luthien).chat.completions.create(model="gpt-5", messages=USER, stream=True)

    with pytest.raises(openai.APIError):
        list(chunks)


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
def test_stream_missing_only_its_terminal_event_ends_with_error_event(
    luthien: LuthienServer, fake: FakeProvider, api: Api
) -> None:
    sent = frames_for(api)[:-1]
    fake.enqueue(StreamReply(sent))

    _, raw = stream_raw(luthien, api)

    assert_ends_with_error_event(api, raw, sent, "api_error", "upstream_stream_error")


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
@pytest.mark.parametrize("k", [1, 2])
def test_stream_going_silent_ends_with_timeout_error_event(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, k: int
) -> None:
    server = make_luthien(upstream_read_timeout_s=READ_TIMEOUT_S)
    frames = frames_for(api)
    sent = frames[:k]
    fake.enqueue(StreamReply([*sent, Pause(READ_TIMEOUT_S * 10), *frames[k:]]))

    response, raw = stream_raw(server, api)

    assert response.status_code == 200
    assert_ends_with_error_event(api, raw, sent, "timeout_error", "upstream_timeout")
    assert fake.wait_stream_closed(READ_TIMEOUT_S * 10)


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
def test_stream_silent_before_its_first_event_is_504(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    # Headers came, but no event within the first-byte timeout: nothing went to the client yet,
    # so it gets a plain 504 in its shape, and the upstream connection is closed.
    server = make_luthien(upstream_read_timeout_s=READ_TIMEOUT_S)
    fake.enqueue(StreamReply([Pause(READ_TIMEOUT_S * 10), *frames_for(api)]))

    response, raw = stream_raw(server, api)

    assert response.status_code == 504
    if api.shape == "anthropic":
        assert_error_shape(orjson.loads(raw), api.shape, "timeout_error")
    else:
        assert_error_shape(orjson.loads(raw), api.shape, "server_error", "upstream_timeout")
    assert fake.wait_stream_closed(READ_TIMEOUT_S * 10)


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
def test_complete_stream_has_no_error_event(luthien: LuthienServer, fake: FakeProvider, api: Api) -> None:
    frames = frames_for(api)
    fake.enqueue(StreamReply(frames))

    _, raw = stream_raw(luthien, api)

    assert raw == b"".join(frames)


@pytest.mark.parametrize("api", api_params(STREAMING_APIS))
def test_cut_after_terminal_event_adds_no_error_event(
    luthien: LuthienServer, fake: FakeProvider, api: Api
) -> None:
    frames = frames_for(api)
    trailing = sse_frame("ping", {"type": "ping"}) if api is MESSAGES else b": keep-alive\n\n"
    fake.enqueue(StreamReply([*frames, trailing], cut=True))

    _, raw = stream_raw(luthien, api)

    assert raw == b"".join([*frames, trailing])


def test_upstream_error_event_passes_through_as_the_end(luthien: LuthienServer, fake: FakeProvider) -> None:
    sent = [*anthropic_stream()[:3], anthropic_error_event("overloaded_error", "Overloaded")]
    fake.enqueue(StreamReply(sent))
    _, raw = stream_raw(luthien, MESSAGES)
    assert raw == b"".join(sent)

    frames = responses_stream()[:3]
    sent = [*frames, responses_error_event("server_error", "boom", sequence_number=3)]
    fake.enqueue(StreamReply(sent))
    _, raw = stream_raw(luthien, RESPONSES)
    assert raw == b"".join(sent)


@pytest.mark.parametrize("truncate", ["cut", "clean_end"])
def test_anthropic_sdk_raises_for_failed_stream(
    luthien: LuthienServer, fake: FakeProvider, truncate: str
) -> None:
    fake.enqueue(StreamReply(frames_for(MESSAGES)[:4], cut=truncate == "cut"))
    client = anthropic_client(luthien)

    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="claude-sonnet-4-6", max_tokens=100, messages=USER) as events,
    ):
        events.get_final_message()

    assert caught.value.type == "api_error"


@pytest.mark.parametrize("truncate", ["cut", "clean_end"])
def test_openai_chat_sdk_raises_for_failed_stream(
    luthien: LuthienServer, fake: FakeProvider, truncate: str
) -> None:
    fake.enqueue(StreamReply(frames_for(CHAT)[:3], cut=truncate == "cut"))
    client = openai_client(luthien)

    with (
        pytest.raises(openai.APIError) as caught,
        client.chat.completions.stream(model="gpt-5", messages=USER) as events,
    ):
        events.get_final_completion()

    assert caught.value.code == "upstream_stream_error"
    assert caught.value.type == "server_error"

    fake.enqueue(StreamReply(frames_for(CHAT)[:3], cut=truncate == "cut"))
    received: list[str] = []
    chunks = client.chat.completions.create(model="gpt-5", messages=USER, stream=True)
    with pytest.raises(openai.APIError) as raw_caught:
        received.extend(chunk.id for chunk in chunks)
    assert raw_caught.value.code == "upstream_stream_error"
    assert len(received) == 3


@pytest.mark.parametrize("truncate", ["cut", "clean_end"])
def test_openai_responses_sdk_surfaces_failed_stream(
    luthien: LuthienServer, fake: FakeProvider, truncate: str
) -> None:
    sent = frames_for(RESPONSES)[:4]
    fake.enqueue(StreamReply(sent, cut=truncate == "cut"))
    client = openai_client(luthien)

    with client.responses.stream(model="gpt-5", input="hi") as events:
        received = list(events)
        with pytest.raises(RuntimeError):
            events.get_final_response()

    assert [event.type for event in received[: len(sent)]] == [parse_frames(frame)[0].event for frame in sent]
    assert len(received) == len(sent) + 1
    error = received[-1]
    assert error.type == "error"
    assert error.sequence_number == len(sent)
    assert getattr(error, "code", None) == "upstream_stream_error"


def test_sdks_raise_for_silent_stream(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(upstream_read_timeout_s=READ_TIMEOUT_S)
    pause = Pause(READ_TIMEOUT_S * 10)

    frames = frames_for(MESSAGES)
    fake.enqueue(StreamReply([*frames[:3], pause, *frames[3:]]))
    with (
        pytest.raises(anthropic.APIStatusError) as anthropic_caught,
        anthropic_client(server).messages.stream(
            model="claude-sonnet-4-6", max_tokens=100, messages=USER
        ) as events,
    ):
        events.get_final_message()
    assert anthropic_caught.value.type == "timeout_error"

    frames = frames_for(CHAT)
    fake.enqueue(StreamReply([*frames[:3], pause, *frames[3:]]))
    with pytest.raises(openai.APIError) as openai_caught:
        list(openai_client(server).chat.completions.create(model="gpt-5", messages=USER, stream=True))
    assert openai_caught.value.code == "upstream_timeout"


# -- bad input ---------------------------------------------------------------------------------------


def bad_input_cases() -> list[Any]:
    cases: list[Any] = []

    def add(api: Api, name: str, body: bytes) -> None:
        cases.append(pytest.param(api, body, id=f"{api.name}-{name}"))

    def without(api: Api, field: str) -> bytes:
        return orjson.dumps({key: value for key, value in api.body.items() if key != field})

    def with_value(api: Api, field: str, value: Any) -> bytes:
        return orjson.dumps({**api.body, field: value})

    for api in ALL_APIS:
        add(api, "malformed-json", b'{"model": "x", ')
        add(api, "empty-body", b"")
        add(api, "array", orjson.dumps([api.body]))
        add(api, "string", b'"hello"')
        add(api, "null", b"null")
        if api is not RESPONSES:  # a Responses call naming a stored prompt has no model
            add(api, "missing-model", without(api, "model"))
        add(api, "model-number", with_value(api, "model", 5))
        add(api, "model-null", with_value(api, "model", None))
        add(api, "stream-string", with_value(api, "stream", "yes"))
        add(api, "stream-number", with_value(api, "stream", 1))
    for api in (MESSAGES, COUNT_TOKENS, CHAT):
        add(api, "missing-messages", without(api, "messages"))
        add(api, "messages-object", with_value(api, "messages", {"role": "user"}))
    add(MESSAGES, "missing-max_tokens", without(MESSAGES, "max_tokens"))
    add(MESSAGES, "max_tokens-string", with_value(MESSAGES, "max_tokens", "5"))
    add(MESSAGES, "max_tokens-true", with_value(MESSAGES, "max_tokens", True))
    add(MESSAGES, "max_tokens-float", with_value(MESSAGES, "max_tokens", 5.5))
    add(MESSAGES, "max_tokens-null", with_value(MESSAGES, "max_tokens", None))
    return cases


@pytest.mark.parametrize(("api", "body"), bad_input_cases())
def test_bad_input_is_400_in_client_shape_and_not_forwarded(
    luthien: LuthienServer, fake: FakeProvider, api: Api, body: bytes
) -> None:
    response = post(luthien, api, body)

    assert_json_error(
        response, 400, api.shape, "invalid_request_error", "invalid_request_error", "invalid_request"
    )
    assert fake.requests == []


def test_fields_an_endpoint_does_not_require_may_be_absent(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    # count_tokens takes no max_tokens; Responses takes no messages.
    assert post(luthien, COUNT_TOKENS, COUNT_TOKENS.body).status_code == 200
    assert post(luthien, RESPONSES, RESPONSES.body).status_code == 200
    assert post(luthien, MESSAGES, {**MESSAGES.body, "stream": False}).status_code == 200
    assert len(fake.requests) == 3


def test_sdks_raise_bad_request_for_invalid_body(luthien: LuthienServer, fake: FakeProvider) -> None:
    with pytest.raises(anthropic.BadRequestError) as anthropic_caught:
        anthropic_client(luthien).messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=USER, extra_body={"max_tokens": "5"}
        )
    assert anthropic_caught.value.status_code == 400
    assert anthropic_caught.value.type == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as openai_caught:
        openai_client(luthien).chat.completions.create(
            model="gpt-5", messages=USER, extra_body={"stream": "yes"}
        )
    assert openai_caught.value.status_code == 400
    assert openai_caught.value.code == "invalid_request"
    assert fake.requests == []


MAX_BYTES = 2048


def body_of_size(api: Api, size: int) -> bytes:
    """A valid request body of exactly `size` bytes."""
    base = orjson.dumps({**api.body, "metadata_padding": ""})
    body = orjson.dumps({**api.body, "metadata_padding": "x" * (size - len(base))})
    assert len(body) == size
    return body


@pytest.mark.parametrize("api", api_params(ALL_APIS))
def test_body_over_limit_is_413_and_not_forwarded(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    server = make_luthien(max_request_bytes=MAX_BYTES)

    response = post(server, api, body_of_size(api, MAX_BYTES + 1))

    assert_json_error(
        response, 413, api.shape, "request_too_large", "invalid_request_error", "request_too_large"
    )
    assert fake.requests == []

    at_limit = post(server, api, body_of_size(api, MAX_BYTES))

    assert at_limit.status_code == 200
    assert fake.requests[-1].body == body_of_size(api, MAX_BYTES)


def test_chunked_body_over_limit_is_413(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(max_request_bytes=MAX_BYTES)
    body = body_of_size(MESSAGES, MAX_BYTES * 2)

    def chunks() -> Any:
        for start in range(0, len(body), 256):
            yield body[start : start + 256]

    response = httpx.post(
        f"{server.base_url}{MESSAGES.path}", content=chunks(), headers={"content-type": "application/json"}
    )

    assert_json_error(
        response, 413, "anthropic", "request_too_large", "invalid_request_error", "request_too_large"
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nope"), ("POST", "/v1/unknown"), ("POST", "/v1/messages/extra"), ("GET", "/v2/messages")],
)
def test_unknown_path_is_404(luthien: LuthienServer, fake: FakeProvider, method: str, path: str) -> None:
    response = httpx.request(method, f"{luthien.base_url}{path}", json=MESSAGES.body)

    assert response.status_code == 404
    assert fake.requests == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/messages", "POST"),
        ("PUT", "/v1/chat/completions", "POST"),
        ("DELETE", "/v1/responses", "POST"),
        ("GET", "/v1/messages/count_tokens", "POST"),
        ("POST", "/health", "GET"),
        ("POST", "/v1/models", "GET"),
    ],
)
def test_wrong_method_is_405(
    luthien: LuthienServer, fake: FakeProvider, method: str, path: str, allowed: str
) -> None:
    response = httpx.request(method, f"{luthien.base_url}{path}")

    assert response.status_code == 405
    assert allowed in response.headers["allow"]
    assert fake.requests == []


# -- transaction ids ---------------------------------------------------------------------------------


def transaction_id(response: httpx.Response) -> uuid.UUID:
    return uuid.UUID(response.headers[TRANSACTION_HEADER])


def test_every_response_carries_a_distinct_transaction_id(luthien: LuthienServer, fake: FakeProvider) -> None:
    base = luthien.base_url
    calls: list[Callable[[], httpx.Response]] = [
        lambda: post(luthien, MESSAGES, MESSAGES.body),
        lambda: post(luthien, CHAT, CHAT.body),
        lambda: post(luthien, RESPONSES, b"{"),
        lambda: httpx.get(f"{base}/health"),
        lambda: httpx.get(f"{base}/"),
        lambda: httpx.head(f"{base}/"),
        lambda: httpx.get(f"{base}/v1/models"),
        lambda: httpx.get(f"{base}/v1/nope"),
        lambda: httpx.get(f"{base}/v1/messages"),
    ]
    fake.enqueue(JSONReply(upstream_error_body("anthropic", 429), status=429))
    statuses: list[int] = []
    ids: list[uuid.UUID] = []
    for call in calls:
        response = call()
        statuses.append(response.status_code)
        ids.append(transaction_id(response))
    with httpx.stream(
        "POST", f"{base}{MESSAGES.path}", json=request_body(MESSAGES, stream=True)
    ) as stream_response:
        stream_response.read()
        statuses.append(stream_response.status_code)
        ids.append(transaction_id(stream_response))

    assert statuses == [429, 200, 400, 200, 200, 200, 200, 404, 405, 200]
    assert all(value.version == 4 for value in ids)
    assert len(set(ids)) == len(ids)


def test_transaction_id_on_gateway_errors(unreachable: LuthienServer, fake: FakeProvider) -> None:
    first = post(unreachable, MESSAGES, MESSAGES.body)
    second = post(unreachable, MESSAGES, MESSAGES.body)

    assert first.status_code == second.status_code == 502
    assert transaction_id(first) != transaction_id(second)


def test_client_supplied_transaction_id_is_neither_forwarded_nor_echoed(
    luthien: LuthienServer, fake: FakeProvider
) -> None:
    supplied = str(uuid.uuid4())
    response = httpx.post(
        f"{luthien.base_url}{MESSAGES.path}", json=MESSAGES.body, headers={TRANSACTION_HEADER: supplied}
    )

    assert response.status_code == 200
    assert response.headers.get_list(TRANSACTION_HEADER) == [str(transaction_id(response))]
    assert str(transaction_id(response)) != supplied
    assert TRANSACTION_HEADER not in fake.requests[-1].headers


@pytest.mark.parametrize("reply", ["json", "stream", "error"])
def test_upstream_transaction_id_header_is_not_passed_back(
    luthien: LuthienServer, fake: FakeProvider, reply: str
) -> None:
    headers = {TRANSACTION_HEADER: "upstream-transaction"}
    if reply == "json":
        fake.enqueue(JSONReply(anthropic_message(), headers=headers))
    elif reply == "stream":
        fake.enqueue(StreamReply(anthropic_stream(), headers=headers))
    else:
        fake.enqueue(JSONReply(upstream_error_body("anthropic", 429), status=429, headers=headers))

    response = post(luthien, MESSAGES, request_body(MESSAGES, stream=reply == "stream"))

    assert len(response.headers.get_list(TRANSACTION_HEADER)) == 1
    assert transaction_id(response).version == 4
