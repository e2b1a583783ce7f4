"""Limits through a real Luthien server: messages per call, JSON depth, calls at once, held bytes, records.

Every refusal must come in the client's own error shape and status, the upstream must never see a
refused call, and the server must keep serving afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import anthropic
import httpx
import openai
import orjson
import pytest

from luthien.config import LuthienConfig
from luthien.policies.block_commands import BlockCommandsPolicy
from luthien.policy.base import OnHeldOverflow
from luthien.policy.holding import HELD_OVERFLOW_EVENT
from luthien.records.bounded import TRUNCATED_EVENT, TRUNCATED_FIELD
from luthien.records.model import TransactionStatus
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    HangReply,
    JSONReply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
    chat_stream,
    responses_stream,
)
from tests.support.records import GUARD_S, TRANSACTION_HEADER, record_of
from tests.support.servers import LuthienServer
from tests.support.threaded_upstream import ThreadedUpstream

ANTHROPIC_HEADERS = {"x-api-key": "client-key", "anthropic-version": "2023-06-01"}
OPENAI_HEADERS = {"authorization": "Bearer client-key"}
USER = [{"role": "user", "content": "hi"}]

# (path, body with `count` conversation entries, headers, shape)
ApiCase = tuple[str, dict[str, Any], dict[str, str], str]


def conversation(count: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"message {n}"} for n in range(count)]


def api_cases(count: int) -> list[Any]:
    return [
        pytest.param(
            "/v1/messages",
            {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": conversation(count)},
            ANTHROPIC_HEADERS,
            "anthropic",
            id="anthropic",
        ),
        pytest.param(
            "/v1/chat/completions",
            {"model": "gpt-5", "messages": conversation(count)},
            OPENAI_HEADERS,
            "openai",
            id="chat",
        ),
        pytest.param(
            "/v1/responses",
            {"model": "gpt-5", "input": conversation(count)},
            OPENAI_HEADERS,
            "openai",
            id="responses",
        ),
    ]


def post(
    server: LuthienServer, path: str, body: bytes | dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(
        f"{server.base_url}{path}",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=GUARD_S,
    )


def assert_error(
    response: httpx.Response, status: int, shape: str, anthropic_type: str, openai_type: str
) -> Any:
    assert response.status_code == status
    body = response.json()
    if shape == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == anthropic_type
        assert isinstance(body["error"]["message"], str)
        return body["error"]
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == openai_type
    return body["error"]


# -- messages per call -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "headers", "shape"), api_cases(4))
def test_more_messages_than_allowed_is_400(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    shape: str,
) -> None:
    server = make_luthien(max_messages=3)

    response = post(server, path, body, headers)

    assert_error(response, 400, shape, "invalid_request_error", "invalid_request_error")
    assert fake.requests == []


@pytest.mark.parametrize(("path", "body", "headers", "shape"), api_cases(3))
def test_messages_up_to_the_limit_pass(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    shape: str,
) -> None:
    server = make_luthien(max_messages=3)

    response = post(server, path, body, headers)

    assert response.status_code == 200
    assert len(fake.requests) == 1


# -- JSON depth --------------------------------------------------------------------------------------


def nested_body(depth: int) -> bytes:
    """An Anthropic request whose `metadata` nests arrays so the whole body is `depth` levels deep."""
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)
    return (
        b'{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"metadata":'
        + inner
        + b"}"
    )


@pytest.mark.parametrize(
    "depth",
    [129, 300, 1_100, 100_000],
    ids=["past-limit", "past-orjson-writer", "past-orjson-reader", "huge"],
)
def test_deeply_nested_body_is_400_and_the_server_keeps_serving(
    make_luthien: LuthienFactory, fake: FakeProvider, depth: int
) -> None:
    server = make_luthien()

    response = post(server, "/v1/messages", nested_body(depth), ANTHROPIC_HEADERS)

    assert_error(response, 400, "anthropic", "invalid_request_error", "")
    assert fake.requests == []
    assert post(server, "/v1/messages", nested_body(128), ANTHROPIC_HEADERS).status_code == 200


def test_deeply_nested_body_is_400_in_the_openai_shape(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(max_json_depth=8)
    body = {"model": "gpt-5", "messages": USER, "metadata": {"a": [[[[[[[["deep"]]]]]]]]}}

    response = post(server, "/v1/chat/completions", body, OPENAI_HEADERS)

    error = assert_error(response, 400, "openai", "", "invalid_request_error")
    assert error["code"] == "invalid_request"
    assert fake.requests == []


# -- calls at once -----------------------------------------------------------------------------------


@pytest.fixture
def one_slot(make_luthien: LuthienFactory, fake: FakeProvider) -> Iterator[LuthienServer]:
    """A server allowing one call at once, whose one slot is taken by a call the upstream holds."""
    server = make_luthien(max_concurrent_calls=1)
    fake.enqueue(HangReply())
    holder = threading.Thread(
        target=lambda: post(
            server, "/v1/messages", {"model": "m", "max_tokens": 1, "messages": USER}, ANTHROPIC_HEADERS
        )
    )
    holder.start()
    deadline = time.monotonic() + GUARD_S
    while not fake.requests:  # the held call has reached the upstream: its slot is taken
        assert time.monotonic() < deadline
        time.sleep(0.01)
    yield server
    fake.reset()  # the upstream lets the held call go
    holder.join(GUARD_S)


def test_call_beyond_the_limit_gets_anthropic_overloaded_529(
    one_slot: LuthienServer, fake: FakeProvider
) -> None:
    response = post(
        one_slot, "/v1/messages", {"model": "m", "max_tokens": 1, "messages": USER}, ANTHROPIC_HEADERS
    )

    assert_error(response, 529, "anthropic", "overloaded_error", "")
    assert response.headers["retry-after"] == "1"
    assert len(fake.requests) == 1  # only the held call


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_call_beyond_the_limit_gets_openai_503(
    one_slot: LuthienServer, fake: FakeProvider, path: str
) -> None:
    response = post(one_slot, path, {"model": "gpt-5", "messages": USER, "input": "hi"}, OPENAI_HEADERS)

    error = assert_error(response, 503, "openai", "", "server_error")
    assert error["code"] == "overloaded"
    assert response.headers["retry-after"] == "1"


def test_sdks_see_the_overload_as_their_own_errors(one_slot: LuthienServer) -> None:
    with pytest.raises(anthropic.APIStatusError) as anthropic_caught:
        anthropic.Anthropic(base_url=one_slot.base_url, api_key="k", max_retries=0).messages.create(
            model="m", max_tokens=1, messages=[{"role": "user", "content": "hi"}]
        )
    assert anthropic_caught.value.status_code == 529
    assert anthropic_caught.value.type == "overloaded_error"

    with pytest.raises(openai.InternalServerError) as openai_caught:
        openai.OpenAI(base_url=f"{one_slot.base_url}/v1", api_key="k", max_retries=0).chat.completions.create(
            model="gpt-5", messages=[{"role": "user", "content": "hi"}]
        )
    assert openai_caught.value.status_code == 503
    assert openai_caught.value.code == "overloaded"


def test_a_freed_slot_serves_the_next_call(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(max_concurrent_calls=1)
    body = {"model": "m", "max_tokens": 1, "messages": USER}

    for _ in range(3):  # sequential calls never exceed one at once
        assert post(server, "/v1/messages", body, ANTHROPIC_HEADERS).status_code == 200


# -- bytes a policy may hold -------------------------------------------------------------------------

HUGE_ARGUMENTS_BYTES = 50 * 1024 * 1024
HUGE_CALL = ToolCall("toolu_01HugeCall", "Bash", {"command": "echo " + "x" * HUGE_ARGUMENTS_BYTES})


def commands_config(policy_class: str = "block_commands") -> LuthienConfig:
    return LuthienConfig.model_validate(
        {"policies": {"guard": {"class": policy_class, "config": {}}}, "policy": "guard"}
    )


def test_a_50_mb_tool_call_is_blocked_and_the_server_keeps_serving(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(commands_config(), max_held_bytes=1024 * 1024, max_record_response_bytes=64 * 1024)
    # ~800 deltas of 64 KiB, as a provider streams a long tool input.
    fake.enqueue(StreamReply(anthropic_stream("Running it.", tool_calls=[HUGE_CALL], json_chunks=800)))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S * 4)

    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        message = stream.get_final_message()
        transaction = stream.response.headers[TRANSACTION_HEADER]

    assert [block.type for block in message.content] == ["text", "text"]
    blocked = message.content[1]
    assert blocked.type == "text"
    assert "Blocked tool call: `Bash`" in blocked.text
    assert "LUTHIEN_MAX_HELD_BYTES" in blocked.text
    assert message.stop_reason == "end_turn"
    record = record_of(server, transaction)
    assert record.status is TransactionStatus.BLOCKED
    overflow = [event for event in record.events if event.type == HELD_OVERFLOW_EVENT]
    assert len(overflow) == 1
    assert overflow[0].data["action"] == "block"
    assert overflow[0].data["tool"] == "Bash"
    assert overflow[0].data["held_bytes"] > 1024 * 1024
    # The stored copies are bounded too.
    assert record.original_response is not None
    assert len(record.original_response) < 1024 * 1024
    fake.enqueue(StreamReply(anthropic_stream("Still here.")))
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        assert stream.get_final_text() == "Still here."


class ReleasingCommands(BlockCommandsPolicy):
    """`block_commands` declaring that an overflowing held block is released unchecked."""

    on_held_overflow: ClassVar[OnHeldOverflow] = OnHeldOverflow.RELEASE


def test_a_policy_that_releases_overflow_passes_the_tool_call_whole(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(commands_config(f"{__name__}:ReleasingCommands"), max_held_bytes=16 * 1024)
    big = ToolCall("toolu_01BigCall", "Bash", {"command": "rm -rf / " + "y" * 256 * 1024})
    fake.enqueue(StreamReply(anthropic_stream("Running it.", tool_calls=[big], json_chunks=64)))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S)

    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        message = stream.get_final_message()
        transaction = stream.response.headers[TRANSACTION_HEADER]

    calls = [block for block in message.content if block.type == "tool_use"]
    assert len(calls) == 1
    assert calls[0].input == big.arguments  # released unchecked (the rule would have blocked it)
    record = record_of(server, transaction)
    overflow = [event for event in record.events if event.type == HELD_OVERFLOW_EVENT]
    assert [event.data["action"] for event in overflow] == ["release"]
    assert record.status is not TransactionStatus.BLOCKED


def test_small_tool_calls_are_judged_as_before(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(commands_config(), max_held_bytes=16 * 1024)
    dangerous = ToolCall("toolu_01Rm", "Bash", {"command": "rm -rf /"})
    fake.enqueue(StreamReply(anthropic_stream("Cleaning.", tool_calls=[dangerous])))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S)

    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        message = stream.get_final_message()
        transaction = stream.response.headers[TRANSACTION_HEADER]

    assert all(block.type == "text" for block in message.content)
    record = record_of(server, transaction)
    assert not [event for event in record.events if event.type == HELD_OVERFLOW_EVENT]
    assert record.status is TransactionStatus.BLOCKED


def judge_config(judge_url: str) -> LuthienConfig:
    judge = {"judge": {"upstream": "judge", "model": "judge-model"}}
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge_url}},
            "policies": {"guard": {"class": "tool_call_judge", "config": judge}},
            "policy": "guard",
        }
    )


def allowing_judge() -> ThreadedUpstream:
    reply = orjson.dumps(
        anthropic_message(orjson.dumps({"probability": 0.0, "explanation": "Fine."}).decode())
    )
    return ThreadedUpstream(lambda path, body: ("application/json", [reply]))


def tool_names_and_text(api: str, server: LuthienServer) -> tuple[list[str], str]:
    """Stream one call with the official SDK; the tool calls the client got and all its text."""
    if api == "anthropic":
        client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S)
        with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
            message = stream.get_final_message()
        names = [block.name for block in message.content if block.type == "tool_use"]
        return names, "".join(block.text for block in message.content if block.type == "text")
    openai_client = openai.OpenAI(
        base_url=f"{server.base_url}/v1", api_key="k", max_retries=0, timeout=GUARD_S
    )
    if api == "chat":
        names: list[str] = []
        text = ""
        for chunk in openai_client.chat.completions.create(model="gpt-5", messages=USER, stream=True):  # pyright: ignore[reportArgumentType]
            for choice in chunk.choices:
                text += choice.delta.content or ""
                names += [
                    call.function.name
                    for call in choice.delta.tool_calls or []
                    if call.function is not None and call.function.name
                ]
        return names, text
    with openai_client.responses.stream(model="gpt-5", input="hi") as stream:
        response = stream.get_final_response()
    return [item.name for item in response.output if item.type == "function_call"], response.output_text


@pytest.mark.parametrize("api", ["anthropic", "chat", "responses"])
def test_a_tool_call_too_large_to_hold_is_blocked_without_asking_the_judge(
    make_luthien: LuthienFactory, fake: FakeProvider, threaded_upstreams: list[ThreadedUpstream], api: str
) -> None:
    judge = allowing_judge()
    threaded_upstreams.append(judge)
    server = make_luthien(judge_config(judge.base_url), max_held_bytes=16 * 1024)
    prefix = "toolu_01" if api == "anthropic" else "call_"
    big = ToolCall(f"{prefix}Big", "Write", {"content": "z" * 256 * 1024})
    small = ToolCall(f"{prefix}Small", "Bash", {"command": "ls"})
    builders = {"anthropic": anthropic_stream, "chat": chat_stream, "responses": responses_stream}
    fake.enqueue(StreamReply(builders[api]("Two calls.", tool_calls=[big, small], json_chunks=64)))

    names, text = tool_names_and_text(api, server)

    assert names == ["Bash"]  # the small call was judged and passes
    assert "Blocked tool call: `Write`" in text
    assert len(judge.bodies) == 1  # only the small call reached the judge
    assert "Bash" in judge.bodies[0]["messages"][-1]["content"]


# -- bytes of a response kept for its record ---------------------------------------------------------

LONG_TEXT = "All work and no play. " * 2_000  # ~44 KB


def test_a_long_stream_reaches_the_client_whole_and_its_record_is_truncated(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(max_record_response_bytes=4096)
    fake.enqueue(StreamReply(anthropic_stream(LONG_TEXT, text_chunks=40)))
    client = anthropic.Anthropic(base_url=server.base_url, api_key="k", max_retries=0, timeout=GUARD_S)

    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        text = stream.get_final_text()
        transaction = stream.response.headers[TRANSACTION_HEADER]

    assert text == LONG_TEXT
    record = record_of(server, transaction)
    assert record.status is TransactionStatus.OK
    assert record.error is None
    assert record.original_response is not None
    stored = orjson.loads(record.original_response)
    assert stored[TRUNCATED_FIELD] is True
    assert 0 < len(stored["content"][0]["text"]) < len(LONG_TEXT)
    truncated = {event.data["side"]: event.data for event in record.events if event.type == TRUNCATED_EVENT}
    assert set(truncated) == {"upstream", "client"}
    assert truncated["client"]["kept_bytes"] == 4096
    assert truncated["client"]["total_bytes"] > len(LONG_TEXT)


def test_a_truncated_stream_that_ends_in_an_error_is_recorded_as_an_error(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(max_record_response_bytes=4096)
    frames = anthropic_stream(LONG_TEXT, text_chunks=40)
    fake.enqueue(StreamReply(frames[:-3], cut=True))  # cut before the message ends

    response = post(
        server,
        "/v1/messages",
        {"model": "m", "max_tokens": 1, "messages": USER, "stream": True},
        ANTHROPIC_HEADERS,
    )

    assert response.status_code == 200
    assert b"event: error" in response.content
    record = record_of(server, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.ERROR
    assert record.error is not None


def test_a_long_body_is_stored_cut_with_a_marker(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(max_record_response_bytes=4096)
    fake.enqueue(JSONReply(anthropic_message(LONG_TEXT)))

    response = post(
        server, "/v1/messages", {"model": "m", "max_tokens": 1, "messages": USER}, ANTHROPIC_HEADERS
    )

    assert response.json()["content"][0]["text"] == LONG_TEXT
    record = record_of(server, response.headers[TRANSACTION_HEADER])
    assert record.status is TransactionStatus.OK
    assert record.original_response is not None
    assert record.original_response.startswith(response.content[:4096])
    assert record.original_response.endswith(b"bytes kept]")
    assert len(record.original_response) < len(response.content)
