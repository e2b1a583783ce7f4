"""Builders of realistic OpenAI Responses API bodies and SSE streams."""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from luthien.testing.fake_provider.script import ToolCall, split_text, sse_frame

__all__ = [
    "new_response_id",
    "response_object",
    "responses_error_event",
    "responses_stream",
    "responses_usage",
]

OPENAI_DEFAULT_MODEL = "gpt-5"
DEFAULT_TEXT = "Hello from the fake provider."


def _hex_id(prefix: str) -> str:
    return prefix + secrets.token_hex(25)


def new_response_id() -> str:
    """Return a fresh response id shaped like OpenAI's (``resp_<50 hex>``)."""
    return _hex_id("resp_")


def _arguments_json(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


def _estimate_tokens(*texts: str) -> int:
    return max(1, sum(len(text) for text in texts) // 4)


def responses_usage(
    *,
    input_tokens: int = 25,
    output_tokens: int = 12,
    reasoning_tokens: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a Responses ``usage`` object.

    Args:
        input_tokens: Input tokens.
        output_tokens: Output tokens, reasoning included.
        reasoning_tokens: The part of ``output_tokens`` spent reasoning.
        overrides: Keys replacing or adding to the defaults.

    Returns:
        The usage dict, with the token-detail objects the real API sends.
    """
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }
    if overrides:
        usage.update(overrides)
    return usage


def _final_usage(
    text: str, tool_calls: Sequence[ToolCall], reasoning: str | None, usage: Mapping[str, Any] | None
) -> dict[str, Any]:
    reasoning_tokens = _estimate_tokens(reasoning) if reasoning is not None else 0
    output = _estimate_tokens(text, *(_arguments_json(c.arguments) for c in tool_calls)) + reasoning_tokens
    return responses_usage(output_tokens=output, reasoning_tokens=reasoning_tokens, overrides=usage)


def _output_items(text: str, tool_calls: Sequence[ToolCall], reasoning: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reasoning is not None:
        summary = [{"type": "summary_text", "text": reasoning}] if reasoning else []
        items.append({"id": _hex_id("rs_"), "type": "reasoning", "summary": summary})
    if text or not tool_calls:
        items.append(
            {
                "id": _hex_id("msg_"),
                "type": "message",
                "status": "completed",
                "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}],
                "role": "assistant",
            }
        )
    items.extend(
        {
            "id": _hex_id("fc_"),
            "type": "function_call",
            "status": "completed",
            "arguments": _arguments_json(call.arguments),
            "call_id": call.id,
            "name": call.name,
        }
        for call in tool_calls
    )
    return items


def _envelope(
    *,
    response_id: str,
    created_at: int,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    finished = status in ("completed", "incomplete")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": "medium", "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if finished else None,
        "user": None,
        "metadata": {},
    }


def response_object(
    text: str = DEFAULT_TEXT,
    *,
    tool_calls: Sequence[ToolCall] = (),
    reasoning: str | None = None,
    model: str = OPENAI_DEFAULT_MODEL,
    response_id: str | None = None,
    created_at: int | None = None,
    status: str = "completed",
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a non-streaming ``/v1/responses`` response body.

    Output items come in the order the API uses: a reasoning item (when ``reasoning`` is given),
    a message item (left out when ``text`` is empty and there are tool calls), then one
    ``function_call`` item per tool call.

    Args:
        text: The assistant's text.
        reasoning: Reasoning summary text; None for no reasoning item, "" for one with no summary.
        tool_calls: Function calls; ``ToolCall.id`` becomes ``call_id`` and a str argument is sent
            verbatim.
        model: The model name echoed back.
        response_id: The response id; a fresh ``resp_...`` id by default.
        created_at: The ``created_at`` Unix time; now by default.
        status: ``"completed"`` or ``"incomplete"`` (with ``max_output_tokens`` as the reason).
        usage: Keys overriding the default usage.

    Returns:
        The response as a JSON-ready dict.
    """
    return _envelope(
        response_id=response_id or new_response_id(),
        created_at=int(time.time()) if created_at is None else created_at,
        model=model,
        status=status,
        output=_output_items(text, tool_calls, reasoning),
        usage=_final_usage(text, tool_calls, reasoning, usage),
    )


def responses_stream(
    text: str = DEFAULT_TEXT,
    *,
    tool_calls: Sequence[ToolCall] = (),
    reasoning: str | None = None,
    model: str = OPENAI_DEFAULT_MODEL,
    response_id: str | None = None,
    created_at: int | None = None,
    status: str = "completed",
    usage: Mapping[str, Any] | None = None,
    text_chunks: int = 3,
    json_chunks: int = 5,
) -> list[bytes]:
    """Build the SSE frames of a streaming ``/v1/responses`` response.

    The frames are ``response.created`` and ``response.in_progress``; for each output item
    ``response.output_item.added``, its deltas (``reasoning_summary_part``/``reasoning_summary_text``
    for reasoning; ``content_part.added``, ``output_text.delta`` pieces, ``output_text.done``,
    ``content_part.done`` for the message; ``function_call_arguments.delta`` pieces and ``.done``
    for a function call) and ``response.output_item.done``; then ``response.completed`` (or
    ``response.incomplete``) carrying the full response and usage. Every event has a
    ``sequence_number`` counting up from 0.

    Args:
        text: The assistant's text.
        tool_calls: Function calls; a str argument is streamed verbatim.
        reasoning: Reasoning summary text; None for no reasoning item.
        model: The model name echoed back.
        response_id: The response id; a fresh ``resp_...`` id by default.
        created_at: The ``created_at`` Unix time; now by default.
        status: ``"completed"`` or ``"incomplete"``; picks the final event.
        usage: Keys overriding the usage of the final response.
        text_chunks: How many deltas the text (and the reasoning summary) is split into.
        json_chunks: How many deltas each function call's arguments are split into.

    Returns:
        The complete SSE frames, in order.
    """
    rid = response_id or new_response_id()
    created = int(time.time()) if created_at is None else created_at
    items = _output_items(text, tool_calls, reasoning)
    frames: list[bytes] = []

    def emit(event_type: str, **fields: Any) -> None:
        frames.append(sse_frame(event_type, {"type": event_type, **fields, "sequence_number": len(frames)}))

    def envelope(state: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        final_usage = _final_usage(text, tool_calls, reasoning, usage)
        return _envelope(
            response_id=rid, created_at=created, model=model, status=state, output=output, usage=final_usage
        )

    emit("response.created", response=envelope("in_progress", []))
    emit("response.in_progress", response=envelope("in_progress", []))
    for output_index, item in enumerate(items):
        item_id = str(item["id"])
        where: dict[str, Any] = {"item_id": item_id, "output_index": output_index}
        if item["type"] == "reasoning":
            emit("response.output_item.added", output_index=output_index, item={**item, "summary": []})
            for summary_index, part in enumerate(item["summary"]):
                summary_text = str(part["text"])
                empty_part = {"type": "summary_text", "text": ""}
                at = {**where, "summary_index": summary_index}
                emit("response.reasoning_summary_part.added", **at, part=empty_part)
                for piece in split_text(summary_text, text_chunks):
                    emit("response.reasoning_summary_text.delta", **at, delta=piece)
                emit("response.reasoning_summary_text.done", **at, text=summary_text)
                emit("response.reasoning_summary_part.done", **at, part=copy.deepcopy(part))
        elif item["type"] == "message":
            emit(
                "response.output_item.added",
                output_index=output_index,
                item={**item, "status": "in_progress", "content": []},
            )
            for content_index, part in enumerate(item["content"]):
                part_text = str(part["text"])
                at = {**where, "content_index": content_index}
                emit("response.content_part.added", **at, part={**part, "text": ""})
                for piece in split_text(part_text, text_chunks):
                    emit("response.output_text.delta", **at, delta=piece, logprobs=[])
                emit("response.output_text.done", **at, text=part_text, logprobs=[])
                emit("response.content_part.done", **at, part=copy.deepcopy(part))
        else:
            arguments = str(item["arguments"])
            emit(
                "response.output_item.added",
                output_index=output_index,
                item={**item, "status": "in_progress", "arguments": ""},
            )
            for piece in split_text(arguments, json_chunks):
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, arguments=arguments)
        emit("response.output_item.done", output_index=output_index, item=copy.deepcopy(item))
    final_event = "response.incomplete" if status == "incomplete" else "response.completed"
    emit(final_event, response=envelope(status, items))
    return frames


def responses_error_event(code: str, message: str, *, sequence_number: int = 0) -> bytes:
    """Build a Responses ``error`` SSE event, as the API sends when a stream fails.

    Args:
        code: The error code, e.g. ``"server_error"`` or ``"rate_limit_exceeded"``.
        message: The human-readable message.
        sequence_number: The event's sequence number (one more than the previous frame's).

    Returns:
        The complete SSE frame.
    """
    return sse_frame(
        "error",
        {
            "type": "error",
            "code": code,
            "message": message,
            "param": None,
            "sequence_number": sequence_number,
        },
    )
