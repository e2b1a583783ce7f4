"""The three codecs (Anthropic Messages, Chat Completions, Responses) under one suite.

Each test runs for every API: an upstream answer made by the fake provider's builders goes through
the codec as the pipeline runs it (decode, event policy, repair, encode), and the client's own SDK
reads what comes out, through the fake provider, as text blocks, tool calls, a stop reason and usage.
What only one API has (its own frames, ids, sequence numbers, keys) is tested in that API's file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import anthropic
import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_chat.codec import TEXT_BLOCK_SEPARATOR
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import BlockKind
from luthien.wire.apis import WireApi
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    StreamReply,
    anthropic_message,
    anthropic_stream,
    chat_completion,
    chat_stream,
    response_object,
    responses_stream,
)
from tests.fake_provider import ToolCall as FakeCall
from tests.support.codec_streams import EventPolicy, cut, identity, transcode, transcode_body
from tests.support.event_policies import (
    BLOCKED_TEXT,
    Rewrite,
    appending,
    blocking_tools,
    dropping,
    dropping_tools,
    passing_tools,
    upper_text,
)

WEATHER = FakeCall("call_W", "get_weather", {"city": "Paris", "units": "metric", "days": [1, 2, 3]})
TIME = FakeCall("call_T", "get_time", {"timezone": "Europe/Paris"})
PROMPT = "hi"
MAX_TOKENS = 100
KEEPALIVE = b": keep-alive\n\n"


class Sdks(NamedTuple):
    """The clients' SDKs, calling the fake provider."""

    claude: anthropic.Anthropic
    oai: openai.OpenAI


@dataclass(frozen=True)
class Answer:
    """What a client's SDK made of an answer, in one shape for every API."""

    texts: list[str]
    calls: list[tuple[str, str, Any]]
    """Each tool call's id, name and parsed arguments."""
    stop: str
    input_tokens: int | None


# --- each API: its builders, how its SDK reads an answer, how it shows text and stops -------------


def anthropic_frames(text: str, *, reasoning: str | None = None, **options: Any) -> list[bytes]:
    return anthropic_stream(text, thinking=reasoning, **options)


def anthropic_body(text: str, *, reasoning: str | None = None, **options: Any) -> dict[str, Any]:
    return anthropic_message(text, thinking=reasoning, **options)


def anthropic_answer(message: anthropic.types.Message) -> Answer:
    texts = [block.text for block in message.content if block.type == "text"]
    calls = [(block.id, block.name, block.input) for block in message.content if block.type == "tool_use"]
    return Answer(texts, calls, message.stop_reason or "", message.usage.input_tokens)


def anthropic_read_stream(sdks: Sdks) -> Answer:
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": PROMPT}]
    with sdks.claude.messages.stream(model="claude", max_tokens=MAX_TOKENS, messages=messages) as stream:
        return anthropic_answer(stream.get_final_message())


def anthropic_read_body(sdks: Sdks) -> Answer:
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": PROMPT}]
    return anthropic_answer(
        sdks.claude.messages.create(model="claude", max_tokens=MAX_TOKENS, messages=messages)
    )


CHAT_MESSAGES: Any = [{"role": "user", "content": PROMPT}]


def chat_answer(completion: Any) -> Answer:
    choice = completion.choices[0]
    content: str | None = choice.message.content
    calls = [
        (call.id, call.function.name, orjson.loads(call.function.arguments))
        for call in choice.message.tool_calls or []
    ]
    usage = completion.usage.prompt_tokens if completion.usage else None
    return Answer([content] if content else [], calls, choice.finish_reason, usage)


def chat_read_stream(sdks: Sdks) -> Answer:
    with sdks.oai.chat.completions.stream(model="gpt-5", messages=CHAT_MESSAGES) as stream:
        for _ in stream:
            pass
        return chat_answer(stream.get_final_completion())


def chat_read_body(sdks: Sdks) -> Answer:
    return chat_answer(sdks.oai.chat.completions.create(model="gpt-5", messages=CHAT_MESSAGES))


def responses_answer(response: Any) -> Answer:
    # A text block is one `output_text` part (a message item may hold several).
    texts = [
        part.text
        for item in response.output
        if isinstance(item, ResponseOutputMessage)
        for part in item.content
        if part.type == "output_text"
    ]
    calls = [
        (item.call_id, item.name, orjson.loads(item.arguments))
        for item in response.output
        if isinstance(item, ResponseFunctionToolCall)
    ]
    usage = response.usage.input_tokens if response.usage else None
    return Answer(texts, calls, response.status, usage)


def responses_read_stream(sdks: Sdks) -> Answer:
    with sdks.oai.responses.stream(model="gpt-5", input=PROMPT) as stream:
        return responses_answer(stream.get_final_response())


def responses_read_body(sdks: Sdks) -> Answer:
    return responses_answer(sdks.oai.responses.create(model="gpt-5", input=PROMPT))


def each_block(texts: list[str]) -> list[str]:
    return texts


def one_string(texts: list[str]) -> list[str]:
    return [TEXT_BLOCK_SEPARATOR.join(texts)] if texts else []


@dataclass(frozen=True)
class Codec:
    """One API under test."""

    name: str
    api: WireApi
    stream: Callable[..., list[bytes]]
    """The fake provider's stream builder (`text`, `reasoning`, `tool_calls`, chunk counts)."""
    body: Callable[..., dict[str, Any]]
    """The fake provider's body builder (`text`, `reasoning`, `tool_calls`)."""
    read_stream: Callable[[Sdks], Answer]
    read_body: Callable[[Sdks], Answer]
    shown: Callable[[list[str]], list[str]]
    """How the client shows text blocks: one each (Messages, Responses), or one string (Chat)."""
    plain_stop: str
    tool_stop: str

    def read(self, fake: FakeProvider, sdks: Sdks, data: bytes) -> Answer:
        """What the SDK makes of `data` as a streamed answer."""
        fake.enqueue(StreamReply([data]))
        return self.read_stream(sdks)

    def read_whole(self, fake: FakeProvider, sdks: Sdks, body: dict[str, Any]) -> Answer:
        """What the SDK makes of `body` as a whole answer."""
        fake.enqueue(JSONReply(body))
        return self.read_body(sdks)


CODECS = [
    Codec(
        "anthropic",
        ANTHROPIC_MESSAGES,
        anthropic_frames,
        anthropic_body,
        anthropic_read_stream,
        anthropic_read_body,
        each_block,
        "end_turn",
        "tool_use",
    ),
    Codec(
        "chat",
        OPENAI_CHAT,
        chat_stream,
        chat_completion,
        chat_read_stream,
        chat_read_body,
        one_string,
        "stop",
        "tool_calls",
    ),
    Codec(
        "responses",
        OPENAI_RESPONSES,
        responses_stream,
        response_object,
        responses_read_stream,
        responses_read_body,
        each_block,
        "completed",
        "completed",
    ),
]
ALL_APIS = pytest.mark.parametrize("codec", CODECS, ids=[codec.name for codec in CODECS])


@pytest.fixture
def sdks(claude: anthropic.Anthropic, oai: openai.OpenAI) -> Sdks:
    return Sdks(claude, oai)


def call(fake_call: FakeCall) -> tuple[str, str, Any]:
    return fake_call.id, fake_call.name, fake_call.arguments


# --- unchanged answers are byte-exact -------------------------------------------------------------

VARIANTS: dict[str, dict[str, Any]] = {
    "text": {"text": "Just text, split in pieces.", "text_chunks": 5},
    "tools": {"text": "", "tool_calls": [WEATHER, TIME], "json_chunks": 7},
    "text_tools": {"text": "Calling.", "tool_calls": [WEATHER]},
    "parallel_tools": {"text": "Let me check.", "tool_calls": [WEATHER, TIME], "json_chunks": 6},
    "reasoning": {"text": "Hello there, world.", "reasoning": "Let me think.", "tool_calls": [WEATHER, TIME]},
    "bad_json": {"text": "", "tool_calls": [FakeCall("call_x", "f", '{"cut": ')]},
}


@ALL_APIS
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_identity_is_byte_exact(codec: Codec, variant: str) -> None:
    upstream = b"".join(codec.stream(**VARIANTS[variant]))

    run = transcode(codec.api, upstream)

    assert run.out == upstream
    assert run.reports == []


@ALL_APIS
def test_identity_through_a_tool_holding_policy(codec: Codec) -> None:
    """A policy that holds tool calls and passes them on unchanged still gets the exact bytes."""
    upstream = b"".join(codec.stream(**VARIANTS["reasoning"]))

    assert transcode(codec.api, upstream, passing_tools()).out == upstream


def uppercase_dropping_get_time() -> EventPolicy:
    return Rewrite(text=str.upper, tools=lambda tool_call: "drop" if tool_call.name == TIME.name else "pass")


CHUNKING_POLICIES: dict[str, Callable[[], EventPolicy]] = {
    "identity": lambda: identity,
    "upper_text": lambda: upper_text,
    "upper_text_dropping_get_time": uppercase_dropping_get_time,
}


@ALL_APIS
@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0), max_size=40),
    policy=st.sampled_from(sorted(CHUNKING_POLICIES)),
)
def test_chunking_does_not_change_output(codec: Codec, cuts: list[int], policy: str) -> None:
    frames = codec.stream("Some text here.", tool_calls=[WEATHER, TIME])
    upstream = b"".join([*frames[:4], KEEPALIVE, *frames[4:]])
    make = CHUNKING_POLICIES[policy]

    whole = transcode(codec.api, upstream, make())

    assert transcode(codec.api, upstream, make(), cut(upstream, cuts))[:2] == whole[:2]
    if policy == "identity":
        assert whole.out == upstream


# --- changed streams: the client's SDK reads the change ---------------------------------------------


@ALL_APIS
def test_changed_text(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    upstream = b"".join(codec.stream(**VARIANTS["reasoning"]))
    run = transcode(codec.api, upstream, upper_text)

    answer = codec.read(fake, sdks, run.out)

    assert run.reports == []
    assert answer.texts == codec.shown(["HELLO THERE, WORLD."])
    assert answer.calls == [call(WEATHER), call(TIME)]
    assert answer.stop == codec.tool_stop
    assert answer.input_tokens is not None
    assert answer.input_tokens == codec.read(fake, sdks, upstream).input_tokens


@ALL_APIS
def test_dropped_tool_calls_become_a_plain_stop(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    upstream = b"".join(codec.stream("Let me check.", tool_calls=[WEATHER, TIME]))

    answer = codec.read(fake, sdks, transcode(codec.api, upstream, dropping_tools()).out)

    assert answer.texts == codec.shown(["Let me check."])
    assert answer.calls == []
    assert answer.stop == codec.plain_stop
    assert answer.input_tokens == codec.read(fake, sdks, upstream).input_tokens


@ALL_APIS
def test_a_blocked_tool_call_is_replaced_by_text(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    upstream = codec.stream("Checking.", tool_calls=[WEATHER, TIME])
    policy = Rewrite(tools=lambda tool_call: "block" if tool_call.name == TIME.name else "pass")

    answer = codec.read(fake, sdks, transcode(codec.api, upstream, policy).out)

    assert answer.texts == codec.shown(["Checking.", "blocked get_time"])
    assert answer.calls == [call(WEATHER)]
    assert answer.stop == codec.tool_stop


@ALL_APIS
def test_every_tool_call_blocked_is_a_plain_stop(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    upstream = codec.stream("", tool_calls=[WEATHER, TIME], json_chunks=7)

    answer = codec.read(fake, sdks, transcode(codec.api, upstream, blocking_tools()).out)

    assert answer.texts == codec.shown([BLOCKED_TEXT, BLOCKED_TEXT])
    assert answer.calls == []
    assert answer.stop == codec.plain_stop


@ALL_APIS
def test_appended_text_block(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    upstream = codec.stream("Answer.", tool_calls=[TIME])

    answer = codec.read(fake, sdks, transcode(codec.api, upstream, appending(" [checked]")).out)

    assert answer.texts == codec.shown(["Answer.", " [checked]"])
    assert answer.calls == [call(TIME)]
    assert answer.stop == codec.tool_stop


@ALL_APIS
def test_dropped_text_block(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    upstream = codec.stream("Secret.", tool_calls=[TIME])

    answer = codec.read(fake, sdks, transcode(codec.api, upstream, dropping(BlockKind.TEXT)).out)

    assert answer.texts == []
    assert answer.calls == [call(TIME)]
    assert answer.stop == codec.tool_stop


# --- whole bodies -------------------------------------------------------------------------------


def body_of(codec: Codec) -> dict[str, Any]:
    return codec.body("Done.", reasoning="Because.", tool_calls=[WEATHER, TIME])


@ALL_APIS
def test_an_unchanged_body_is_the_original(codec: Codec) -> None:
    original, encoded = transcode_body(codec.api, body_of(codec))

    assert encoded is original


@ALL_APIS
def test_body_changed_text(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    _, encoded = transcode_body(codec.api, body_of(codec), upper_text)

    answer = codec.read_whole(fake, sdks, encoded.data)

    assert answer.texts == codec.shown(["DONE."])
    assert answer.calls == [call(WEATHER), call(TIME)]
    assert answer.stop == codec.tool_stop


@ALL_APIS
def test_body_tool_calls_dropped_and_blocked(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    _, dropped = transcode_body(codec.api, body_of(codec), dropping_tools())
    _, blocked = transcode_body(codec.api, body_of(codec), blocking_tools())

    without_calls = codec.read_whole(fake, sdks, dropped.data)
    with_texts = codec.read_whole(fake, sdks, blocked.data)

    assert (without_calls.texts, without_calls.calls) == (codec.shown(["Done."]), [])
    assert without_calls.stop == codec.plain_stop
    assert with_texts.texts == codec.shown(["Done.", BLOCKED_TEXT, BLOCKED_TEXT])
    assert with_texts.calls == []
    assert with_texts.stop == codec.plain_stop


@ALL_APIS
def test_body_text_appended_and_dropped(codec: Codec, fake: FakeProvider, sdks: Sdks) -> None:
    _, appended = transcode_body(codec.api, body_of(codec), appending("!"))
    _, dropped = transcode_body(codec.api, body_of(codec), dropping(BlockKind.TEXT))

    with_note = codec.read_whole(fake, sdks, appended.data)
    without_text = codec.read_whole(fake, sdks, dropped.data)

    assert with_note.texts == codec.shown(["Done.", "!"])
    assert with_note.calls == [call(WEATHER), call(TIME)]
    assert without_text.texts == []
    assert without_text.calls == [call(WEATHER), call(TIME)]
