"""Upstream answers the fake provider's builders do not make: refusals, interleaved Chat tool calls.

Each is the wire form the provider documents, as frames (a stream) or a JSON body.
"""

from __future__ import annotations

from typing import Any

import orjson

from luthien.testing.fake_provider.script import sse_frame
from luthien.testing.streams import ApiName, ModelReply

REFUSAL_PIECES = ("I can't help ", "with that.")
REFUSAL_TEXT = "".join(REFUSAL_PIECES)
CHAT_ID = "chatcmpl-translate"
RESPONSE_ID = "resp_translate"
OPENAI_MODEL = "gpt-test"


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    payload = {
        "id": CHAT_ID,
        "object": "chat.completion.chunk",
        "created": 1,
        "model": OPENAI_MODEL,
        "choices": [choice],
    }
    if usage is not None:
        payload = {**payload, "choices": [], "usage": usage}
    return sse_frame(None, payload)


CHAT_USAGE = {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37}


def chat_refusal(stream: bool) -> ModelReply:
    """A Chat answer that is a refusal (the `refusal` field, `finish_reason` stop)."""
    if not stream:
        message = {"role": "assistant", "content": None, "refusal": REFUSAL_TEXT}
        body = {
            "id": CHAT_ID,
            "object": "chat.completion",
            "created": 1,
            "model": OPENAI_MODEL,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": CHAT_USAGE,
        }
        return ModelReply("openai_chat", body=orjson.dumps(body))
    frames = [
        _chunk({"role": "assistant", "content": None, "refusal": ""}),
        *(_chunk({"refusal": piece}) for piece in REFUSAL_PIECES),
        _chunk({}, "stop"),
        _chunk({}, usage=CHAT_USAGE),
        b"data: [DONE]\n\n",
    ]
    return ModelReply("openai_chat", frames=tuple(frames))


def chat_interleaved_calls() -> ModelReply:
    """Two Chat tool calls whose argument fragments interleave by `index`, after some text."""
    frames = [
        _chunk({"role": "assistant", "content": "Checking."}),
        _chunk(
            {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "Bash"}}]}
        ),
        _chunk(
            {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "Read"}}]}
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"comm'}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"path": '}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'and": "ls"}'}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"/etc"}'}}]}),
        _chunk({}, "tool_calls"),
        _chunk({}, usage=CHAT_USAGE),
        b"data: [DONE]\n\n",
    ]
    return ModelReply("openai_chat", frames=tuple(frames))


def _response(status: str, output: list[Any]) -> dict[str, Any]:
    usage = {
        "input_tokens": 30,
        "input_tokens_details": {"cached_tokens": 10},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 37,
    }
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": OPENAI_MODEL,
        "output": output,
        "usage": usage if status == "completed" else None,
        "error": None,
        "incomplete_details": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


def responses_refusal(stream: bool) -> ModelReply:
    """A Responses answer that is a refusal part of a message item."""
    part = {"type": "refusal", "refusal": REFUSAL_TEXT}
    item = {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant", "content": [part]}
    if not stream:
        return ModelReply("openai_responses", body=orjson.dumps(_response("completed", [item])))
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    added = {**item, "status": "in_progress", "content": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response("in_progress", [])},
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.content_part.added", **where, "part": {"type": "refusal", "refusal": ""}},
        *({"type": "response.refusal.delta", **where, "delta": piece} for piece in REFUSAL_PIECES),
        {"type": "response.refusal.done", **where, "refusal": REFUSAL_TEXT},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": _response("completed", [item])},
    ]
    frames = [
        sse_frame(str(event["type"]), {**event, "sequence_number": number})
        for number, event in enumerate(events)
    ]
    return ModelReply("openai_responses", frames=tuple(frames))


def refusal(api: ApiName, stream: bool) -> ModelReply:
    """A refusal in `api` (Anthropic: text with the `refusal` stop reason)."""
    if api == "openai_chat":
        return chat_refusal(stream)
    if api == "openai_responses":
        return responses_refusal(stream)
    from luthien.testing.fake_provider.anthropic_wire import anthropic_message, anthropic_stream

    if stream:
        return ModelReply(api, frames=tuple(anthropic_stream(REFUSAL_TEXT, stop_reason="refusal")))
    return ModelReply(api, body=orjson.dumps(anthropic_message(REFUSAL_TEXT, stop_reason="refusal")))
