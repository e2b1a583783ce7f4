"""Upstream errors reach a client of another API in the client's own error shape.

Before a stream: `translated_error` rewrites the error body (the status is kept), and the client's
SDK raises the error class of that status with the upstream's message. In a stream: the upstream's
error event (or a Responses `response.failed`) ends the client's stream with the client's own error
event, which its SDK raises.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.testing.fake_provider.anthropic_wire import anthropic_error_body
from luthien.testing.fake_provider.openai_chat_wire import openai_error_body
from luthien.testing.fake_provider.openai_responses_wire import responses_stream
from luthien.testing.fake_provider.script import ToolCall, sse_frame
from luthien.testing.streams import API_NAMES, WIRE_APIS, ApiName, ModelReply, error_reply, model_reply
from luthien.translation.errors import translated_error
from luthien.wire.errors import ErrorKind, GatewayError
from tests.unit.translation.sdk_views import MODEL, PROMPT, serve, translate, view

TOOL = ToolCall("call_wait", "Bash", {"command": "sleep 1"})
PAIRS = [(upstream, client) for upstream in API_NAMES for client in API_NAMES if upstream != client]
PAIR_IDS = [f"{upstream}-to-{client}" for upstream, client in PAIRS]


def _raised(client: ApiName, status: int, body: bytes, streaming: bool = False) -> Exception:
    """The exception the client's SDK raises for an answer of `status` with `body`."""
    url = serve(body, streaming, status)
    try:
        if client == "anthropic":
            with anthropic.Anthropic(base_url=url, api_key="k", max_retries=0) as sdk:
                if streaming:
                    with sdk.messages.stream(model=MODEL, max_tokens=10, messages=PROMPT) as stream:
                        stream.get_final_message()
                else:
                    sdk.messages.create(model=MODEL, max_tokens=10, messages=PROMPT)
        else:
            with openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as sdk:
                if client == "openai_chat":
                    if streaming:
                        with sdk.chat.completions.stream(model=MODEL, messages=PROMPT) as chat_stream:
                            chat_stream.get_final_completion()
                    else:
                        sdk.chat.completions.create(model=MODEL, messages=PROMPT)
                elif streaming:
                    # The Responses SDK yields an `error` event (it raises no exception of its own).
                    with sdk.responses.stream(model=MODEL, input="hi") as stream:
                        for event in stream:
                            if event.type == "error":
                                return openai.APIError(
                                    event.message, httpx2.Request("POST", url), body=event.to_dict()
                                )
                        stream.get_final_response()
                else:
                    sdk.responses.create(model=MODEL, input="hi")
    except Exception as error:  # the test asserts on the type the SDK chose
        return error
    raise AssertionError("the SDK accepted an error answer")


def _error_type(error: Exception) -> Any:
    """The error type (Anthropic) or code (OpenAI) the SDK surfaced."""
    if isinstance(error, anthropic.APIError):
        body: Any = error.body
        return (body.get("error") or body).get("type") if isinstance(body, dict) else None
    assert isinstance(error, openai.APIError)
    return error.code


UPSTREAM_ERRORS: dict[ApiName, tuple[int, dict[str, Any]]] = {
    "anthropic": (429, anthropic_error_body("rate_limit_error", "slow down")),
    "openai_chat": (429, openai_error_body("requests", "slow down", code="rate_limit_exceeded")),
    "openai_responses": (429, openai_error_body("requests", "slow down", code="rate_limit_exceeded")),
}


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_an_error_body_is_the_clients_error_of_the_same_kind(upstream: ApiName, client: ApiName) -> None:
    status, body = UPSTREAM_ERRORS[upstream]
    translated = translated_error(status, orjson.dumps(body), WIRE_APIS[upstream], WIRE_APIS[client])
    error = _raised(client, status, translated)
    sdk = anthropic if client == "anthropic" else openai
    assert isinstance(error, sdk.RateLimitError)
    assert _error_type(error) == ("rate_limit_error" if client == "anthropic" else "rate_limit_exceeded")
    assert "slow down" in str(error)


@pytest.mark.parametrize(
    ("status", "body", "anthropic_type"),
    [
        (503, b"<html>Service Unavailable</html>", "overloaded_error"),
        (418, b"", "invalid_request_error"),
        (500, b'{"error": {"message": "boom", "type": "weird"}}', "api_error"),
        (404, b'{"error": {"message": "no model", "code": "model_not_found"}}', "not_found_error"),
    ],
)
def test_an_openai_error_of_any_form_is_an_anthropic_error(
    status: int, body: bytes, anthropic_type: str
) -> None:
    translated = orjson.loads(
        translated_error(status, body, WIRE_APIS["openai_chat"], WIRE_APIS["anthropic"])
    )
    assert translated["type"] == "error"
    assert translated["error"]["type"] == anthropic_type
    assert translated["error"]["message"]


def test_openai_apis_share_their_error_body() -> None:
    body = orjson.dumps(openai_error_body("server_error", "boom"))
    assert translated_error(500, body, WIRE_APIS["openai_chat"], WIRE_APIS["openai_responses"]) == body


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_an_in_stream_error_ends_the_clients_stream_with_its_error(
    upstream: ApiName, client: ApiName
) -> None:
    data = translate(error_reply(upstream, text="partial answer "), client)
    error = _raised(client, 200, data, streaming=True)
    sdk = anthropic if client == "anthropic" else openai
    assert isinstance(error, sdk.APIError)
    expected = {"anthropic": "overloaded_error", "openai_chat": "api_error", "openai_responses": "api_error"}
    if client == "anthropic":
        assert _error_type(error) == expected[upstream]
    else:
        assert _error_type(error) == ("overloaded" if upstream == "anthropic" else "internal_error")


@pytest.mark.parametrize("client", ["anthropic", "openai_chat"])
def test_a_failed_response_is_the_clients_in_stream_error(client: ApiName) -> None:
    frames = responses_stream("never finished", status="failed")
    data = translate(ModelReply("openai_responses", frames=tuple(frames)), client)
    error = _raised(client, 200, data, streaming=True)
    assert isinstance(error, anthropic.APIError if client == "anthropic" else openai.APIError)


def test_a_stream_cut_short_ends_with_the_clients_error() -> None:
    frames = error_reply("anthropic", text="partial ").frames[:-1]  # no error event: just cut
    data = translate(ModelReply("anthropic", frames=frames), "openai_chat")
    assert data.endswith(b"data: [DONE]\n\n")
    assert isinstance(_raised("openai_chat", 200, data, streaming=True), openai.APIError)


def test_a_translated_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(GatewayError):
        translate(ModelReply("openai_chat", body=b"<html>oops</html>"), "anthropic")


def test_a_chat_stream_without_done_still_ends_well_formed() -> None:
    from luthien.testing.fake_provider.openai_chat_wire import chat_stream

    reply = ModelReply("openai_chat", frames=tuple(chat_stream("no done", done=False)))
    assert view("anthropic", translate(reply, "anthropic"), True).text == "no done"


def test_a_frame_luthien_cannot_read_ends_the_translated_stream_with_an_error() -> None:
    frames = model_reply("anthropic", "never read").frames
    unreadable = b'event: content_block_delta\ndata: {"type": "content_block_delta", "t": "\\ud800"}\n\n'
    data = translate(ModelReply("anthropic", frames=(frames[0], unreadable, *frames[1:])), "openai_chat")
    assert data.endswith(b"data: [DONE]\n\n")
    assert b"never read" not in data
    assert isinstance(_raised("openai_chat", 200, data, streaming=True), openai.APIError)


def test_an_output_item_luthien_cannot_interpret_ends_the_translated_stream_with_an_error() -> None:
    frames = list(model_reply("openai_responses", "hi").frames)
    strange = {
        "type": "response.output_item.added",
        "output_index": 5,
        "item": {"type": "teleport", "id": "t"},
    }
    frames.insert(2, sse_frame("response.output_item.added", {**strange, "sequence_number": 2}))
    data = translate(ModelReply("openai_responses", frames=tuple(frames)), "anthropic")
    assert isinstance(_raised("anthropic", 200, data, streaming=True), anthropic.APIError)


@pytest.mark.parametrize(
    "body",
    [b'{"id": "x", "choices": [], "note": "\\ud800"}', b'{"id": "r", "output": [{"type": "teleport"}]}'],
    ids=["unreadable", "uninterpretable"],
)
def test_a_body_luthien_cannot_read_is_refused(body: bytes) -> None:
    upstream: ApiName = "openai_chat" if b"choices" in body else "openai_responses"
    with pytest.raises(GatewayError) as refused:
        translate(ModelReply(upstream, body=body), "anthropic")
    assert refused.value.kind is ErrorKind.UPSTREAM_UNAVAILABLE


def test_events_after_the_upstream_end_are_not_sent() -> None:
    frames = model_reply("anthropic", "the end").frames
    late = [
        sse_frame(
            "content_block_start",
            {"type": "content_block_start", "index": 9, "content_block": {"type": "text", "text": ""}},
        ),
        sse_frame(
            "content_block_delta",
            {"type": "content_block_delta", "index": 9, "delta": {"type": "text_delta", "text": "LATE"}},
        ),
    ]
    data = translate(ModelReply("anthropic", frames=(*frames, *late)), "openai_chat")
    assert b"LATE" not in data
    assert view("openai_chat", data, True).text == "the end"


def test_a_keepalive_held_with_an_unfinished_tool_call_still_goes_out() -> None:
    frames = [
        frame
        for frame in model_reply("openai_chat", "", tool_calls=[TOOL]).frames
        if b'finish_reason":"tool' not in frame
    ]
    cut = tuple(frame for frame in frames if b"[DONE]" not in frame and b'"usage":{' not in frame)
    data = translate(ModelReply("openai_chat", frames=(*cut, b": waiting\n\n")), "anthropic")
    assert ANTHROPIC_MESSAGES.keepalive in data
    assert isinstance(_raised("anthropic", 200, data, streaming=True), anthropic.APIError)
