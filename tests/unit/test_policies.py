"""The shipped policies, with exact outputs: all_caps, string_replace, chain, debug_logging, SimplePolicy.

Whole calls run in-process through the real pipeline (`run_stream` / `run_body` with a
`PolicyStage`, Anthropic codec), and the result is parsed by the Anthropic SDK. Streaming-specific
properties of string_replace run on normalized events through the `HookRunner`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
import httpx
import httpx2
import orjson
import pytest
from anthropic.types import Message, MessageParam, TextBlock, ThinkingBlock, ToolUseBlock
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.anthropic_messages.codec import AnthropicCodec
from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Opaque,
    StopReason,
    ToolCall,
    text_block,
    tool_call_block,
)
from luthien.call.request import CallRequest
from luthien.config import ConfigError, LuthienConfig
from luthien.pipeline.run import run_body
from luthien.pipeline.stage import PolicyStage
from luthien.policies.all_caps import AllCapsPolicy
from luthien.policies.debug_logging import DebugLoggingPolicy
from luthien.policies.string_replace import StringReplaceConfig, StringReplacePolicy
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import (
    TRUNCATION_MARKER,
    blocked_message,
    format_arguments,
    replace_arguments,
)
from luthien.policy.registry import build_policies
from luthien.policy.runner import HookRunner
from luthien.policy.simple import Blocked, SimplePolicy
from luthien.wire.apis import response_event
from luthien.wire.formats import WireFormat
from luthien.wire.sse import SSEParser
from tests.conftest import LuthienFactory
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    anthropic_message,
    anthropic_stream,
    split_text,
)
from tests.fake_provider import ToolCall as FakeToolCall
from tests.support.codec_streams import chunked
from tests.support.policy_runs import make_ctx, through_body, through_stream

MODEL = "claude-sonnet-4-6"
TEXT = "Hello, Wörld! Straße at 21 °C."
THINKING = "The user greets me; answer politely."
SIGNATURE = "sig-" + "c2lnbmF0dXJl" * 8
CALL = FakeToolCall("toolu_01WeatherAbCdEfGhIjKl", "get_weather", {"city": "Paris", "units": "metric"})
STREAMING = pytest.mark.parametrize("streaming", [True, False], ids=["stream", "body"])


# --- in-process pipeline ----------------------------------------------------------------------


def frames_of(data: bytes) -> list[bytes]:
    parser = SSEParser()
    frames = [frame.raw for frame in parser.feed(data)]
    assert parser.finish() is None
    return frames


def sdk_parse(data: bytes, streaming: bool) -> Message:
    """What the Anthropic SDK makes of `data` as the answer to a (streaming) messages call."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        content_type = "text/event-stream" if streaming else "application/json"
        return httpx2.Response(200, headers={"content-type": content_type}, content=data)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    with anthropic.Anthropic(
        base_url="http://sdk.test", api_key="k", http_client=http, max_retries=0
    ) as client:
        messages: list[MessageParam] = [{"role": "user", "content": "hi"}]
        if streaming:
            with client.messages.stream(model=MODEL, max_tokens=100, messages=messages) as stream:
                return stream.get_final_message()
        return client.messages.create(model=MODEL, max_tokens=100, messages=messages)


def run_policy(policy: Policy[Any], streaming: bool, text: str = TEXT, text_chunks: int = 4) -> Message:
    """A call answered with thinking, `text` and a tool call, through `policy`, as the SDK sees it."""
    kwargs: dict[str, Any] = {"thinking": THINKING, "signature": SIGNATURE, "tool_calls": [CALL]}
    if streaming:
        out = through_stream(policy, anthropic_stream(text, text_chunks=text_chunks, **kwargs))
    else:
        out = through_body(policy, anthropic_message(text, **kwargs))
    return sdk_parse(out, streaming)


def assert_untouched_parts(message: Message) -> None:
    """Thinking and the tool call arrive exactly as upstream sent them."""
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == (THINKING, SIGNATURE)
    tool = message.content[2]
    assert isinstance(tool, ToolUseBlock)
    assert (tool.id, tool.name, tool.input) == (CALL.id, CALL.name, CALL.arguments)
    assert message.stop_reason == "tool_use"


def text_of(message: Message) -> str:
    (text,) = [block.text for block in message.content if isinstance(block, TextBlock)]
    return text


def text_of_blocks(message: Message) -> list[str]:
    return [block.text for block in message.content if isinstance(block, TextBlock)]


def text_deltas(data: bytes) -> list[str]:
    deltas: list[str] = []
    for raw in frames_of(data):
        event = ANTHROPIC_MESSAGES.decode(SSEParser().feed(raw)[0])
        if event.type == "content_block_delta" and event.data["delta"]["type"] == "text_delta":
            deltas.append(event.data["delta"]["text"])
    return deltas


# --- normalized-event helpers -----------------------------------------------------------------


def stream_text(policy: Policy[Any], pieces: Sequence[str]) -> tuple[str, list[str]]:
    """Run one text block streamed as `pieces` through `policy`.

    Returns:
        The whole text the client receives, and the text released after each input delta.
    """
    released_after: list[str] = []
    out: list[CallEvent] = []
    events: list[CallEvent] = [
        MessageStart("msg", MODEL),
        BlockStart(0, BlockKind.TEXT),
        *(BlockDelta(0, BlockKind.TEXT, text=piece) for piece in pieces),
        BlockComplete(0, text_block("".join(pieces))),
        MessageEnd(StopReason.END_TURN),
    ]

    async def source() -> AsyncIterator[CallEvent]:
        for event in events:
            yield event
            if isinstance(event, BlockDelta):
                # Everything produced for the delta has been consumed when the source resumes.
                released_after.append("".join(e.text for e in out if isinstance(e, BlockDelta)))

    async def go() -> None:
        async for event in HookRunner(policy, make_ctx()).process(source()):
            out.append(event)

    asyncio.run(go())
    completed = [e.block.text for e in out if isinstance(e, BlockComplete)]
    streamed = "".join(e.text for e in out if isinstance(e, BlockDelta))
    assert completed == [streamed]
    return streamed, released_after


def string_replace(*rules: dict[str, Any], holdback_chars: int | None = None) -> StringReplacePolicy:
    config: dict[str, Any] = {"replacements": list(rules)}
    if holdback_chars is not None:
        config["holdback_chars"] = holdback_chars
    return StringReplacePolicy(StringReplaceConfig.model_validate(config), "redact")


# --- all_caps ---------------------------------------------------------------------------------


@STREAMING
def test_all_caps_upper_cases_text_only(streaming: bool) -> None:
    message = run_policy(AllCapsPolicy(PolicyConfig(), "all_caps"), streaming)

    assert text_of(message) == "HELLO, WÖRLD! STRASSE AT 21 °C."
    assert_untouched_parts(message)


def test_all_caps_streams_each_delta_upper_cased() -> None:
    frames = anthropic_stream(TEXT, thinking=THINKING, tool_calls=[CALL], text_chunks=6)

    out = through_stream(AllCapsPolicy(PolicyConfig(), "all_caps"), frames)

    assert text_deltas(out) == [piece.upper() for piece in split_text(TEXT, 6)]
    # Every frame that carries no text comes out byte-identical, in order.
    untouched = [frame for frame in frames if b'"text_delta"' not in frame]
    assert [frame for frame in frames_of(out) if b'"text_delta"' not in frame] == untouched


def test_all_caps_body_changes_only_the_text() -> None:
    body = anthropic_message(TEXT, thinking=THINKING, signature=SIGNATURE, tool_calls=[CALL])

    out = orjson.loads(through_body(AllCapsPolicy(PolicyConfig(), "all_caps"), body))

    expected = copy.deepcopy(body)
    expected["content"][1]["text"] = TEXT.upper()
    assert out == expected


# --- string_replace ---------------------------------------------------------------------------


@STREAMING
def test_string_replace_literal(streaming: bool) -> None:
    policy = string_replace({"find": "Wörld", "replace": "Welt"})

    message = run_policy(policy, streaming, text_chunks=9)

    assert text_of(message) == "Hello, Welt! Straße at 21 °C."
    assert_untouched_parts(message)


@STREAMING
def test_string_replace_regex(streaming: bool) -> None:
    policy = string_replace({"find": r"sk-[A-Za-z0-9]{8,}", "replace": "[key removed]", "regex": True})

    message = run_policy(policy, streaming, text="use sk-abcDEF123456 or sk-XYZ98765432!", text_chunks=7)

    assert text_of(message) == "use [key removed] or [key removed]!"
    assert_untouched_parts(message)


@STREAMING
def test_string_replace_regex_with_groups(streaming: bool) -> None:
    policy = string_replace({"find": r"(\d+) °C", "replace": r"\1 degrees", "regex": True})

    message = run_policy(policy, streaming, text_chunks=11)

    assert text_of(message) == "Hello, Wörld! Straße at 21 degrees."


@STREAMING
def test_string_replace_ignore_case_preserve_case(streaming: bool) -> None:
    policy = string_replace({"find": "foo", "replace": "bar", "ignore_case": True, "preserve_case": True})

    message = run_policy(policy, streaming, text="FOO, Foo and foo.", text_chunks=5)

    assert text_of(message) == "BAR, Bar and bar."


def test_string_replace_ignore_case_without_preserve_case_uses_the_replacement_as_written() -> None:
    policy = string_replace({"find": "foo", "replace": "Bar", "ignore_case": True})

    assert stream_text(policy, ["FOO, Foo ", "and foo."])[0] == "Bar, Bar and Bar."


def test_string_replace_is_case_sensitive_by_default() -> None:
    policy = string_replace({"find": "foo", "replace": "bar"})

    assert stream_text(policy, ["FOO Foo foo"])[0] == "FOO Foo bar"


def test_string_replace_leaves_thinking_and_tool_arguments_alone() -> None:
    policy = string_replace({"find": "Paris", "replace": "Lyon"})
    frames = anthropic_stream(
        "Paris it is.", thinking="Paris weather", signature=SIGNATURE, tool_calls=[CALL], text_chunks=3
    )

    message = sdk_parse(through_stream(policy, frames), streaming=True)

    assert text_of(message) == "Lyon it is."
    thinking = message.content[0]
    assert isinstance(thinking, ThinkingBlock)
    assert thinking.thinking == "Paris weather"
    tool = message.content[2]
    assert isinstance(tool, ToolUseBlock)
    assert tool.input == CALL.arguments


SPLIT_TEXT = "Ask Project Falcon, then project falcon."


def test_string_replace_match_split_at_every_pair_of_points() -> None:
    policy = string_replace(
        {"find": "project falcon", "replace": "the project", "ignore_case": True, "preserve_case": True},
        holdback_chars=0,
    )
    expected = "Ask The project, then the project."
    size = len(SPLIT_TEXT)

    for first, second in itertools.combinations(range(1, size), 2):
        pieces = [SPLIT_TEXT[:first], SPLIT_TEXT[first:second], SPLIT_TEXT[second:]]
        streamed, released = stream_text(policy, pieces)
        assert streamed == expected, pieces
        assert all(expected.startswith(prefix) for prefix in released), pieces


def test_string_replace_match_split_into_single_characters() -> None:
    policy = string_replace({"find": "Falcon", "replace": "Eagle"}, holdback_chars=0)

    streamed, released = stream_text(policy, list(SPLIT_TEXT))

    assert streamed == "Ask Project Eagle, then project falcon."
    assert all(streamed.startswith(prefix) for prefix in released)


def test_string_replace_holds_back_a_possible_match_start() -> None:
    # Holdback is at least the longest literal minus one: "Falco" (5 chars) may still become "Falcon".
    policy = string_replace({"find": "Falcon", "replace": "Eagle"}, holdback_chars=0)

    streamed, released = stream_text(policy, ["Hello there ", "Falco", "n! and more text"])

    # Text is released delta by delta: "Falco" waits, and goes out with the delta that completes it.
    assert released == ["", "Hello there ", "Hello there "]
    assert streamed == "Hello there Eagle! and more text"


def test_string_replace_never_releases_inside_a_regex_match_that_may_grow() -> None:
    policy = string_replace({"find": r"sk-[a-z]+", "replace": "[key]", "regex": True}, holdback_chars=3)

    streamed, released = stream_text(policy, ["token ", "sk-abcdef", "ghij", "klm done"])

    assert streamed == "token [key] done"
    assert released[:3] == ["", "token ", "token "]


def test_string_replace_default_holdback_keeps_the_tail_until_the_block_ends() -> None:
    policy = string_replace({"find": "zzz", "replace": "y"})
    pieces = ["a" * 10] * 10

    _, released = stream_text(policy, pieces)

    # After each delta, the whole deltas that lie before the last 64 characters are out.
    assert released == ["a" * max(0, (10 * count - 64) // 10 * 10) for count in range(1, 11)]


RULE_SETS: list[list[dict[str, Any]]] = [
    [{"find": "ab", "replace": "X"}],
    [{"find": "aba", "replace": "<>"}],
    [{"find": "AB", "replace": "cd", "ignore_case": True, "preserve_case": True}],
    [{"find": "b+a", "replace": "_", "regex": True}],
    [{"find": "a", "replace": "aa"}, {"find": "bb", "replace": "B"}],
]


@settings(max_examples=50, deadline=None)
@given(
    rules=st.sampled_from(RULE_SETS),
    text=st.text(alphabet="abAB ", max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
    holdback=st.integers(min_value=0, max_value=8),
)
def test_string_replace_streamed_equals_whole_text_for_any_chunking(
    rules: list[dict[str, Any]], text: str, cuts: list[int], holdback: int
) -> None:
    policy = string_replace(*rules, holdback_chars=holdback)
    points = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    pieces = [text[start:end] for start, end in itertools.pairwise(points)] or [""]
    # A regex's possible matches are bounded by the window only up to `holdback` characters.
    if any(rule.get("regex") for rule in rules):
        pieces = [text] if holdback < len(text) else pieces
    expected = policy.apply(text)

    streamed, released = stream_text(policy, pieces)

    assert streamed == expected
    assert all(expected.startswith(prefix) for prefix in released)


def test_string_replace_literal_matches_python_replace() -> None:
    policy = string_replace({"find": "needle", "replace": "pin"})
    text = "needle in a haystack of needles; needle."

    assert stream_text(policy, split_text(text, 13))[0] == text.replace("needle", "pin")


def test_string_replace_word_boundary_regex_at_the_release_cut() -> None:
    policy = string_replace({"find": r"\bcat\b", "replace": "dog", "regex": True})
    text = "concat " + "z" * 60  # the default 64-character holdback cuts between "con" and "cat"

    assert stream_text(policy, [text])[0] == policy.apply(text) == text


def test_string_replace_invalid_regex_is_a_config_error_naming_the_rule() -> None:
    with pytest.raises(ValidationError) as error:
        StringReplaceConfig.model_validate(
            {"replacements": [{"find": "([unclosed", "replace": "", "regex": True}]}
        )

    (problem,) = error.value.errors()
    assert problem["loc"][:2] == ("replacements", 0)


def test_string_replace_invalid_regex_stops_the_config() -> None:
    config = LuthienConfig.model_validate(
        {
            "policy": "redact",
            "policies": {
                "redact": {
                    "class": "string_replace",
                    "config": {
                        "replacements": [
                            {"find": "a", "replace": "b"},
                            {"find": "(", "replace": "", "regex": True},
                        ]
                    },
                }
            },
        }
    )

    with pytest.raises(ConfigError) as error:
        build_policies(config, "redact")

    cause = error.value.__cause__
    assert isinstance(cause, ValidationError)
    assert [problem["loc"][:2] for problem in cause.errors()] == [("replacements", 1)]


def test_string_replace_same_text_as_a_literal_is_not_a_regex() -> None:
    policy = string_replace({"find": "a.c(", "replace": "!"})

    assert stream_text(policy, ["abc( a.c("])[0] == "abc( !"


@pytest.mark.parametrize(
    "config",
    [
        {"replacements": []},
        {"replacements": [{"find": "", "replace": "x"}]},
        {"replacements": [{"find": "a", "replace": "b", "unknown": True}]},
        {"replacements": [{"find": "a", "replace": "b"}], "holdback_chars": -1},
        {"replacements": [{"find": "a", "replace": "b"}], "on_error": "maybe"},
        {},
    ],
    ids=["no_rules", "empty_find", "unknown_key", "negative_holdback", "bad_on_error", "missing"],
)
def test_string_replace_rejects_invalid_config(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        StringReplaceConfig.model_validate(config)


# --- chain ------------------------------------------------------------------------------------


def _chain(order: list[str]) -> Policy[Any]:
    config = LuthienConfig.model_validate(
        {
            "policy": "both",
            "policies": {
                "both": {"class": "chain", "config": {"policies": order}},
                "redact": {
                    "class": "string_replace",
                    "config": {"replacements": [{"find": "world", "replace": "there"}]},
                },
                "shout": {"class": "all_caps"},
            },
        }
    )
    return build_policies(config, "both")["both"]


@STREAMING
def test_chain_string_replace_then_all_caps(streaming: bool) -> None:
    message = run_policy(_chain(["redact", "shout"]), streaming, text="hello world", text_chunks=4)

    assert text_of(message) == "HELLO THERE"
    assert_untouched_parts(message)


@STREAMING
def test_chain_order_matters(streaming: bool) -> None:
    # Upper-cased first, "world" no longer matches the case-sensitive rule.
    message = run_policy(_chain(["shout", "redact"]), streaming, text="hello world", text_chunks=4)

    assert text_of(message) == "HELLO WORLD"


# --- debug_logging ----------------------------------------------------------------------------


def test_debug_logging_changes_no_byte_and_logs_every_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="luthien.policy.debug")
    frames = anthropic_stream(TEXT, thinking=THINKING, tool_calls=[CALL], text_chunks=4)
    body = anthropic_message(TEXT, thinking=THINKING, tool_calls=[CALL])
    raw_body = orjson.dumps(body)

    streamed = through_stream(
        DebugLoggingPolicy(PolicyConfig(), "debug"), frames, chunked(b"".join(frames), 5)
    )
    stage = PolicyStage(DebugLoggingPolicy(PolicyConfig(), "debug"), make_ctx("debug"), ANTHROPIC_MESSAGES)
    whole = asyncio.run(run_body(ANTHROPIC_MESSAGES, raw_body, stage))

    assert streamed == b"".join(frames)
    assert whole == raw_body
    # One record per normalized event (pings are not events a policy sees), stream then body.
    codec = AnthropicCodec()
    parser = SSEParser()
    decoded = [
        e for frame in parser.feed(b"".join(frames)) for e in codec.decode(ANTHROPIC_MESSAGES.decode(frame))
    ]
    stream_events = [e for e in decoded if not isinstance(e, Opaque)]
    body_events = AnthropicCodec().decode_body(response_event(raw_body, body))
    records = [r for r in caplog.records if r.name == "luthien.policy.debug"]
    assert [r.args[1] if isinstance(r.args, tuple) else None for r in records] == [
        *stream_events,
        *body_events,
    ]
    assert all(record.levelno == logging.INFO for record in records)


def test_debug_logging_logs_the_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="luthien.policy.debug")
    ctx = make_ctx("debug")
    body = {"model": MODEL, "max_tokens": 5, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    request = CallRequest(WireFormat.ANTHROPIC, body, orjson.dumps(body))

    forwarded = asyncio.run(HookRunner(DebugLoggingPolicy(PolicyConfig(), "debug"), ctx).on_request(request))

    assert forwarded is request
    (record,) = [r for r in caplog.records if r.name == "luthien.policy.debug"]
    assert record.args == ("tx-test", MODEL, True, 1, 0)


def test_debug_logging_stream_through_a_real_server_is_byte_identical(
    make_luthien: LuthienFactory, fake: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="luthien.policy.debug_logging")
    server = make_luthien(test_policy="debug_logging")
    frames = anthropic_stream(TEXT, thinking=THINKING, signature=SIGNATURE, tool_calls=[CALL], text_chunks=5)
    body = anthropic_message(TEXT, thinking=THINKING, tool_calls=[CALL])
    fake.enqueue(StreamReply(frames), JSONReply(body))
    request = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}

    with httpx.stream("POST", f"{server.base_url}/v1/messages", json={**request, "stream": True}) as response:
        received = b"".join(response.iter_bytes())
        stream_tx = response.headers["x-luthien-transaction-id"]
        assert response.headers["x-luthien-policy"] == "debug_logging"
    whole = httpx.post(f"{server.base_url}/v1/messages", json=request)

    assert received == b"".join(frames)
    assert whole.content == orjson.dumps(body)
    assert whole.headers["x-luthien-policy"] == "debug_logging"
    logged_for = {
        record.args[0]
        for record in caplog.records
        if record.name == "luthien.policy.debug_logging" and isinstance(record.args, tuple)
    }
    assert logged_for == {stream_tx, whole.headers["x-luthien-transaction-id"]}


# --- SimplePolicy and helpers -----------------------------------------------------------------


class Careful(SimplePolicy[PolicyConfig]):
    """Redacts a codename, blocks deletions, drops `noop` calls, rewrites `get_weather` units."""

    async def on_text(self, text: str, ctx: PolicyContext) -> str:
        return text.replace("Wörld", "[redacted]")

    async def on_tool_call(self, call: ToolCall, ctx: PolicyContext) -> ToolCall | Blocked | None:
        arguments = call.parsed_arguments or {}
        if call.name == "bash" and "rm -rf" in str(arguments.get("command", "")):
            return Blocked("recursive deletes are not allowed here")
        if call.name == "noop":
            return None
        if call.name == "get_weather":
            return ToolCall(call.id, call.name, orjson.dumps({**arguments, "units": "imperial"}).decode())
        return call


@STREAMING
def test_simple_policy_text_and_changed_tool_call(streaming: bool) -> None:
    message = run_policy(Careful(PolicyConfig(), "careful"), streaming)

    assert text_of(message) == "Hello, [redacted]! Straße at 21 °C."
    tool = message.content[2]
    assert isinstance(tool, ToolUseBlock)
    assert (tool.id, tool.input) == (CALL.id, {"city": "Paris", "units": "imperial"})
    assert message.stop_reason == "tool_use"


@STREAMING
def test_simple_policy_blocked_call_becomes_a_message(streaming: bool) -> None:
    call = FakeToolCall("toolu_01Bash", "bash", {"command": "rm -rf /"})
    kwargs: dict[str, Any] = {"tool_calls": [call]}
    policy = Careful(PolicyConfig(), "careful")
    if streaming:
        message = sdk_parse(through_stream(policy, anthropic_stream("Deleting.", **kwargs)), True)
    else:
        message = sdk_parse(through_body(policy, anthropic_message("Deleting.", **kwargs)), False)

    expected = blocked_message(
        ToolCall(call.id, call.name, '{"command": "rm -rf /"}'), "recursive deletes are not allowed here"
    )
    assert [block.type for block in message.content] == ["text", "text"]
    assert text_of_blocks(message) == ["Deleting.", expected]
    assert message.stop_reason == "end_turn"


@STREAMING
def test_simple_policy_dropped_call_turns_the_stop_reason_to_end_turn(streaming: bool) -> None:
    call = FakeToolCall("toolu_01Noop", "noop", {})
    policy = Careful(PolicyConfig(), "careful")
    if streaming:
        message = sdk_parse(through_stream(policy, anthropic_stream("Nothing.", tool_calls=[call])), True)
    else:
        message = sdk_parse(through_body(policy, anthropic_message("Nothing.", tool_calls=[call])), False)

    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason == "end_turn"


def test_simple_policy_holds_only_what_it_reads() -> None:
    class TextOnly(SimplePolicy[PolicyConfig]):
        async def on_text(self, text: str, ctx: PolicyContext) -> str:
            return text

    assert Careful.holds == frozenset({BlockKind.TEXT, BlockKind.TOOL_CALL})
    assert TextOnly.holds == frozenset({BlockKind.TEXT})


def test_blocked_message_shows_pretty_arguments_and_cuts_long_values() -> None:
    call = ToolCall("id", "write", orjson.dumps({"path": "a.txt", "content": "x" * 30}).decode())

    text = blocked_message(call, "  no writes  ", limit=10)

    assert text == (
        "**Blocked tool call: `write`**\n\nno writes\n\nArguments:\n\n```json\n"
        + orjson.dumps(
            {"path": "a.txt", "content": "x" * 10 + TRUNCATION_MARKER}, option=orjson.OPT_INDENT_2
        ).decode()
        + "\n```\n"
    )


def test_format_arguments_of_invalid_json_is_the_text_as_sent() -> None:
    assert format_arguments(ToolCall("id", "f", '{"cut": "off')) == '{"cut": "off'
    assert format_arguments(ToolCall("id", "f", "y" * 12), limit=4) == "yyyy" + TRUNCATION_MARKER


def test_replace_arguments_keeps_id_and_name() -> None:
    (replaced,) = replace_arguments(BlockComplete(3, tool_call_block(ToolCall("c1", "f", "{}"))), {"a": 1})

    assert replaced == BlockComplete(3, tool_call_block(ToolCall("c1", "f", '{"a":1}')))


def test_replace_arguments_needs_a_tool_call() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the type is the contract, not the text)
        replace_arguments(BlockComplete(3, text_block("not a tool call")), {})
