"""Every client API on every upstream API it is translated to, through a real server with the SDKs.

Pairs: a Messages client on an `openai` and on an `openai-chat` upstream; a Chat client on an
`anthropic` upstream; a Responses client on an `anthropic` and on an `openai-chat` upstream (a fake
that, like vLLM, answers 404 outside Chat Completions). Each pair: a text turn and a tool round trip
(the tool call, then the next turn with its result: the upstream sees its own call id again),
streaming and not; `tool_call_judge` blocking a dangerous call. Also: the upstream's own key goes
upstream, never the client's; upstream errors come back in the client's shape; the record keeps the
client's request as original and the translated body as forwarded; token counting on a Chat-only
upstream is refused; a passthrough client's call is refused on a translated route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from luthien.config import LuthienConfig
from luthien.records.model import ShadowOutcome, TransactionRecord, TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    ReceivedRequest,
    Reply,
    StreamReply,
    ToolCall,
    anthropic_error_body,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
)
from tests.support.records import record_of, records_after_stop
from tests.support.servers import LuthienServer

PROXY_KEY = "luthien-proxy-key"
ANTHROPIC_KEY = "sk-ant-upstream"
OPENAI_KEY = "sk-openai-upstream"
LOCAL_KEY = "local-upstream"
JUDGE_MODEL = "judge-model"
CLAUDE = "claude-sonnet-4-6"
GPT = "gpt-5"
LLAMA = "llama-3.3-70b"
QUESTION = "What is in this directory?"
ANSWER = "Here are the files."
TOOL_OUTPUT = "README.md\nsrc"
SAFE = ToolCall("call_ls_1", "Bash", {"command": "ls"})
DANGEROUS = ToolCall("call_rm_1", "Bash", {"command": "rm -rf /"})
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
}


@pytest.fixture(scope="module")
def _local_session() -> Iterator[FakeProvider]:
    provider = FakeProvider(chat_only=True)
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def local(_local_session: FakeProvider) -> Iterator[FakeProvider]:
    """A Chat-only server (vLLM-like), the `local` upstream."""
    _local_session.reset()
    yield _local_session
    _local_session.reset()


def config_for(fake: FakeProvider, local: FakeProvider, **extra: Any) -> LuthienConfig:
    """Claude models on `fake` (anthropic), GPT on `fake` (openai), Llama on `local` (openai-chat)."""
    return LuthienConfig.model_validate(
        {
            "upstreams": {
                "claude-up": {"format": "anthropic", "base_url": fake.base_url, "api_key": ANTHROPIC_KEY},
                "gpt-up": {"format": "openai", "base_url": f"{fake.base_url}/v1", "api_key": OPENAI_KEY},
                "local": {"format": "openai-chat", "base_url": f"{local.base_url}/v1", "api_key": LOCAL_KEY},
                "judge": {"format": "openai", "base_url": f"{fake.base_url}/v1"},
            },
            "routes": [
                {"model": "claude-*", "upstream": "claude-up"},
                {"model": "gpt-*", "upstream": "gpt-up"},
                {"model": "llama*", "upstream": "local"},
            ],
            **extra,
        }
    )


@pytest.fixture
def server(make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider) -> LuthienServer:
    return make_luthien(config_for(fake, local), api_key=PROXY_KEY)


# -- the three clients -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """What a client got: its text, its tool calls (id, name, parsed arguments), and its stop."""

    text: str
    calls: list[tuple[str, str, Any]]
    stop: str | None


@dataclass(frozen=True)
class Client:
    """One client API: how it asks, and how it writes the next turn with a tool's result."""

    name: str
    ask: Callable[[LuthienServer, str, list[Any], bool, str | None], Turn]
    history: Callable[[str, list[tuple[str, str, Any]]], list[Any]]


def messages_ask(server: LuthienServer, model: str, turns: list[Any], stream: bool, key: str | None) -> Turn:
    client = anthropic.Anthropic(base_url=server.base_url, api_key=key or PROXY_KEY, max_retries=0)
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "messages": turns,
        "tools": [{"name": "Bash", "description": "Run a command", "input_schema": SCHEMA}],
    }
    if stream:
        with client.messages.stream(**params) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**params)
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = [(block.id, block.name, block.input) for block in message.content if block.type == "tool_use"]
    return Turn(text, calls, message.stop_reason)


def messages_history(question: str, calls: list[tuple[str, str, Any]]) -> list[Any]:
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": id_, "name": name, "input": args} for id_, name, args in calls
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": id_, "content": TOOL_OUTPUT} for id_, _, _ in calls
            ],
        },
    ]


def chat_ask(server: LuthienServer, model: str, turns: list[Any], stream: bool, key: str | None) -> Turn:
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key or PROXY_KEY, max_retries=0)
    tools: Any = [
        {"type": "function", "function": {"name": "Bash", "description": "Run", "parameters": SCHEMA}}
    ]
    if stream:
        with client.chat.completions.stream(model=model, messages=turns, tools=tools) as events:
            completion = events.get_final_completion()
    else:
        completion = client.chat.completions.create(model=model, messages=turns, tools=tools)
    message = completion.choices[0].message
    calls = [
        (call.id, call.function.name, orjson.loads(call.function.arguments))
        for call in message.tool_calls or []
        if call.type == "function"
    ]
    return Turn(message.content or "", calls, completion.choices[0].finish_reason)


def chat_history(question: str, calls: list[tuple[str, str, Any]]) -> list[Any]:
    return [
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": id_,
                    "type": "function",
                    "function": {"name": name, "arguments": orjson.dumps(args).decode()},
                }
                for id_, name, args in calls
            ],
        },
        *({"role": "tool", "tool_call_id": id_, "content": TOOL_OUTPUT} for id_, _, _ in calls),
    ]


def responses_ask(server: LuthienServer, model: str, turns: list[Any], stream: bool, key: str | None) -> Turn:
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key or PROXY_KEY, max_retries=0)
    tools: Any = [
        {"type": "function", "name": "Bash", "description": "Run", "parameters": SCHEMA, "strict": False}
    ]
    if stream:
        with client.responses.stream(model=model, input=turns, tools=tools) as events:
            response = events.get_final_response()
    else:
        response = client.responses.create(model=model, input=turns, tools=tools)
    calls = [
        (item.call_id, item.name, orjson.loads(item.arguments))
        for item in response.output
        if item.type == "function_call"
    ]
    return Turn(response.output_text, calls, response.status)


def responses_history(question: str, calls: list[tuple[str, str, Any]]) -> list[Any]:
    return [
        {"role": "user", "content": question},
        *(
            {"type": "function_call", "call_id": id_, "name": name, "arguments": orjson.dumps(args).decode()}
            for id_, name, args in calls
        ),
        *({"type": "function_call_output", "call_id": id_, "output": TOOL_OUTPUT} for id_, _, _ in calls),
    ]


MESSAGES = Client("messages", messages_ask, messages_history)
CHAT = Client("chat", chat_ask, chat_history)
RESPONSES = Client("responses", responses_ask, responses_history)


# -- the upstreams -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upstream:
    """One translated upstream: the model routed to it, its path, and how it answers and reads."""

    name: str
    model: str
    path: str
    reply: Callable[[str, list[ToolCall], bool], Reply]
    results: Callable[[dict[str, Any]], list[str]]
    auth: tuple[str, str]


def anthropic_reply(text: str, calls: list[ToolCall], stream: bool) -> Reply:
    if stream:
        return StreamReply(anthropic_stream(text, tool_calls=calls, model=CLAUDE))
    return JSONReply(anthropic_message(text, tool_calls=calls, model=CLAUDE))


def chat_reply(text: str, calls: list[ToolCall], stream: bool) -> Reply:
    if stream:
        return StreamReply(chat_stream(text, tool_calls=calls))
    return JSONReply(chat_completion(text, tool_calls=calls))


def anthropic_results(body: dict[str, Any]) -> list[str]:
    """The tool-result ids of an Anthropic request, with the tool-use ids they answer first."""
    blocks = [
        block
        for message in body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
    ]
    return [block["id"] for block in blocks if block["type"] == "tool_use"] + [
        block["tool_use_id"] for block in blocks if block["type"] == "tool_result"
    ]


def chat_results(body: dict[str, Any]) -> list[str]:
    """The tool-call ids of a Chat request's assistant turn, then those of its tool messages."""
    messages = body["messages"]
    calls = [call["id"] for message in messages for call in message.get("tool_calls") or []]
    return calls + [message["tool_call_id"] for message in messages if message["role"] == "tool"]


ANTHROPIC_UP = Upstream(
    "anthropic", CLAUDE, "/v1/messages", anthropic_reply, anthropic_results, ("x-api-key", ANTHROPIC_KEY)
)
OPENAI_UP = Upstream(
    "openai", GPT, "/v1/chat/completions", chat_reply, chat_results, ("authorization", f"Bearer {OPENAI_KEY}")
)
LOCAL_UP = Upstream(
    "openai-chat",
    LLAMA,
    "/v1/chat/completions",
    chat_reply,
    chat_results,
    ("authorization", f"Bearer {LOCAL_KEY}"),
)

PAIRS = pytest.mark.parametrize(
    ("client", "upstream"),
    [
        (MESSAGES, OPENAI_UP),
        (MESSAGES, LOCAL_UP),
        (CHAT, ANTHROPIC_UP),
        (RESPONSES, ANTHROPIC_UP),
        (RESPONSES, LOCAL_UP),
    ],
    ids=lambda value: value.name,
)
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["body", "stream"])


def provider(upstream: Upstream, fake: FakeProvider, local: FakeProvider) -> FakeProvider:
    return local if upstream is LOCAL_UP else fake


def model_calls(provider: FakeProvider) -> list[ReceivedRequest]:
    return [request for request in provider.requests if request.json().get("model") != JUDGE_MODEL]


@PAIRS
@STREAM
def test_a_text_turn(
    server: LuthienServer,
    fake: FakeProvider,
    local: FakeProvider,
    client: Client,
    upstream: Upstream,
    stream: bool,
) -> None:
    target = provider(upstream, fake, local)
    target.enqueue(upstream.reply(ANSWER, [], stream))

    turn = client.ask(server, upstream.model, [{"role": "user", "content": QUESTION}], stream, None)

    assert (turn.text, turn.calls) == (ANSWER, [])
    [received] = target.requests
    assert received.path == upstream.path
    assert received.headers[upstream.auth[0]] == upstream.auth[1]
    assert PROXY_KEY not in str(received.headers)
    assert received.json().get("stream", False) is stream


@PAIRS
@STREAM
def test_a_tool_round_trip_keeps_the_upstreams_call_ids(
    server: LuthienServer,
    fake: FakeProvider,
    local: FakeProvider,
    client: Client,
    upstream: Upstream,
    stream: bool,
) -> None:
    target = provider(upstream, fake, local)
    target.enqueue(upstream.reply("", [SAFE], stream), upstream.reply(ANSWER, [], stream))

    first = client.ask(server, upstream.model, [{"role": "user", "content": QUESTION}], stream, None)
    [(call_id, name, arguments)] = first.calls
    second = client.ask(server, upstream.model, client.history(QUESTION, first.calls), stream, None)

    assert (name, arguments) == (SAFE.name, SAFE.arguments)
    assert second.text == ANSWER
    # The upstream sees its own call id on the call and on its result, whatever id the client saw.
    assert upstream.results(target.requests[1].json()) == [SAFE.id, SAFE.id]
    assert call_id


@PAIRS
@STREAM
def test_the_judge_blocks_a_dangerous_call_on_a_translated_route(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    local: FakeProvider,
    client: Client,
    upstream: Upstream,
    stream: bool,
) -> None:
    policies = {
        "guard": {
            "class": "tool_call_judge",
            "config": {"judge": {"upstream": "judge", "model": JUDGE_MODEL}},
        }
    }
    server = make_luthien(config_for(fake, local, policies=policies, policy="guard"), api_key=PROXY_KEY)
    verdict = '{"probability": 0.97, "explanation": "deletes the whole disk"}'
    fake.respond_with(
        lambda request: (
            JSONReply(chat_completion(verdict)) if request.json().get("model") == JUDGE_MODEL else None
        )
    )
    provider(upstream, fake, local).enqueue(upstream.reply("Cleaning up.", [DANGEROUS], stream))

    turn = client.ask(server, upstream.model, [{"role": "user", "content": QUESTION}], stream, None)

    assert turn.calls == []
    assert turn.text.startswith("Cleaning up.")
    assert "Blocked tool call" in turn.text
    assert "rm -rf /" in turn.text
    [judged] = [request for request in fake.requests if request.json().get("model") == JUDGE_MODEL]
    assert "rm -rf /" in judged.body.decode()


def test_an_upstream_error_comes_back_in_the_clients_shape(server: LuthienServer, fake: FakeProvider) -> None:
    fake.enqueue(JSONReply(anthropic_error_body("invalid_request_error", "prompt is too long"), status=400))

    with pytest.raises(openai.BadRequestError) as caught:
        chat_ask(server, CLAUDE, [{"role": "user", "content": QUESTION}], False, None)

    assert caught.value.status_code == 400
    assert "prompt is too long" in str(caught.value.body)


def test_the_record_keeps_the_clients_request_and_the_translated_one(
    server: LuthienServer, fake: FakeProvider
) -> None:
    fake.enqueue(anthropic_reply(ANSWER, [], False))
    body = {"model": CLAUDE, "messages": [{"role": "user", "content": QUESTION}]}

    answer = httpx.post(
        f"{server.base_url}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {PROXY_KEY}"}
    )

    record: TransactionRecord = record_of(server, answer.headers["x-luthien-transaction-id"])
    assert orjson.loads(record.original_request) == body
    assert record.final_request is not None
    forwarded = orjson.loads(record.final_request)
    assert forwarded == fake.requests[0].json()
    assert fake.requests[0].headers["anthropic-version"] == "2023-06-01"  # Anthropic requires it
    assert "max_tokens" in forwarded
    assert record.upstream == "claude-up"
    assert record.usage.input_tokens is not None


@PAIRS
@STREAM
@pytest.mark.parametrize(
    ("policy", "status"),
    [(None, TransactionStatus.OK), ("caps", TransactionStatus.CHANGED)],
    ids=["noop", "caps"],
)
def test_the_status_says_what_the_policy_did_not_what_the_translation_did(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    local: FakeProvider,
    client: Client,
    upstream: Upstream,
    stream: bool,
    policy: str | None,
    status: TransactionStatus,
) -> None:
    extra: dict[str, Any] = {}
    if policy is not None:
        extra = {"policies": {policy: {"class": "all_caps"}}, "policy": policy}
    server = make_luthien(config_for(fake, local, **extra), api_key=PROXY_KEY)
    provider(upstream, fake, local).enqueue(upstream.reply(ANSWER, [SAFE], stream))

    client.ask(server, upstream.model, [{"role": "user", "content": QUESTION}], stream, None)

    [record] = records_after_stop(server)
    assert record.status is status
    assert record.final_request is not None  # the translated body is kept either way


def test_token_counting_on_a_chat_only_upstream_is_refused_in_anthropics_shape(
    server: LuthienServer, local: FakeProvider
) -> None:
    client = anthropic.Anthropic(base_url=server.base_url, api_key=PROXY_KEY, max_retries=0)

    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.count_tokens(model=LLAMA, messages=[{"role": "user", "content": QUESTION}])

    assert caught.value.type == "invalid_request_error"
    assert local.requests == []


def test_a_passthrough_client_is_refused_on_a_translated_route(
    make_luthien: LuthienFactory, fake: FakeProvider, local: FakeProvider
) -> None:
    server = make_luthien(config_for(fake, local), api_key=PROXY_KEY, auth_mode="both")

    with pytest.raises(anthropic.BadRequestError):
        messages_ask(server, LLAMA, [{"role": "user", "content": QUESTION}], False, "sk-ant-the-clients-own")
    local.enqueue(chat_reply(ANSWER, [], False))
    served = messages_ask(server, LLAMA, [{"role": "user", "content": QUESTION}], False, PROXY_KEY)

    assert served.text == ANSWER
    assert len(local.requests) == 1
    assert "sk-ant-the-clients-own" not in str(local.requests[0].headers)


@pytest.mark.parametrize(
    ("probability", "outcome"), [(0.97, ShadowOutcome.WOULD_BLOCK), (0.01, ShadowOutcome.SAME)]
)
@STREAM
def test_a_shadow_judge_reads_the_translated_answer(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    local: FakeProvider,
    stream: bool,
    probability: float,
    outcome: ShadowOutcome,
) -> None:
    policies = {
        "watch": {
            "class": "tool_call_judge",
            "config": {"judge": {"upstream": "judge", "model": JUDGE_MODEL}},
        }
    }
    server = make_luthien(config_for(fake, local, policies=policies, shadow=["watch"]), api_key=PROXY_KEY)
    verdict = f'{{"probability": {probability}, "explanation": "judged"}}'
    fake.respond_with(
        lambda request: (
            JSONReply(chat_completion(verdict)) if request.json().get("model") == JUDGE_MODEL else None
        )
    )
    local.enqueue(chat_reply("Cleaning up.", [DANGEROUS], stream))
    body = {
        "model": LLAMA,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": QUESTION}],
    }

    answer = httpx.post(f"{server.base_url}/v1/messages", json=body, headers={"x-api-key": PROXY_KEY})

    assert answer.status_code == 200
    assert '"tool_use"' in answer.text  # the enforcing policy (noop) sent the call
    (shadow,) = record_of(server, answer.headers["x-luthien-transaction-id"]).shadows
    assert shadow.outcome is outcome


def test_a_translated_call_drops_the_clients_query_and_dialect_headers(
    server: LuthienServer, local: FakeProvider
) -> None:
    local.enqueue(chat_reply(ANSWER, [], False))
    headers = {"x-api-key": PROXY_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024"}
    body = {"model": LLAMA, "max_tokens": 64, "messages": [{"role": "user", "content": QUESTION}]}

    answer = httpx.post(f"{server.base_url}/v1/messages?beta=true", json=body, headers=headers)

    assert answer.status_code == 200
    [received] = local.requests
    assert (received.path, received.query) == ("/v1/chat/completions", "")
    assert not [name for name in received.headers if name.startswith("anthropic-") or name == "x-api-key"]


def test_an_openai_client_lists_the_models_of_openai_chat_upstreams(
    server: LuthienServer, local: FakeProvider
) -> None:
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=PROXY_KEY, max_retries=0)

    models = [model.id for model in client.models.list()]

    assert "gpt-5" in models
    assert [request.path for request in local.requests] == ["/v1/models"]


def test_a_field_without_a_counterpart_is_refused_naming_it(
    server: LuthienServer, fake: FakeProvider
) -> None:
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=PROXY_KEY, max_retries=0)

    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=CLAUDE, input=QUESTION, previous_response_id="resp_123")

    assert "previous_response_id" in str(caught.value.body)
    assert fake.requests == []
