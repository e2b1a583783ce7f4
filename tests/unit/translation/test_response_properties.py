"""Property: any valid upstream answer of one API, translated to another, reads the same in its SDK.

Random answers (text, reasoning, zero to three tool calls with random arguments, random delta
splits; Chat tool calls with randomly interleaved argument fragments; a random stop), streamed or
whole, built by the fake provider's builders of API X, are translated to API Y and read by Y's SDK:
text, reasoning, tool calls (ids, names, parsed arguments), stop and usage must equal what X's SDK
reads from the original.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from luthien.testing.fake_provider.openai_chat_wire import chat_stream
from luthien.testing.fake_provider.script import ToolCall, sse_frame
from luthien.testing.streams import API_NAMES, ApiName, ModelReply, model_reply
from tests.unit.translation.sdk_views import translate, view

PAIRS = [(upstream, client) for upstream in API_NAMES for client in API_NAMES if upstream != client]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
KEYS = st.sampled_from(["command", "path", "n", "flags", "note"])
VALUES = st.one_of(st.integers(-5, 5), TEXT, st.booleans(), st.lists(st.integers(0, 9), max_size=3))


@st.composite
def tool_calls(draw: st.DrawFn) -> list[ToolCall]:
    count = draw(st.integers(0, 3))
    return [
        ToolCall(
            f"call_{index}x{draw(st.integers(0, 999))}",
            draw(st.sampled_from(["Bash", "Read", "Edit"])),
            draw(st.dictionaries(KEYS, VALUES, max_size=3)),
        )
        for index in range(count)
    ]


def _interleaved_chat(text: str, calls: list[ToolCall], order: list[int], pieces: int) -> ModelReply:
    """A Chat stream whose tool calls' argument fragments arrive in the drawn interleaving."""
    base = {"id": "chatcmpl-p", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse_frame(None, {**base, "choices": [choice]})

    frames = [chunk({"role": "assistant", "content": text or None})]
    fragments: list[list[dict[str, Any]]] = []
    for index, call in enumerate(calls):
        arguments = orjson.dumps(call.arguments).decode()
        size = max(1, -(-len(arguments) // pieces))
        parts = [arguments[at : at + size] for at in range(0, len(arguments), size)]
        head = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        fragments.append([head, *({"index": index, "function": {"arguments": part}} for part in parts)])
    started = 0
    for index in order:
        while started <= index:  # calls start in index order (as OpenAI sends, and its SDK needs)
            frames.append(chunk({"tool_calls": [fragments[started].pop(0)]}))
            started += 1
        if fragments[index]:
            frames.append(chunk({"tool_calls": [fragments[index].pop(0)]}))
    for remaining in fragments:
        frames.extend(chunk({"tool_calls": [entry]}) for entry in remaining)
    frames.append(chunk({}, "tool_calls" if calls else "stop"))
    usage = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
    frames.extend([sse_frame(None, {**base, "choices": [], "usage": usage}), b"data: [DONE]\n\n"])
    return ModelReply("openai_chat", frames=tuple(frames))


@st.composite
def replies(draw: st.DrawFn, api: ApiName) -> ModelReply:
    calls = draw(tool_calls())
    text = draw(TEXT)
    stream = draw(st.booleans())
    if api == "openai_chat" and stream and calls and draw(st.booleans()):
        order = draw(st.lists(st.integers(0, len(calls) - 1), max_size=12))
        return _interleaved_chat(text, calls, order, draw(st.integers(1, 4)))
    if api == "openai_chat" and stream and not calls and draw(st.booleans()):
        return ModelReply(api, frames=tuple(chat_stream(text or "x", finish_reason="length")))
    thinking = draw(st.one_of(st.none(), TEXT.filter(bool)))
    return model_reply(
        api,
        text,
        thinking=thinking,
        tool_calls=calls,
        text_chunks=draw(st.integers(1, 4)),
        json_chunks=draw(st.integers(1, 4)),
        stream=stream,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[ModelReply, ApiName]:
    upstream, client = draw(st.sampled_from(PAIRS))
    return draw(replies(upstream)), client


@settings(max_examples=150, deadline=None)
@given(case=cases())
def test_any_answer_reads_the_same_in_the_clients_sdk(case: tuple[ModelReply, ApiName]) -> None:
    reply, client = case
    expected = view(reply.api, reply.raw, reply.streaming)
    assert view(client, translate(reply, client), reply.streaming) == expected
