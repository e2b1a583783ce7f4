"""The normalized request a policy sees: read accessors over the client's body, in any of the three APIs.

The body is the client's parsed JSON and must be treated as read-only; a policy that wants a different
request returns `request.with_body(...)` or `request.with_model(...)`. An unchanged request is
forwarded as the exact bytes the client sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from luthien.call.events import ToolCall
from luthien.wire.formats import WireFormat


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the client offers the model."""

    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The client's answer to a tool call."""

    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Turn:
    """One conversation message, flattened for reading: its text, tool calls and tool results."""

    role: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


def _text_of(content: Any) -> str:
    """Text of a content value: a string, or the text parts of a list of blocks/parts."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in _list(content):
        part = _dict(item)
        text = part.get("text")
        if isinstance(text, str):
            parts.append(text)
        elif part.get("type") == "tool_result":
            continue
    return "\n".join(parts)


def _anthropic_turn(message: dict[str, Any]) -> Turn:
    calls: list[ToolCall] = []
    results: list[ToolResult] = []
    for item in _list(message.get("content")):
        block = _dict(item)
        if block.get("type") == "tool_use":
            arguments = orjson.dumps(block.get("input", {})).decode("utf-8")
            calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), arguments))
        elif block.get("type") == "tool_result":
            results.append(
                ToolResult(
                    str(block.get("tool_use_id", "")),
                    _text_of(block.get("content")),
                    bool(block.get("is_error", False)),
                )
            )
    return Turn(str(message.get("role", "")), _text_of(message.get("content")), tuple(calls), tuple(results))


def _chat_turn(message: dict[str, Any]) -> Turn:
    role = str(message.get("role", ""))
    calls = tuple(
        ToolCall(
            str(_dict(call).get("id", "")),
            str(_dict(_dict(call).get("function")).get("name", "")),
            str(_dict(_dict(call).get("function")).get("arguments", "")),
        )
        for call in _list(message.get("tool_calls"))
    )
    if role == "tool":
        result = ToolResult(str(message.get("tool_call_id", "")), _text_of(message.get("content")))
        return Turn(role, "", (), (result,))
    return Turn(role, _text_of(message.get("content")), calls)


def _responses_turn(item: dict[str, Any]) -> Turn:
    kind = item.get("type", "message")
    if kind == "function_call":
        call = ToolCall(
            str(item.get("call_id", "")), str(item.get("name", "")), str(item.get("arguments", ""))
        )
        return Turn("assistant", "", (call,))
    if kind == "function_call_output":
        output = item.get("output")
        result = ToolResult(
            str(item.get("call_id", "")), output if isinstance(output, str) else _text_of(output)
        )
        return Turn("tool", "", (), (result,))
    return Turn(str(item.get("role", kind)), _text_of(item.get("content")))


class CallRequest:
    """A client's request, readable the same way whatever API it came in."""

    __slots__ = ("body", "format", "raw")

    def __init__(self, wire_format: WireFormat, body: Mapping[str, Any], raw: bytes | None) -> None:
        """Wrap a parsed body.

        Args:
            wire_format: the client's format; with `body` it tells the API apart.
            body: the parsed request body (read-only by convention).
            raw: the bytes the client sent, or None for a changed request.
        """
        self.format = wire_format
        self.body = body
        self.raw = raw

    @property
    def model(self) -> str:
        """The requested model."""
        return str(self.body.get("model", ""))

    @property
    def stream(self) -> bool:
        """Whether the client asked for a stream."""
        return bool(self.body.get("stream", False))

    @property
    def system(self) -> str:
        """System / developer instructions as text."""
        if self.format is WireFormat.ANTHROPIC:
            return _text_of(self.body.get("system"))
        if "messages" in self.body:
            texts = [
                _text_of(_dict(m).get("content"))
                for m in _list(self.body.get("messages"))
                if _dict(m).get("role") in ("system", "developer")
            ]
            return "\n".join(texts)
        instructions = self.body.get("instructions")
        return instructions if isinstance(instructions, str) else ""

    @property
    def tools(self) -> list[ToolSpec]:
        """The tools offered, in any API's shape (nameless tool types are left out)."""
        specs: list[ToolSpec] = []
        for item in _list(self.body.get("tools")):
            tool = _dict(item)
            function = _dict(tool.get("function")) or tool
            name = function.get("name")
            if not isinstance(name, str):
                continue
            schema = function.get("input_schema", function.get("parameters", {}))
            specs.append(ToolSpec(name, str(function.get("description", "")), _dict(schema)))
        return specs

    @property
    def conversation(self) -> list[Turn]:
        """The messages (Responses `input` items), flattened; system entries included."""
        if self.format is WireFormat.ANTHROPIC:
            return [_anthropic_turn(_dict(m)) for m in _list(self.body.get("messages"))]
        if "messages" in self.body:
            return [_chat_turn(_dict(m)) for m in _list(self.body.get("messages"))]
        items = self.body.get("input")
        if isinstance(items, str):
            return [Turn("user", items)]
        return [_responses_turn(_dict(item)) for item in _list(items)]

    def with_body(self, body: Mapping[str, Any]) -> CallRequest:
        """A changed request (it will be re-serialized before forwarding)."""
        return CallRequest(self.format, body, None)

    def with_model(self, model: str) -> CallRequest:
        """The same request for another model."""
        return self.with_body({**self.body, "model": model})

    def to_bytes(self) -> bytes:
        """The bytes to forward: the client's own when unchanged."""
        return self.raw if self.raw is not None else orjson.dumps(dict(self.body))
