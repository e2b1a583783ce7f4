"""`defer_to_trusted` through a real Luthien server, the fake provider serving all three models.

The agent's (untrusted) model asks for `rm -rf /`; the judge flags it; the trusted model answers
the same request with text and a safe call. The client must get one well-formed turn: the untrusted
text, the marker, the trusted text and call, the trusted stop reason, and never the dangerous call.
Raw HTTP checks the bytes in every API, streaming and not; the official SDKs must accept the turn.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import Message, MessageParam, TextBlock, ToolUseBlock
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from openai.types.responses import ResponseFunctionToolCall

from luthien.config import ConfigError, LuthienConfig
from luthien.policy.registry import build_policies
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    Gate,
    HangReply,
    JSONReply,
    ReceivedRequest,
    Reply,
    StreamReply,
    ToolCall,
    anthropic_error_body,
    anthropic_stream,
)
from tests.support.codec_streams import sse_data
from tests.support.control_models import (
    DANGER,
    LS,
    MARKER_TEXT,
    READ,
    RM,
    SAFE,
    TRUSTED_MODEL,
    TRUSTED_TEXT,
    UNTRUSTED_TEXT,
    Models,
    defer_config,
    trusted_requests,
    untrusted_requests,
)
from tests.support.judge_calls import (
    ALL_CLIENTS,
    BLOCKED_HEADLINE,
    CLIENT_KEY,
    CLIENT_TIMEOUT_S,
    END_STOP,
    PATHS,
    TOOL_STOP,
    Api,
    assert_call,
    decisions,
    outcome_of,
    request_for,
)
from tests.support.records import record_of
from tests.support.servers import LuthienServer

TRUSTED_UPSTREAM: dict[Api, str] = {"anthropic": "anthropic", "chat": "openai", "responses": "openai"}


def post(server: LuthienServer, api: Api, stream: bool) -> httpx.Response:
    body, headers = request_for(api, stream, (("user", "Please tidy up the repository."),))
    return httpx.post(server.base_url + PATHS[api], json=body, headers=headers, timeout=CLIENT_TIMEOUT_S)


def answers(server: LuthienServer) -> list[dict[str, Any]]:
    return decisions(server, "defer.trusted_answer")


@ALL_CLIENTS
def test_a_flagged_call_is_replaced_by_the_trusted_models_answer(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, stream: bool
) -> None:
    models = Models()
    fake.respond_with(models)
    server = make_luthien(defer_config(TRUSTED_UPSTREAM[api]))

    response = post(server, api, stream)

    assert DANGER not in response.text
    outcome = outcome_of(api, stream, response)
    assert outcome.text.startswith(UNTRUSTED_TEXT)
    assert MARKER_TEXT in outcome.text
    assert outcome.text.endswith(TRUSTED_TEXT)
    assert (
        outcome.text.index(UNTRUSTED_TEXT)
        < outcome.text.index(MARKER_TEXT)
        < outcome.text.index(TRUSTED_TEXT)
    )
    (call,) = outcome.calls
    assert_call(call, SAFE)
    assert outcome.stop == TOOL_STOP[api]
    # The trusted model got the client's request, for its own model, not streaming.
    (asked,) = trusted_requests(fake.requests)
    (original,) = untrusted_requests(fake.requests)
    assert asked["stream"] is False
    assert {**asked, "model": original["model"], "stream": original["stream"]} == original
    (decision,) = decisions(server)
    assert decision["blocked"] is True
    assert decision["tool_call_id"] == RM.id
    (answer,) = answers(server)
    assert answer["error"] is None
    assert answer["model"] == TRUSTED_MODEL
    assert answer["tool_calls"] == [{"tool": "Bash", "tool_call_id": RM.id, "judged": "flagged"}]
    assert [block["type"] for block in answer["blocks"]] == ["text", "tool_call"]
    assert answer["blocks"][1]["id"] == SAFE.id
    assert isinstance(answer["response_id"], str)


@pytest.mark.parametrize("api", ["anthropic", "chat"])
def test_a_harmless_turn_goes_out_as_the_untrusted_model_wrote_it(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    fake.respond_with(Models(untrusted=[[LS, READ]]))
    server = make_luthien(defer_config(TRUSTED_UPSTREAM[api]))

    outcome = outcome_of(api, True, post(server, api, True))

    assert outcome.text == UNTRUSTED_TEXT
    assert [call.id for call in outcome.calls] == [LS.id, READ.id]
    assert_call(outcome.calls[1], READ)
    assert outcome.stop == TOOL_STOP[api]
    assert trusted_requests(fake.requests) == []
    assert answers(server) == []


def test_the_whole_turn_is_replaced_even_its_harmless_calls(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    fake.respond_with(Models(untrusted=[[LS, RM]]))
    server = make_luthien(defer_config("anthropic"))

    outcome = outcome_of("anthropic", True, post(server, "anthropic", True))

    assert [call.id for call in outcome.calls] == [SAFE.id]
    (answer,) = answers(server)
    assert answer["tool_calls"] == [
        {"tool": "Bash", "tool_call_id": LS.id, "judged": "passed"},
        {"tool": "Bash", "tool_call_id": RM.id, "judged": "flagged"},
    ]


def test_two_flagged_calls_ask_the_trusted_model_once(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    second = ToolCall("toolu_01RmRfHome", "Bash", {"command": "rm -rf ~"})
    fake.respond_with(Models(untrusted=[[RM, second]]))
    server = make_luthien(defer_config("openai"))

    outcome = outcome_of("chat", False, post(server, "chat", False))

    assert [call.id for call in outcome.calls] == [SAFE.id]
    assert len(trusted_requests(fake.requests)) == 1


# -- the official SDKs accept the turn -------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_anthropic_sdk_accepts_the_deferred_turn(
    make_luthien: LuthienFactory, fake: FakeProvider, stream: bool
) -> None:
    fake.respond_with(Models())
    server = make_luthien(defer_config("anthropic"))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-client", max_retries=0)
    user: list[MessageParam] = [{"role": "user", "content": "Please tidy up the repository."}]
    message: Message
    if stream:
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=1024, messages=user) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(model="claude-sonnet-4-6", max_tokens=1024, messages=user)

    texts = [block.text for block in message.content if isinstance(block, TextBlock)]
    calls = [block for block in message.content if isinstance(block, ToolUseBlock)]
    assert texts[0] == UNTRUSTED_TEXT
    assert MARKER_TEXT in "".join(texts)
    assert texts[-1] == TRUSTED_TEXT
    assert [(call.id, call.name, call.input) for call in calls] == [(SAFE.id, SAFE.name, SAFE.arguments)]
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_openai_chat_sdk_accepts_the_deferred_turn(
    make_luthien: LuthienFactory, fake: FakeProvider, stream: bool
) -> None:
    fake.respond_with(Models())
    server = make_luthien(defer_config("openai"))
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-client", max_retries=0)
    messages: Any = [{"role": "user", "content": "Please tidy up the repository."}]
    if stream:
        with client.chat.completions.stream(model="gpt-5", messages=messages) as events:
            completion = events.get_final_completion()
    else:
        completion = client.chat.completions.create(model="gpt-5", messages=messages)

    (choice,) = completion.choices
    content = choice.message.content or ""
    assert content.startswith(UNTRUSTED_TEXT)
    assert MARKER_TEXT in content
    assert content.endswith(TRUSTED_TEXT)
    (call,) = choice.message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        SAFE.id,
        SAFE.name,
        SAFE.arguments,
    )
    assert choice.finish_reason == "tool_calls"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "create"])
def test_openai_responses_sdk_accepts_the_deferred_turn(
    make_luthien: LuthienFactory, fake: FakeProvider, stream: bool
) -> None:
    fake.respond_with(Models())
    server = make_luthien(defer_config("openai"))
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-client", max_retries=0)
    if stream:
        with client.responses.stream(model="gpt-5", input="Please tidy up the repository.") as events:
            response = events.get_final_response()
    else:
        response = client.responses.create(model="gpt-5", input="Please tidy up the repository.")

    assert response.output_text.startswith(UNTRUSTED_TEXT)
    assert MARKER_TEXT in response.output_text
    assert response.output_text.endswith(TRUSTED_TEXT)
    calls = [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]
    assert [(call.call_id, call.name, json.loads(call.arguments)) for call in calls] == [
        (SAFE.id, SAFE.name, SAFE.arguments)
    ]
    assert response.status == "completed"


# -- fail-secure -------------------------------------------------------------------------------------


@ALL_CLIENTS
def test_trusted_model_down_blocks_the_flagged_call(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api, stream: bool
) -> None:
    fake.respond_with(Models(trusted=JSONReply(anthropic_error_body("api_error", "down"), status=500)))
    server = make_luthien(defer_config(TRUSTED_UPSTREAM[api]))

    outcome = outcome_of(api, stream, post(server, api, stream))

    assert outcome.calls == []
    assert outcome.text.startswith(UNTRUSTED_TEXT)
    assert "**Blocked tool call: `Bash`**" in outcome.text
    assert MARKER_TEXT not in outcome.text
    assert outcome.stop == END_STOP[api]
    (answer,) = answers(server)
    assert answer["error"] == "call_failed"
    assert "blocks" not in answer
    (blocked,) = decisions(server, "policy.blocked")
    assert blocked["tool_call_id"] == RM.id


def test_trusted_model_timeout_blocks_and_keeps_the_harmless_calls(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    fake.respond_with(Models(untrusted=[[LS, RM]], trusted=HangReply()))
    server = make_luthien(
        defer_config("anthropic", trusted={"upstream": "anthropic", "model": TRUSTED_MODEL, "timeout_s": 0.2})
    )

    outcome = outcome_of("anthropic", True, post(server, "anthropic", True))

    assert [call.id for call in outcome.calls] == [LS.id]
    assert "**Blocked tool call: `Bash`**" in outcome.text
    assert outcome.stop == "tool_use"
    (answer,) = answers(server)
    assert answer["error"] == "timeout"


@pytest.mark.parametrize("api", ["anthropic", "responses"])
def test_judge_down_blocks_without_asking_the_trusted_model(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    fake.respond_with(Models(judge=JSONReply(anthropic_error_body("api_error", "down"), status=500)))
    server = make_luthien(defer_config(TRUSTED_UPSTREAM[api]))

    outcome = outcome_of(api, True, post(server, api, True))

    assert outcome.calls == []
    assert BLOCKED_HEADLINE in outcome.text
    assert "Risk: 1.00 (blocked at 0.50 or above)" in outcome.text
    assert outcome.stop == END_STOP[api]
    assert trusted_requests(fake.requests) == []
    (decision,) = decisions(server)
    assert decision["error"] == "call_failed"
    assert answers(server) == []
    assert len(decisions(server, "policy.blocked")) == 1


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_a_call_in_another_api_than_the_trusted_upstream_is_blocked(
    make_luthien: LuthienFactory, fake: FakeProvider, api: Api
) -> None:
    fake.respond_with(Models())
    server = make_luthien(defer_config("anthropic"))

    outcome = outcome_of(api, False, post(server, api, False))

    assert outcome.calls == []
    assert "**Blocked tool call: `Bash`**" in outcome.text
    assert "translating between them is not supported" in outcome.text
    assert trusted_requests(fake.requests) == []
    (answer,) = answers(server)
    assert answer["error"] == "api_mismatch"


# -- config --------------------------------------------------------------------------------------------


def _config(trusted_upstream: str, **options: Any) -> LuthienConfig:
    config = defer_config(trusted_upstream, **options)
    upstreams = {"mine": {"format": "openai", "base_url": "http://127.0.0.1:9/v1"}}
    return LuthienConfig.model_validate({**config.model_dump(by_alias=True), "upstreams": upstreams})


def test_a_trusted_upstream_of_another_api_than_the_client_fails_startup() -> None:
    with pytest.raises(ConfigError) as raised:
        build_policies(_config("mine", client_format="anthropic"), "defer")

    assert raised.value.field == "policies.defer.config.trusted.upstream"
    assert raised.value.entry == "defer"


def test_an_unknown_trusted_upstream_fails_startup(make_luthien: LuthienFactory) -> None:
    with pytest.raises(ConfigError) as raised:
        build_policies(_config("nope"), "defer")

    assert raised.value.field == "policies.defer.config.trusted.upstream"
    with pytest.raises(ConfigError):
        make_luthien(defer_config("nope"))


def test_a_matching_client_format_starts() -> None:
    policies = build_policies(_config("mine", client_format="openai"), "defer")

    assert "defer" in policies


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"trusted": {"upstream": "anthropic"}}, "policies.defer.config.trusted.model"),
        (
            {"trusted": {"upstream": "anthropic", "model": "m", "timeout_s": 0}},
            "policies.defer.config.trusted.timeout_s",
        ),
        ({"client_format": "gemini"}, "policies.defer.config.client_format"),
    ],
)
def test_invalid_trusted_settings_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        build_policies(defer_config("anthropic", **options), "defer")

    assert raised.value.field == field


def test_an_upstream_cut_while_the_trusted_model_answers_ends_the_call(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    frames = anthropic_stream(UNTRUSTED_TEXT, tool_calls=[RM])
    tool_done = max(i for i, frame in enumerate(frames) if b'"content_block_stop"' in frame)
    gate = Gate()
    models = Models()

    def respond(request: ReceivedRequest) -> Reply | None:
        model = request.json().get("model")
        if model == TRUSTED_MODEL:
            gate.open()  # the flagged call is waiting for this answer: now the upstream breaks off
            return HangReply()
        if model == "claude-sonnet-4-6":
            return StreamReply([*frames[: tool_done + 1], gate], cut=True)
        return models(request)

    fake.respond_with(respond)
    server = make_luthien(defer_config("anthropic"))

    response = post(server, "anthropic", True)

    assert DANGER not in response.text
    events = sse_data(response.text)
    assert events[-1]["type"] == "error"
    assert "message_stop" not in [event["type"] for event in events]
    assert answers(server) == []
    assert len(trusted_requests(fake.requests)) == 1


@pytest.mark.parametrize("trusted", ["up", "down"])
def test_the_record_holds_both_answers_and_the_verdict(
    make_luthien: LuthienFactory, fake: FakeProvider, trusted: str
) -> None:
    failure = JSONReply(anthropic_error_body("api_error", "down"), status=500)
    fake.respond_with(Models(trusted=failure if trusted == "down" else None))
    server = make_luthien(defer_config("anthropic"))

    response = post(server, "anthropic", True)
    record = record_of(server, response.headers["x-luthien-transaction-id"])

    assert record.status is (TransactionStatus.CHANGED if trusted == "up" else TransactionStatus.BLOCKED)
    assert record.original_response is not None
    assert DANGER.encode() in record.original_response
    assert record.final_response is not None
    assert (TRUSTED_TEXT.encode() in record.final_response) is (trusted == "up")
    types = [event.type for event in record.events]
    assert types.count("judge.decision") == 1
    assert types.count("defer.trusted_answer") == 1


def test_the_trusted_request_carries_the_clients_beta_header_not_its_key(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    fake.respond_with(Models())
    server = make_luthien(defer_config("anthropic"))
    body, headers = request_for("anthropic", True, (("user", "Please tidy up the repository."),))
    beta = "context-management-2025-06-27,interleaved-thinking-2025-05-14"

    httpx.post(
        server.base_url + PATHS["anthropic"],
        json=body,
        headers={**headers, "anthropic-beta": beta},
        timeout=CLIENT_TIMEOUT_S,
    )

    (asked,) = [request for request in fake.requests if request.json()["model"] == TRUSTED_MODEL]
    assert asked.headers["anthropic-beta"] == beta
    assert asked.headers["anthropic-version"] == "2023-06-01"
    assert CLIENT_KEY not in json.dumps(asked.headers)
