"""OpenAI Responses' whole `response`, as records and replays read and rebuild it.

A stream is assembled into the `response` of its terminal event (`response.completed`, `.incomplete`
or `.failed`); a stream cut before it gives the last announced response with the items that
finished. Records read its usage and tool calls; a replay opens its rebuilt stream with
`response.created` and closes it with the terminal event its status names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, cast

from luthien.records.model import Usage

_RESPONSES_SNAPSHOTS = frozenset({"response.created", "response.in_progress", "response.queued"})
RESPONSES_COMPLETED = "response.completed"
RESPONSES_TERMINAL = {
    "completed": RESPONSES_COMPLETED,
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}
"""The terminal event of each final `status`."""
_RESPONSES_TERMINAL = frozenset(RESPONSES_TERMINAL.values())


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
class ResponsesAssembler:
    """A Responses stream as its terminal event's `response` (cut short: the items that finished)."""

    response: dict[str, Any] | None = None
    finished_items: dict[int, Any] = field(default_factory=dict[int, Any])
    error: str | None = None
    complete: bool = False

    def feed(self, data: dict[str, Any]) -> bool:
        """Take one event payload; True when it carries model output."""
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
        """The `[DONE]` terminator arrived."""
        return

    def result(self) -> dict[str, Any] | None:
        """The whole message, or None when the stream carried none."""
        if self.response is None:
            return None
        if self.complete and self.error is None:
            return self.response
        # Cut short: the items that finished are all there is.
        items = [self.finished_items[index] for index in sorted(self.finished_items)]
        return {**self.response, "output": items or _list(self.response.get("output"))}


class ResponsesWholeMessage:
    """The `response` of OpenAI Responses (see `luthien.apis.registry.WholeMessage`)."""

    def assembler(self) -> ResponsesAssembler:
        """A fresh assembler for one stream."""
        return ResponsesAssembler()

    def usage(self, usage: dict[str, Any]) -> Usage:
        """The counts of a `usage` object."""
        return Usage(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
            cache_read_tokens=_count(_dict(usage.get("input_tokens_details")).get("cached_tokens")),
        )

    def tool_names(self, message: dict[str, Any]) -> tuple[str, ...]:
        """The names of the output's `*_call` items (a nameless one by its type), in order."""
        names: list[str] = []
        for item in _list(message.get("output")):
            entry = _dict(item)
            kind = str(entry.get("type", ""))
            if kind.endswith("_call"):
                name = entry.get("name")
                names.append(name if isinstance(name, str) else kind.removesuffix("_call"))
        return tuple(names)

    def stream_start(self, message: dict[str, Any]) -> dict[str, Any]:
        """`response.created`'s response: in progress, no output, no usage yet."""
        return {**message, "status": "in_progress", "output": [], "usage": None}

    def stream_end(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The terminal event of the response's status, with the whole response."""
        status = str(message.get("status") or "completed")
        return {
            "type": RESPONSES_TERMINAL.get(status, RESPONSES_COMPLETED),
            "response": copy.deepcopy(message),
        }


WHOLE_MESSAGE = ResponsesWholeMessage()
