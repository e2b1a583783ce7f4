"""Assembling a streamed response into the whole message its API returns without streaming.

A record stores streams this way so the original and final responses compare field by field:

- Anthropic Messages: the `message` object (`message_start`'s message, its content blocks built from
  their deltas, `message_delta`'s stop reason and usage merged in);
- OpenAI Chat Completions: a `chat.completion` object (each choice's deltas joined into a `message`,
  tool-call fragments joined per call, the usage chunk's usage);
- OpenAI Responses: the `response` of the terminal event (`response.completed`, `.incomplete` or
  `.failed`); a stream cut before it gives the last announced response with the items that finished.

This runs after the call ended, never while bytes are flowing. It also finds the chunk in which the
first model output (text, thinking, tool call) went out, for the time-to-first-token.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Protocol, cast

import orjson

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.wire.sse import SSEParser

_CHAT_DONE = b"[DONE]"
_RESPONSES_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_RESPONSES_SNAPSHOTS = frozenset({"response.created", "response.in_progress", "response.queued"})
_QUIET_BLOCK_TYPES = frozenset({"text", "thinking", "redacted_thinking"})
"""Anthropic blocks whose start carries no output yet (their deltas do)."""


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def _index(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _error_message(value: Any, fallback: str) -> str:
    message = _dict(value).get("message")
    return message if isinstance(message, str) and message else fallback


@dataclass(frozen=True, slots=True)
class StreamAssembly:
    """A stream as one message.

    Attributes:
        message: the whole message, or None when the stream carried none.
        error: the error the stream ended with (in-stream error event, failed response), if any.
        complete: whether the stream reached its API's terminal event.
        first_output_chunk: index of the chunk that completed the first frame with model output.
    """

    message: dict[str, Any] | None
    error: str | None
    complete: bool
    first_output_chunk: int | None


class _Assembler(Protocol):
    error: str | None
    complete: bool

    def feed(self, data: dict[str, Any]) -> bool:
        """Take one event payload; True when it carries model output."""
        ...

    def done(self) -> None:
        """The `[DONE]` terminator arrived."""
        ...

    def result(self) -> dict[str, Any] | None:
        """The whole message."""
        ...


@dataclass(slots=True)
class _AnthropicAssembler:
    message: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    partial_json: dict[int, list[str]] = field(default_factory=dict[int, list[str]])
    error: str | None = None
    complete: bool = False

    def feed(self, data: dict[str, Any]) -> bool:
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
        return

    def result(self) -> dict[str, Any] | None:
        for index in list(self.partial_json):
            self._finish_input(index)
        if self.message is None and not self.blocks:
            return None
        message = self.message if self.message is not None else {"type": "message", "role": "assistant"}
        return {**message, "content": [self.blocks[index] for index in sorted(self.blocks)]}


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
class _ChatAssembler:
    envelope: dict[str, Any] = field(default_factory=dict[str, Any])
    choices: dict[int, _ChatChoice] = field(default_factory=dict[int, _ChatChoice])
    usage: dict[str, Any] | None = None
    error: str | None = None
    complete: bool = False

    def feed(self, data: dict[str, Any]) -> bool:
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
        self.complete = True

    def result(self) -> dict[str, Any] | None:
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


@dataclass(slots=True)
class _ResponsesAssembler:
    response: dict[str, Any] | None = None
    finished_items: dict[int, Any] = field(default_factory=dict[int, Any])
    error: str | None = None
    complete: bool = False

    def feed(self, data: dict[str, Any]) -> bool:
        kind = data.get("type")
        if not isinstance(kind, str):
            return False
        if kind in _RESPONSES_SNAPSHOTS:
            self.response = dict(_dict(data.get("response")))
        elif kind == "response.output_item.done":
            self.finished_items[_index(data.get("output_index"))] = data.get("item")
        elif kind in _RESPONSES_TERMINAL:
            self.response = dict(_dict(data.get("response")))
            self.complete = True
            if kind == "response.failed":
                self.error = _error_message(self.response.get("error"), "response failed")
        elif kind == "error":
            self.error = str(data.get("message") or "error event")
            self.complete = True
        return kind.endswith(".delta")

    def done(self) -> None:
        return

    def result(self) -> dict[str, Any] | None:
        if self.response is None:
            return None
        if self.complete and self.error is None:
            return self.response
        # Cut short: the items that finished are all there is.
        items = [self.finished_items[index] for index in sorted(self.finished_items)]
        return {**self.response, "output": items or _list(self.response.get("output"))}


def _assembler(client_api: str) -> _Assembler:
    if client_api == ANTHROPIC_MESSAGES.name:
        return _AnthropicAssembler()
    if client_api == OPENAI_CHAT.name:
        return _ChatAssembler()
    return _ResponsesAssembler()


def _data(frame: bytes) -> bytes | None:
    """The `data:` payload of one frame (lines joined by newlines), or None for a frame without data."""
    # Fast path: a single `data: ` line that ends the frame (after an optional `event:` line).
    at = 0 if frame.startswith(b"data: ") else frame.find(b"\ndata: ") + 1
    if (at or frame.startswith(b"data: ")) and frame.find(b"\n", at) == -1:
        return frame[at + 6 :]
    parts: list[bytes] = []
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            parts.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(parts) if parts else None


def _frames(chunks: Sequence[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Each frame's data, with the byte offset in the stream at which the frame was complete.

    The last frame counts even without its blank line.
    """
    joined = b"".join(chunks)
    if b"\r" in joined:
        # Rare line endings: the pipeline's own parser, chunk by chunk.
        parser = SSEParser()
        offset = 0
        for chunk in chunks:
            offset += len(chunk)
            for frame in parser.feed(chunk):
                yield offset - 1, None if frame.data is None else frame.data.encode("utf-8")
        trailing = parser.finish()
        if trailing is not None and trailing.data is not None:
            yield offset - 1, trailing.data.encode("utf-8")
        return
    start = 0
    while (end := joined.find(b"\n\n", start)) != -1:
        yield end + 1, _data(joined[start:end])
        start = end + 2
    rest = joined[start:].strip(b"\n")
    if rest:
        yield len(joined) - 1, _data(rest)


def assemble_stream(client_api: str, chunks: Sequence[bytes]) -> StreamAssembly:
    """The whole message a stream carried.

    Args:
        client_api: the API the stream is in (`WireApi.name`).
        chunks: the stream's bytes, in the pieces they were sent or received.
    """
    assembler = _assembler(client_api)
    first_output: int | None = None
    for offset, data in _frames(chunks):
        if data is None:
            continue
        if data == _CHAT_DONE:
            assembler.done()
            continue
        try:
            payload: Any = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        output = isinstance(payload, dict) and assembler.feed(cast(dict[str, Any], payload))
        if output and first_output is None:
            # The chunk holding the frame's last byte is the one that completed it.
            first_output = bisect_right(list(accumulate(len(chunk) for chunk in chunks)), offset)
    return StreamAssembly(assembler.result(), assembler.error, assembler.complete, first_output)
