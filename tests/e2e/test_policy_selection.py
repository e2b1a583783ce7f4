"""Which policy serves a call, and what a client sees when a policy fails, through a real server.

- `LUTHIEN_TEST_POLICY` overrides the config's `policy`.
- The `X-Luthien-Policy` request header is honoured only when allowed, and only for configured names
  (an unknown name is a 400 in the client's shape and nothing goes upstream); when not allowed it is
  ignored, with one warning per server.
- Every policy-applied answer carries `x-luthien-policy`.
- A policy failing closed on the request is a 500 in the client's shape; a response hook failing
  before the first byte is an HTTP error, after streaming started an in-stream error event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import httpx
import orjson
import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import BlockDelta, BlockKind, CallEvent, MessageStart
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.gateway.state import GatewayState
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind
from luthien.wire.events import DONE, WireEvent
from luthien.wire.sse import SSEParser
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    Reply,
    StreamReply,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    response_object,
    responses_stream,
)
from tests.support.servers import LuthienServer

TEXT = "Paris in spring."
POLICY_HEADER = "x-luthien-policy"
TRANSACTION_HEADER = "x-luthien-transaction-id"


# --- test policies (loaded by the server as `tests.e2e.test_policy_selection:<Class>`) ---------


class PolicyBug(Exception):
    """What the failing test policies raise."""


class FailOnRequest(Policy[PolicyConfig]):
    """Raises in `on_request`."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        raise PolicyBug("request hook failed")


class FailOnMessageStart(Policy[PolicyConfig]):
    """Raises on the first response event, before anything was sent."""

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        raise PolicyBug("message start failed")


class FailOnSecondTextDelta(Policy[PolicyConfig]):
    """Passes the first text delta, raises on the second (the stream has started by then)."""

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.kind is BlockKind.TEXT:
            ctx.state["text_deltas"] = ctx.state.get("text_deltas", 0) + 1
            if ctx.state["text_deltas"] == 2:
                raise PolicyBug("second delta failed")
        return [event]


HERE = "tests.e2e.test_policy_selection"
CONFIG = LuthienConfig.model_validate(
    {
        "policy": "redact",
        "policies": {
            "redact": {
                "class": "string_replace",
                "config": {"replacements": [{"find": "Paris", "replace": "Lyon"}]},
            },
            "shout": {"class": "all_caps"},
            "fail_request": {"class": f"{HERE}:FailOnRequest"},
            "fail_request_open": {"class": f"{HERE}:FailOnRequest", "config": {"on_error": "pass"}},
            "fail_start": {"class": f"{HERE}:FailOnMessageStart"},
            "fail_mid": {"class": f"{HERE}:FailOnSecondTextDelta"},
            "fail_mid_open": {"class": f"{HERE}:FailOnSecondTextDelta", "config": {"on_error": "pass"}},
        },
    }
)


# --- the three APIs, driven with plain HTTP to see statuses, headers and frames ----------------


@dataclass(frozen=True)
class Api:
    """One client API as these tests drive it."""

    name: str
    path: str
    wire: WireApi
    shape: Literal["anthropic", "openai"]
    body: dict[str, Any]
    reply: Callable[[str, bool], Reply]
    text_of: Callable[[Any], str]


def _anthropic_reply(text: str, streaming: bool) -> Reply:
    return (
        StreamReply(anthropic_stream(text, text_chunks=3))
        if streaming
        else JSONReply(anthropic_message(text))
    )


def _chat_reply(text: str, streaming: bool) -> Reply:
    return StreamReply(chat_stream(text, text_chunks=3)) if streaming else JSONReply(chat_completion(text))


def _responses_reply(text: str, streaming: bool) -> Reply:
    return (
        StreamReply(responses_stream(text, text_chunks=3)) if streaming else JSONReply(response_object(text))
    )


MESSAGES = Api(
    "messages",
    "/v1/messages",
    ANTHROPIC_MESSAGES,
    "anthropic",
    {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
    _anthropic_reply,
    lambda body: body["content"][0]["text"],
)
CHAT = Api(
    "chat",
    "/v1/chat/completions",
    OPENAI_CHAT,
    "openai",
    {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]},
    _chat_reply,
    lambda body: body["choices"][0]["message"]["content"],
)
RESPONSES = Api(
    "responses",
    "/v1/responses",
    OPENAI_RESPONSES,
    "openai",
    {"model": "gpt-5", "input": "hi"},
    _responses_reply,
    lambda body: body["output"][0]["content"][0]["text"],
)
APIS = [pytest.param(api, id=api.name) for api in (MESSAGES, CHAT, RESPONSES)]
STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "whole"])


def call(
    server: LuthienServer, api: Api, *, policy: str | None = None, streaming: bool = False
) -> httpx.Response:
    headers = {POLICY_HEADER: policy} if policy is not None else {}
    body = {**api.body, "stream": True} if streaming else api.body
    return httpx.post(f"{server.base_url}{api.path}", json=body, headers=headers)


def answer_text(api: Api, response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return api.text_of(response.json())


def assert_error_shape(api: Api, body: Any, kind: ErrorKind) -> None:
    if api.shape == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == kind.value.anthropic_type
        assert isinstance(body["error"]["message"], str)
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert (body["error"]["type"], body["error"]["code"]) == (
            kind.value.openai_type,
            kind.value.openai_code,
        )


def stream_events(api: Api, data: bytes) -> list[WireEvent]:
    parser = SSEParser()
    events = [api.wire.decode(frame) for frame in parser.feed(data)]
    assert parser.finish() is None
    return events


def activity(server: LuthienServer, transaction_id: str, type: str) -> list[dict[str, Any]]:
    state = cast(GatewayState, server.app.state.gateway)
    return [event.data for event in state.activity.events(transaction_id=transaction_id, type=type)]


# --- choosing the policy ----------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_config_policy_serves_by_default(make_luthien: LuthienFactory, fake: FakeProvider, api: Api) -> None:
    server = make_luthien(config=CONFIG)
    fake.enqueue(api.reply(TEXT, False))

    response = call(server, api)

    assert answer_text(api, response) == "Lyon in spring."
    assert response.headers[POLICY_HEADER] == "redact"


@pytest.mark.parametrize(
    ("test_policy", "expected"), [("all_caps", "PARIS IN SPRING."), ("shout", "PARIS IN SPRING.")]
)
def test_test_policy_overrides_the_config_policy(
    make_luthien: LuthienFactory, fake: FakeProvider, test_policy: str, expected: str
) -> None:
    server = make_luthien(config=CONFIG, test_policy=test_policy)
    fake.enqueue(MESSAGES.reply(TEXT, False))

    response = call(server, MESSAGES)

    assert answer_text(MESSAGES, response) == expected
    assert response.headers[POLICY_HEADER] == test_policy


@pytest.mark.parametrize("api", APIS)
@STREAMING
def test_header_chooses_a_configured_policy_when_allowed(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, streaming: bool
) -> None:
    server = make_luthien(config=CONFIG, allow_policy_header=True)
    fake.enqueue(api.reply(TEXT, False), api.reply(TEXT, False))

    chosen = call(server, api, policy="shout")
    default = call(server, api)

    assert answer_text(api, chosen) == "PARIS IN SPRING."
    assert chosen.headers[POLICY_HEADER] == "shout"
    assert answer_text(api, default) == "Lyon in spring."
    assert default.headers[POLICY_HEADER] == "redact"
    if streaming:
        fake.enqueue(api.reply(TEXT, True))
        with httpx.stream(
            "POST",
            f"{server.base_url}{api.path}",
            json={**api.body, "stream": True},
            headers={POLICY_HEADER: "shout"},
        ) as response:
            data = response.read()
            assert response.headers[POLICY_HEADER] == "shout"
        assert b"PARIS" in data
        assert b"Paris" not in data


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("name", ["no_such_policy", "debug_logging", "", "REDACT"])
def test_header_naming_an_unconfigured_policy_is_a_400(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, name: str
) -> None:
    # `debug_logging` is registered, but this server's config does not define it.
    server = make_luthien(config=CONFIG, allow_policy_header=True)

    response = call(server, api, policy=name, streaming=True)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert_error_shape(api, response.json(), ErrorKind.INVALID_REQUEST)
    assert TRANSACTION_HEADER in response.headers
    assert fake.requests == []


@pytest.mark.parametrize("api", APIS)
def test_header_is_ignored_when_not_allowed_with_one_warning(
    make_luthien: LuthienFactory, fake: FakeProvider, caplog: pytest.LogCaptureFixture, api: Api
) -> None:
    caplog.set_level(logging.WARNING, logger="luthien.gateway")
    server = make_luthien(config=CONFIG)
    fake.enqueue(*(api.reply(TEXT, False) for _ in range(3)))

    responses = [call(server, api, policy=name) for name in ("shout", "no_such_policy", "redact")]

    assert [answer_text(api, response) for response in responses] == ["Lyon in spring."] * 3
    assert [response.headers[POLICY_HEADER] for response in responses] == ["redact"] * 3
    warnings = [r for r in caplog.records if r.name == "luthien.gateway" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert len(fake.requests) == 3


def test_warning_is_not_logged_without_the_header(
    make_luthien: LuthienFactory, fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="luthien.gateway")
    server = make_luthien(config=CONFIG)
    fake.enqueue(MESSAGES.reply(TEXT, False))

    assert call(server, MESSAGES).status_code == 200

    assert not [r for r in caplog.records if r.name == "luthien.gateway" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("api", APIS)
@STREAMING
def test_every_policy_applied_answer_names_the_policy(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, streaming: bool
) -> None:
    server = make_luthien()  # no config: the default noop policy
    fake.enqueue(api.reply(TEXT, streaming))

    response = call(server, api, streaming=streaming)

    assert response.status_code == 200
    assert response.headers[POLICY_HEADER] == "noop"


def test_token_counting_applies_no_policy(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(config=CONFIG, allow_policy_header=True)

    response = httpx.post(
        f"{server.base_url}/v1/messages/count_tokens",
        json={"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "hi"}]},
        headers={POLICY_HEADER: "no_such_policy"},
    )

    assert response.status_code == 200
    assert POLICY_HEADER not in response.headers


# --- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
@STREAMING
def test_request_hook_failing_closed_is_a_500_and_nothing_goes_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, streaming: bool
) -> None:
    server = make_luthien(config=CONFIG, test_policy="fail_request")

    response = call(server, api, streaming=streaming)

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert_error_shape(api, response.json(), ErrorKind.POLICY)
    assert response.headers[POLICY_HEADER] == "fail_request"
    assert fake.requests == []
    (error,) = activity(server, response.headers[TRANSACTION_HEADER], "policy.error")
    assert (error["hook"], error["error"], error["on_error"]) == ("on_request", "PolicyBug", "fail")


@pytest.mark.parametrize("api", APIS)
def test_request_hook_failing_open_forwards_the_request_unchanged(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    server = make_luthien(config=CONFIG, test_policy="fail_request_open")
    fake.enqueue(api.reply(TEXT, False))
    raw = orjson.dumps(api.body)

    response = httpx.post(
        f"{server.base_url}{api.path}", content=raw, headers={"content-type": "application/json"}
    )

    assert answer_text(api, response) == TEXT
    assert fake.requests[-1].body == raw
    (error,) = activity(server, response.headers[TRANSACTION_HEADER], "policy.error")
    assert error["on_error"] == "pass"


@pytest.mark.parametrize("api", APIS)
@STREAMING
def test_response_hook_failing_before_the_first_byte_is_an_http_error(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, streaming: bool
) -> None:
    server = make_luthien(config=CONFIG, test_policy="fail_start")
    fake.enqueue(api.reply(TEXT, streaming))

    response = call(server, api, streaming=streaming)

    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert_error_shape(api, response.json(), ErrorKind.POLICY)
    assert response.headers[POLICY_HEADER] == "fail_start"
    (error,) = activity(server, response.headers[TRANSACTION_HEADER], "policy.error")
    assert (error["hook"], error["on_error"]) == ("on_message_start", "fail")


@pytest.mark.parametrize("api", APIS)
def test_response_hook_failing_mid_stream_ends_the_stream_with_an_error_event(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    server = make_luthien(config=CONFIG, test_policy="fail_mid")
    fake.enqueue(api.reply("one two three", True))

    with httpx.stream("POST", f"{server.base_url}{api.path}", json={**api.body, "stream": True}) as response:
        data = response.read()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers[POLICY_HEADER] == "fail_mid"
    events = stream_events(api, data)
    assert events
    assert api.wire.is_terminal(events[-1])
    if api.wire is OPENAI_CHAT:
        assert [event.type for event in events[-2:]] == ["error", DONE]
        error_event = events[-2]
        assert_error_shape(api, error_event.data, ErrorKind.POLICY)
    elif api.wire is ANTHROPIC_MESSAGES:
        assert events[-1].type == "error"
        assert_error_shape(api, events[-1].data, ErrorKind.POLICY)
        assert "message_stop" not in [event.type for event in events]
    else:
        error_event = events[-1]
        assert error_event.type == "error"
        assert error_event.data["code"] == ErrorKind.POLICY.value.openai_code
        numbers = [event.data["sequence_number"] for event in events]
        assert numbers == list(range(len(events)))
    # The first text delta was sent before the failure.
    assert b"one" in data
    (error,) = activity(server, response.headers[TRANSACTION_HEADER], "policy.error")
    assert (error["hook"], error["on_error"]) == ("on_block_delta", "fail")


@pytest.mark.parametrize("api", APIS)
def test_response_hook_failing_open_passes_the_rest_unchanged(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    server = make_luthien(config=CONFIG, test_policy="fail_mid_open")
    reply = api.reply("one two three", True)
    assert isinstance(reply, StreamReply)
    fake.enqueue(reply)

    response = call(server, api, streaming=True)

    assert response.status_code == 200
    # The policy changed nothing before it failed, and nothing is changed after: byte-identical.
    assert response.content == b"".join(frame for frame in reply.frames if isinstance(frame, bytes))
    (error,) = activity(server, response.headers[TRANSACTION_HEADER], "policy.error")
    assert (error["hook"], error["on_error"]) == ("on_block_delta", "pass")
