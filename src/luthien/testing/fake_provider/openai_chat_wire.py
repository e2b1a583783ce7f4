"""Builders of realistic OpenAI Chat Completions bodies and SSE streams."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from luthien.testing.fake_provider.script import ToolCall, split_text, sse_frame

__all__ = [
    "OPENAI_DEFAULT_MODEL",
    "chat_completion",
    "chat_stream",
    "chat_usage",
    "new_chat_completion_id",
    "new_tool_call_id",
    "openai_error_body",
    "openai_request_id",
]

OPENAI_DEFAULT_MODEL = "gpt-5"
DEFAULT_TEXT = "Hello from the fake provider."

_ALPHABET = string.ascii_letters + string.digits


def _token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_chat_completion_id() -> str:
    """Return a fresh completion id shaped like OpenAI's (``chatcmpl-...``)."""
    return "chatcmpl-" + _token(29)


def new_tool_call_id() -> str:
    """Return a fresh tool-call id shaped like OpenAI's (``call_...``)."""
    return "call_" + _token(24)


def openai_request_id() -> str:
    """Return a fresh ``x-request-id`` header value shaped like OpenAI's (``req_<32 hex>``)."""
    return "req_" + secrets.token_hex(16)


def _arguments_json(arguments: dict[str, Any] | str) -> str:
    # OpenAI sends tool arguments as compact JSON text.
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


def _estimate_tokens(*texts: str) -> int:
    return max(1, sum(len(text) for text in texts) // 4)


def chat_usage(
    *,
    prompt_tokens: int = 25,
    completion_tokens: int = 12,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a Chat Completions ``usage`` object.

    Args:
        prompt_tokens: Input tokens.
        completion_tokens: Output tokens.
        overrides: Keys replacing or adding to the defaults.

    Returns:
        The usage dict, with the token-detail objects the real API sends.
    """
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    if overrides:
        usage.update(overrides)
    return usage


def _final_usage(
    text: str, tool_calls: Sequence[ToolCall], usage: Mapping[str, Any] | None
) -> dict[str, Any]:
    completion = _estimate_tokens(text, *(_arguments_json(c.arguments) for c in tool_calls))
    return chat_usage(completion_tokens=completion, overrides=usage)


def _finish_reason(finish_reason: str | None, tool_calls: Sequence[ToolCall]) -> str:
    if finish_reason is not None:
        return finish_reason
    return "tool_calls" if tool_calls else "stop"


def chat_completion(
    text: str = DEFAULT_TEXT,
    *,
    tool_calls: Sequence[ToolCall] = (),
    reasoning: str | None = None,
    finish_reason: str | None = None,
    model: str = OPENAI_DEFAULT_MODEL,
    completion_id: str | None = None,
    created: int | None = None,
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a non-streaming ``/v1/chat/completions`` response body (one choice).

    Args:
        text: The assistant's text; with tool calls an empty text gives ``"content": null``.
        tool_calls: Function tool calls; a str argument is sent verbatim.
        reasoning: Reasoning sent as ``reasoning_content`` (as DeepSeek-style servers do), if any.
        finish_reason: The finish reason; by default ``"tool_calls"`` with tool calls, else ``"stop"``.
        model: The model name echoed back.
        completion_id: The completion id; a fresh ``chatcmpl-...`` id by default.
        created: The ``created`` Unix time; now by default.
        usage: Keys overriding the default usage.

    Returns:
        The completion as a JSON-ready dict.
    """
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": _arguments_json(call.arguments)},
            }
            for call in tool_calls
        ]
    return {
        "id": completion_id or new_chat_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": _finish_reason(finish_reason, tool_calls),
            }
        ],
        "usage": _final_usage(text, tool_calls, usage),
        "service_tier": "default",
        "system_fingerprint": None,
    }


def chat_stream(
    text: str = DEFAULT_TEXT,
    *,
    tool_calls: Sequence[ToolCall] = (),
    reasoning: str | None = None,
    finish_reason: str | None = None,
    model: str = OPENAI_DEFAULT_MODEL,
    completion_id: str | None = None,
    created: int | None = None,
    usage: Mapping[str, Any] | None = None,
    reasoning_chunks: int = 2,
    text_chunks: int = 3,
    json_chunks: int = 5,
    include_usage: bool = True,
    done: bool = True,
) -> list[bytes]:
    """Build the SSE frames of a streaming ``/v1/chat/completions`` response (one choice).

    The frames are: a role chunk, ``reasoning_chunks`` reasoning chunks (with ``reasoning``),
    ``text_chunks`` content chunks, for each tool call one chunk
    with its index, id, type and name (and empty arguments) followed by ``json_chunks`` argument
    fragments, a finish chunk with an empty delta, then (when ``include_usage``) a usage chunk with
    empty ``choices``, and ``data: [DONE]``. When ``include_usage`` is true every other chunk carries
    ``"usage": null``, as the API does with ``stream_options.include_usage``.

    Args:
        text: The assistant's text.
        tool_calls: Function tool calls; a str argument is streamed verbatim.
        reasoning: Reasoning streamed as ``reasoning_content`` deltas before the text, if any.
        finish_reason: The finish reason; by default ``"tool_calls"`` with tool calls, else ``"stop"``.
        model: The model name echoed back.
        completion_id: The completion id shared by all chunks; fresh by default.
        created: The ``created`` Unix time; now by default.
        usage: Keys overriding the usage in the final usage chunk.
        reasoning_chunks: How many ``reasoning_content`` deltas the reasoning is split into.
        text_chunks: How many content deltas the text is split into.
        json_chunks: How many fragments each tool call's arguments are split into.
        include_usage: Whether to send the final usage chunk.
        done: Whether to end with ``data: [DONE]``.

    Returns:
        The complete SSE frames, in order.
    """
    chunk_id = completion_id or new_chat_completion_id()
    created_at = int(time.time()) if created is None else created

    def chunk(choices: list[dict[str, Any]], chunk_usage: dict[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created_at,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": None,
            "choices": choices,
        }
        if include_usage:
            body["usage"] = chunk_usage
        return sse_frame(None, body)

    def delta(content: dict[str, Any], finish: str | None = None) -> bytes:
        return chunk([{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish}])

    frames = [
        delta({"role": "assistant", "content": "" if text or not tool_calls else None, "refusal": None})
    ]
    if reasoning is not None:
        frames.extend(
            delta({"reasoning_content": piece}) for piece in split_text(reasoning, reasoning_chunks)
        )
    frames.extend(delta({"content": piece}) for piece in split_text(text, text_chunks))
    for index, call in enumerate(tool_calls):
        frames.append(
            delta(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        frames.extend(
            delta({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in split_text(_arguments_json(call.arguments), json_chunks)
        )
    frames.append(delta({}, _finish_reason(finish_reason, tool_calls)))
    if include_usage:
        frames.append(chunk([], _final_usage(text, tool_calls, usage)))
    if done:
        frames.append(sse_frame(None, "[DONE]"))
    return frames


def openai_error_body(
    type: str,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """Build an OpenAI error response body (shared by Chat Completions and Responses).

    Args:
        type: The error type, e.g. ``"invalid_request_error"``, ``"server_error"``,
            ``"insufficient_quota"``, or ``"requests"``/``"tokens"`` for rate limits.
        message: The human-readable message.
        code: The error code, e.g. ``"rate_limit_exceeded"`` or ``"context_length_exceeded"``.
        param: The offending request parameter, if any.

    Returns:
        ``{"error": {"message", "type", "param", "code"}}``.
    """
    return {"error": {"message": message, "type": type, "param": param, "code": code}}
