"""Anthropic Messages' whole `message`, as records and replays read and rebuild it.

A stream is assembled into the `message` (`message_start`'s message, its content blocks built from
their deltas, `message_delta`'s stop reason and usage merged in); records read its usage and tool
calls; a replay opens its rebuilt stream with `message_start` and closes it with `message_delta`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from luthien.records.model import Usage

_QUIET_BLOCK_TYPES = frozenset({"text", "thinking", "redacted_thinking"})
"""Blocks whose start carries no output yet (their deltas do)."""


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def _index(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _error_message(value: Any, fallback: str) -> str:
    message = _dict(value).get("message")
    return message if isinstance(message, str) and message else fallback


@dataclass(slots=True)
class MessagesAssembler:
    """A Messages stream as its `message`: blocks built from their deltas, `message_delta` merged in."""

    message: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    partial_json: dict[int, list[str]] = field(default_factory=dict[int, list[str]])
    error: str | None = None
    complete: bool = False

    def feed(self, data: dict[str, Any]) -> bool:
        """Take one event payload; True when it carries model output."""
        kind = data.get("type")
        if kind == "message_start":
            self.message = dict(_dict(data.get("message")))
        elif kind == "content_block_start":
            block = dict(_dict(data.get("content_block")))
            self.blocks[_index(data.get("index"))] = block
            return block.get("type") not in _QUIET_BLOCK_TYPES or bool(block.get("text"))
        elif kind == "content_block_delta":
            self._delta(_index(data.get("index")), _dict(data.get("delta")))
            return True
        elif kind == "content_block_stop":
            self._finish_input(_index(data.get("index")))
        elif kind == "message_delta":
            self._message_delta(data)
        elif kind == "message_stop":
            self.complete = True
        elif kind == "error":
            self.error = _error_message(data.get("error"), "error event")
            self.complete = True
        return False

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        block = self.blocks.setdefault(index, {})
        kind = delta.get("type")
        if kind == "input_json_delta":
            self.partial_json.setdefault(index, []).append(str(delta.get("partial_json", "")))
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))
        else:
            for key in ("text", "thinking", "signature"):
                piece = delta.get(key)
                if isinstance(piece, str):
                    block[key] = str(block.get(key, "")) + piece

    def _finish_input(self, index: int) -> None:
        pieces = self.partial_json.pop(index, None)
        if pieces is None or index not in self.blocks:
            return
        text = "".join(pieces)
        if not text:
            return
        try:
            self.blocks[index]["input"] = orjson.loads(text)
        except orjson.JSONDecodeError:
            # Kept as sent, so a cut-off or invalid tool input stays visible.
            self.blocks[index]["input"] = text

    def _message_delta(self, data: dict[str, Any]) -> None:
        message = self.message if self.message is not None else {}
        message.update(_dict(data.get("delta")))
        usage = _dict(data.get("usage"))
        if usage:
            message["usage"] = {**_dict(message.get("usage")), **usage}
        self.message = message

    def done(self) -> None:
        """The `[DONE]` terminator arrived."""
        return

    def result(self) -> dict[str, Any] | None:
        """The whole message, or None when the stream carried none."""
        for index in list(self.partial_json):
            self._finish_input(index)
        if self.message is None and not self.blocks:
            return None
        message = self.message if self.message is not None else {"type": "message", "role": "assistant"}
        return {**message, "content": [self.blocks[index] for index in sorted(self.blocks)]}


class AnthropicWholeMessage:
    """The `message` of Anthropic Messages (see `luthien.apis.registry.WholeMessage`)."""

    def assembler(self) -> MessagesAssembler:
        """A fresh assembler for one stream."""
        return MessagesAssembler()

    def usage(self, usage: dict[str, Any]) -> Usage:
        """The counts of a `usage` object."""
        return Usage(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
            cache_read_tokens=_count(usage.get("cache_read_input_tokens")),
            cache_creation_tokens=_count(usage.get("cache_creation_input_tokens")),
        )

    def tool_names(self, message: dict[str, Any]) -> tuple[str, ...]:
        """The names of the message's tool calls (`tool_use`, `server_tool_use`, ...), in order."""
        names: list[str] = []
        for block in _list(message.get("content")):
            entry = _dict(block)
            if str(entry.get("type", "")).endswith("tool_use") and isinstance(entry.get("name"), str):
                names.append(entry["name"])
        return tuple(names)

    def stream_start(self, message: dict[str, Any]) -> dict[str, Any]:
        """`message_start`'s message: the message with no content yet."""
        usage = _dict(message.get("usage"))
        return {
            **message,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "output_tokens": 0} if usage else {"output_tokens": 0},
        }

    def stream_end(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """`message_delta` with the output tokens (the encoder writes the stop reason)."""
        usage = _dict(message.get("usage"))
        return {
            "type": "message_delta",
            "delta": {},
            "usage": {"output_tokens": usage.get("output_tokens", 0)},
        }


WHOLE_MESSAGE = AnthropicWholeMessage()
