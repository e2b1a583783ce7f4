"""Builders of realistic Anthropic Messages API bodies and SSE streams."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from luthien.testing.fake_provider.script import ToolCall, split_text, sse_frame

__all__ = [
    "ANTHROPIC_DEFAULT_MODEL",
    "DEFAULT_SIGNATURE",
    "DEFAULT_TEXT",
    "anthropic_error_body",
    "anthropic_error_event",
    "anthropic_message",
    "anthropic_request_id",
    "anthropic_stream",
    "anthropic_usage",
    "new_message_id",
    "new_tool_use_id",
    "sse_frame",
]

ANTHROPIC_DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_TEXT = "Hello from the fake provider."
DEFAULT_SIGNATURE = "sigEqQBCkYIBxgCKkDfakeSignatureForTestsOnly0123456789abcdefABCDEF=="

_ALPHABET = string.ascii_letters + string.digits


def _token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_message_id() -> str:
    """Return a fresh message id shaped like Anthropic's (``msg_01...``)."""
    return "msg_01" + _token(22)


def new_tool_use_id() -> str:
    """Return a fresh tool-use id shaped like Anthropic's (``toolu_01...``)."""
    return "toolu_01" + _token(22)


def anthropic_request_id() -> str:
    """Return a fresh ``request-id`` header value shaped like Anthropic's (``req_011C...``)."""
    return "req_011C" + _token(20)


def _tool_input_json(arguments: dict[str, Any] | str) -> str:
    # Anthropic streams tool input as JSON text with the default (spaced) separators.
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _tool_input_value(arguments: dict[str, Any] | str) -> Any:
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _estimate_tokens(*texts: str) -> int:
    return max(1, sum(len(text) for text in texts) // 4)


def anthropic_usage(
    *,
    input_tokens: int = 25,
    output_tokens: int = 12,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an Anthropic ``usage`` object.

    Args:
        input_tokens: Uncached input tokens.
        output_tokens: Output tokens.
        overrides: Keys replacing or adding to the defaults.

    Returns:
        The usage dict, with the cache fields and service tier the real API sends.
    """
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    if overrides:
        usage.update(overrides)
    return usage


def _final_usage(
    text: str, thinking: str | None, tool_calls: Sequence[ToolCall], usage: Mapping[str, Any] | None
) -> dict[str, Any]:
    output = _estimate_tokens(text, thinking or "", *(_tool_input_json(c.arguments) for c in tool_calls))
    return anthropic_usage(output_tokens=output, overrides=usage)


def _stop_reason(stop_reason: str | None, tool_calls: Sequence[ToolCall]) -> str:
    if stop_reason is not None:
        return stop_reason
    return "tool_use" if tool_calls else "end_turn"


def anthropic_message(
    text: str = DEFAULT_TEXT,
    *,
    thinking: str | None = None,
    signature: str = DEFAULT_SIGNATURE,
    tool_calls: Sequence[ToolCall] = (),
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    model: str = ANTHROPIC_DEFAULT_MODEL,
    message_id: str | None = None,
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a non-streaming ``/v1/messages`` response body.

    Content blocks come in the order the API uses: thinking, text, then one ``tool_use`` block per
    tool call. The text block is left out when ``text`` is empty and there are tool calls.

    Args:
        text: The assistant's text.
        thinking: Extended-thinking text; None for no thinking block.
        signature: The thinking block's signature.
        tool_calls: Tool calls, each becoming a ``tool_use`` block. A str argument is decoded when it
            is valid JSON and otherwise kept as a (non-object) string ``input``.
        stop_reason: The stop reason; by default ``"tool_use"`` with tool calls, else ``"end_turn"``.
        stop_sequence: The matched stop sequence, if any.
        model: The model name echoed back.
        message_id: The message id; a fresh ``msg_01...`` id by default.
        usage: Keys overriding the default usage (for example ``{"input_tokens": 100}``).

    Returns:
        The message as a JSON-ready dict.
    """
    content: list[dict[str, Any]] = []
    if thinking is not None:
        content.append({"type": "thinking", "thinking": thinking, "signature": signature})
    if text or not tool_calls:
        content.append({"type": "text", "text": text})
    content.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input_value(call.arguments)}
        for call in tool_calls
    )
    return {
        "id": message_id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(stop_reason, tool_calls),
        "stop_sequence": stop_sequence,
        "usage": _final_usage(text, thinking, tool_calls, usage),
    }


def _event(data: dict[str, Any]) -> bytes:
    return sse_frame(str(data["type"]), data)


def _block_start(index: int, block: dict[str, Any]) -> bytes:
    return _event({"type": "content_block_start", "index": index, "content_block": block})


def _block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return _event({"type": "content_block_delta", "index": index, "delta": delta})


def _block_stop(index: int) -> bytes:
    return _event({"type": "content_block_stop", "index": index})


def anthropic_stream(
    text: str = DEFAULT_TEXT,
    *,
    thinking: str | None = None,
    signature: str = DEFAULT_SIGNATURE,
    tool_calls: Sequence[ToolCall] = (),
    stop_reason: str | None = None,
    stop_sequence: str | None = None,
    model: str = ANTHROPIC_DEFAULT_MODEL,
    message_id: str | None = None,
    usage: Mapping[str, Any] | None = None,
    text_chunks: int = 3,
    json_chunks: int = 5,
    ping: bool = True,
    extra_events: Sequence[bytes] = (),
) -> list[bytes]:
    """Build the SSE frames of a streaming ``/v1/messages`` response.

    The frames are: ``message_start``, ``ping`` (optional), a thinking block (``thinking_delta``
    pieces then one ``signature_delta``), a text block split into ``text_chunks`` ``text_delta``
    pieces, one ``tool_use`` block per tool call with its JSON input split into ``json_chunks``
    ``input_json_delta`` pieces, then ``extra_events``, ``message_delta`` (stop reason and usage) and
    ``message_stop``. The content mirrors :func:`anthropic_message` called with the same arguments.

    Args:
        text: The assistant's text.
        thinking: Extended-thinking text (split like ``text``); None for no thinking block.
        signature: The thinking block's signature.
        tool_calls: Tool calls; a str argument is streamed verbatim.
        stop_reason: The stop reason; by default ``"tool_use"`` with tool calls, else ``"end_turn"``.
        stop_sequence: The matched stop sequence, if any.
        model: The model name echoed back.
        message_id: The message id; a fresh ``msg_01...`` id by default.
        usage: Keys overriding the final usage; ``output_tokens`` goes into ``message_delta``.
        text_chunks: How many deltas the text (and the thinking) is split into.
        json_chunks: How many deltas each tool call's JSON input is split into.
        ping: Whether to send a ``ping`` event after ``message_start``.
        extra_events: Raw frames inserted just before ``message_delta``.

    Returns:
        The complete SSE frames, in order.
    """
    final_usage = _final_usage(text, thinking, tool_calls, usage)
    start_usage = {key: value for key, value in final_usage.items() if key != "output_tokens"}
    start_usage["output_tokens"] = 1
    frames = [
        _event(
            {
                "type": "message_start",
                "message": {
                    "id": message_id or new_message_id(),
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            }
        )
    ]
    if ping:
        frames.append(_event({"type": "ping"}))
    index = 0
    if thinking is not None:
        frames.append(_block_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
        frames.extend(
            _block_delta(index, {"type": "thinking_delta", "thinking": piece})
            for piece in split_text(thinking, text_chunks)
        )
        frames.append(_block_delta(index, {"type": "signature_delta", "signature": signature}))
        frames.append(_block_stop(index))
        index += 1
    if text or not tool_calls:
        frames.append(_block_start(index, {"type": "text", "text": ""}))
        frames.extend(
            _block_delta(index, {"type": "text_delta", "text": piece})
            for piece in split_text(text, text_chunks)
        )
        frames.append(_block_stop(index))
        index += 1
    for call in tool_calls:
        frames.append(
            _block_start(index, {"type": "tool_use", "id": call.id, "name": call.name, "input": {}})
        )
        frames.extend(
            _block_delta(index, {"type": "input_json_delta", "partial_json": piece})
            for piece in split_text(_tool_input_json(call.arguments), json_chunks)
        )
        frames.append(_block_stop(index))
        index += 1
    frames.extend(extra_events)
    delta_usage = {
        key: final_usage[key]
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
        if key in final_usage
    }
    frames.append(
        _event(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": _stop_reason(stop_reason, tool_calls),
                    "stop_sequence": stop_sequence,
                },
                "usage": delta_usage,
            }
        )
    )
    frames.append(_event({"type": "message_stop"}))
    return frames


def anthropic_error_body(type: str, message: str, *, request_id: str | None = None) -> dict[str, Any]:
    """Build an Anthropic error response body.

    Args:
        type: The error type, e.g. ``"rate_limit_error"``, ``"overloaded_error"``,
            ``"invalid_request_error"``, ``"authentication_error"``, ``"api_error"``.
        message: The human-readable message.
        request_id: The ``request_id`` field; a fresh one by default.

    Returns:
        ``{"type": "error", "error": {...}, "request_id": ...}``.
    """
    return {
        "type": "error",
        "error": {"type": type, "message": message},
        "request_id": request_id or anthropic_request_id(),
    }


def anthropic_error_event(type: str, message: str) -> bytes:
    """Build an ``error`` SSE event, as the API sends mid-stream (e.g. ``overloaded_error``).

    Args:
        type: The error type.
        message: The human-readable message.

    Returns:
        The complete SSE frame.
    """
    return sse_frame("error", {"type": "error", "error": {"type": type, "message": message}})
