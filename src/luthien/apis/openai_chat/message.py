"""OpenAI Chat's whole `chat.completion`, as records and replays read and rebuild it.

A stream is assembled into a `chat.completion` (each choice's deltas joined into a `message`,
tool-call fragments joined per call, the usage chunk's usage); records read its usage and tool
calls; a replay opens its rebuilt stream with a first chunk and closes it with the usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from luthien.apis.openai_chat.api import CHAT_CHUNK
from luthien.records.model import Usage


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
class _ChatChoice:
    role: str | None = None
    fields: dict[str, Any] = field(default_factory=dict[str, Any])
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    finish_reason: Any = None
    logprobs: list[Any] | None = None

    def add(self, delta: dict[str, Any]) -> bool:
        output = False
        for key, value in delta.items():
            if key == "role":
                self.role = value if isinstance(value, str) else self.role
            elif key == "tool_calls":
                for part in _list(value):
                    self._tool_piece(_dict(part))
                    output = True
            elif isinstance(value, str):
                self.fields[key] = str(self.fields.get(key) or "") + value
                output = output or bool(value)
            elif key not in self.fields:
                self.fields[key] = value
        return output

    def _tool_piece(self, part: dict[str, Any]) -> None:
        call = self.tool_calls.setdefault(
            _index(part.get("index")),
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if isinstance(part.get("id"), str):
            call["id"] = part["id"]
        if isinstance(part.get("type"), str):
            call["type"] = part["type"]
        function = _dict(part.get("function"))
        target = cast(dict[str, Any], call["function"])
        name = function.get("name")
        if isinstance(name, str) and name and not target["name"]:
            target["name"] = name
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            target["arguments"] += arguments

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role or "assistant", "content": None, **self.fields}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[index] for index in sorted(self.tool_calls)]
        return message


@dataclass(slots=True)
class ChatAssembler:
    """A Chat stream as a `chat.completion`: each choice's deltas joined, the usage chunk's usage."""

    envelope: dict[str, Any] = field(default_factory=dict[str, Any])
    choices: dict[int, _ChatChoice] = field(default_factory=dict[int, _ChatChoice])
    usage: dict[str, Any] | None = None
    error: str | None = None
    complete: bool = False

    def feed(self, data: dict[str, Any]) -> bool:
        """Take one event payload; True when it carries model output."""
        if "error" in data:
            self.error = _error_message(data.get("error"), "error chunk")
            return False
        for key, value in data.items():
            if key not in ("choices", "usage", "object") and key not in self.envelope:
                self.envelope[key] = value
        usage = data.get("usage")
        if isinstance(usage, dict):
            self.usage = cast(dict[str, Any], usage)
        output = False
        for entry in _list(data.get("choices")):
            raw = _dict(entry)
            choice = self.choices.setdefault(_index(raw.get("index")), _ChatChoice())
            output = choice.add(_dict(raw.get("delta"))) or output
            if raw.get("finish_reason") is not None:
                choice.finish_reason = raw["finish_reason"]
            logprobs = _dict(raw.get("logprobs")).get("content")
            if isinstance(logprobs, list):
                choice.logprobs = [*(choice.logprobs or []), *cast(list[Any], logprobs)]
        return output

    def done(self) -> None:
        """The `[DONE]` terminator arrived."""
        self.complete = True

    def result(self) -> dict[str, Any] | None:
        """The whole message, or None when the stream carried none."""
        if not self.envelope and not self.choices:
            return None
        choices = [
            {
                "index": index,
                "message": choice.message(),
                "logprobs": None if choice.logprobs is None else {"content": choice.logprobs},
                "finish_reason": choice.finish_reason,
            }
            for index, choice in sorted(self.choices.items())
        ]
        completion: dict[str, Any] = {"object": "chat.completion", **self.envelope, "choices": choices}
        completion["object"] = "chat.completion"
        if self.usage is not None:
            completion["usage"] = self.usage
        return completion


class ChatWholeMessage:
    """The `chat.completion` of OpenAI Chat (see `luthien.apis.registry.WholeMessage`)."""

    def assembler(self) -> ChatAssembler:
        """A fresh assembler for one stream."""
        return ChatAssembler()

    def usage(self, usage: dict[str, Any]) -> Usage:
        """The counts of a `usage` object."""
        return Usage(
            input_tokens=_count(usage.get("prompt_tokens")),
            output_tokens=_count(usage.get("completion_tokens")),
            cache_read_tokens=_count(_dict(usage.get("prompt_tokens_details")).get("cached_tokens")),
        )

    def tool_names(self, message: dict[str, Any]) -> tuple[str, ...]:
        """The names of the first choice's tool calls, in order."""
        names: list[str] = []
        choices = _list(message.get("choices"))
        calls = _list(_dict(_dict(choices[0]).get("message")).get("tool_calls")) if choices else []
        for call in calls:
            name = _dict(_dict(call).get("function")).get("name")
            if isinstance(name, str):
                names.append(name)
        return tuple(names)

    def stream_start(self, message: dict[str, Any]) -> dict[str, Any]:
        """The first chunk: the completion's envelope and an empty assistant delta."""
        base = {k: v for k, v in message.items() if k not in ("choices", "usage", "object")}
        choices: list[Any] = message.get("choices") or [{}]
        said = _dict(_dict(choices[0]).get("message"))
        # Fields the message has as null (`refusal`) are announced by the first chunk, as providers do.
        nulls = {key: None for key, value in said.items() if value is None}
        choice = {
            "index": 0,
            "delta": {"role": "assistant", **nulls},
            "logprobs": None,
            "finish_reason": None,
        }
        return {**base, "object": CHAT_CHUNK, "choices": [choice]}

    def stream_end(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """What the last chunk carries beside the finish reason: the usage, if any."""
        usage = message.get("usage")
        return {"usage": usage} if isinstance(usage, dict) else None


WHOLE_MESSAGE = ChatWholeMessage()
