"""What lists and search need from a call's bodies, extracted once when the record is written.

- `search_text`: what free-text search matches, lower-cased. It covers the new part of the request
  (the messages after the last assistant turn: the user's prompt, tool results) and everything the
  model answered in the original and final responses (text, thinking, tool call names and
  arguments). Earlier turns of the conversation are not repeated: each is searchable in the record of
  the turn that added it, so the column grows with the session, not with its square. System prompts
  and tool definitions are not searched. Capped at `SEARCH_TEXT_MAX_CHARS`.
- `tool_names`: the tool calls in the original response, in order.
- `preview`: the start of the last user message.

Works on the three client APIs' JSON without knowing which one it is; a body that is not JSON
contributes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from luthien.records.model import TransactionRecord

SEARCH_TEXT_MAX_CHARS = 64 * 1024
PREVIEW_MAX_CHARS = 200
# Keys whose values are identifiers, markers, settings or binary data, never searched.
_SKIPPED_KEYS = frozenset(
    {
        "id",
        "call_id",
        "tool_use_id",
        "type",
        "role",
        "model",
        "object",
        "signature",
        "encrypted_content",
        "cache_control",
        "source",
        "data",
        "image_url",
        "file_data",
        "usage",
        "metadata",
        "stop_reason",
        "stop_sequence",
        "finish_reason",
        "status",
        "system_fingerprint",
        "created",
        "created_at",
        "logprobs",
        "annotations",
    }
)
_MODEL_ROLES = frozenset({"assistant", "model"})
_MODEL_ITEM_TYPES = frozenset({"function_call", "custom_tool_call", "reasoning", "local_shell_call"})
_TOOL_BLOCK_TYPES = frozenset({"tool_use", "server_tool_use", "function_call", "custom_tool_call"})
_WHITESPACE = re.compile(r"\s+")
_CONTAINERS = (dict, list)


@dataclass(frozen=True, slots=True)
class Extracted:
    """The derived fields of one record."""

    search_text: str
    tool_names: tuple[str, ...]
    preview: str


def _json(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


_NOTHING: dict[str, Any] = {}
"""What `_dict` gives for a value that is not an object: read, never written."""


def _dict(value: Any) -> dict[str, Any]:
    kind = value.__class__  # compared, not narrowed: `isinstance` would make `value` a dict of unknowns
    return value if kind is dict else _NOTHING


def _list(value: Any) -> list[Any]:
    kind = value.__class__
    return value if kind is list else []


def _strings(value: Any) -> Iterator[str]:
    """Every searchable string in a JSON value, depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in _dict(value).items():
            if key not in _SKIPPED_KEYS:
                yield from _strings(item)
    else:
        for item in _list(value):
            yield from _strings(item)


def _collect(value: Any, into: list[str]) -> None:
    """Append every searchable string in a JSON value to `into`, depth first (as `_strings` yields them).

    A list instead of a generator, strings appended where they are found rather than in a call of
    their own, and no `cast` (a Python call each time): the writer runs this on every record. The
    values come from `orjson`, so their types are exactly `dict`, `list` and `str`.
    """
    kind = value.__class__
    if kind is str:
        into.append(value)
        return
    if kind is dict:
        for key, item in value.items():
            if key in _SKIPPED_KEYS:
                continue
            if type(item) is str:
                into.append(item)
            elif type(item) in _CONTAINERS:
                _collect(item, into)
    elif kind is list:
        for item in value:
            if type(item) is str:
                into.append(item)
            elif type(item) in _CONTAINERS:
                _collect(item, into)


def _conversation(request: Any) -> list[Any]:
    request = _dict(request)
    items = request.get("messages", request.get("input"))
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    return _list(items)


def _from_model(item: Any) -> bool:
    item = _dict(item)
    return item.get("role") in _MODEL_ROLES or item.get("type") in _MODEL_ITEM_TYPES


def _new_messages(conversation: list[Any]) -> list[Any]:
    """The items after the last one the model produced (all of them on a first turn)."""
    for index in range(len(conversation) - 1, -1, -1):
        if _from_model(conversation[index]):
            return conversation[index + 1 :]
    return conversation


def _preview(conversation: list[Any]) -> str:
    for item in reversed(conversation):
        item = _dict(item)
        if item.get("role") == "user":
            parts: list[str] = []
            length = 0
            for part in _strings(item.get("content")):
                # Whitespace runs collapse, so twice the preview's length is enough to read.
                parts.append(part[: 2 * PREVIEW_MAX_CHARS])
                length += len(parts[-1])
                if length >= 2 * PREVIEW_MAX_CHARS:
                    break
            return _WHITESPACE.sub(" ", " ".join(parts)).strip()[:PREVIEW_MAX_CHARS]
    return ""


def _tool_names(response: Any) -> tuple[str, ...]:
    response = _dict(response)
    names: list[str] = []
    for blocks in (response.get("content"), response.get("output")):
        for block in _list(blocks):
            block = _dict(block)
            if block.get("type") in _TOOL_BLOCK_TYPES and isinstance(name := block.get("name"), str):
                names.append(name)
    for choice in _list(response.get("choices")):
        for call in _list(_dict(_dict(choice).get("message")).get("tool_calls")):
            if isinstance(name := _dict(_dict(call).get("function")).get("name"), str):
                names.append(name)
    return tuple(names)


def extract(record: TransactionRecord) -> Extracted:
    """The search text, tool names and preview of `record`."""
    conversation = _conversation(_json(record.original_request))
    original_response = _json(record.original_response)
    parts: list[str] = []
    _collect(_new_messages(conversation), parts)
    if record.final_request is not None:
        _collect(_new_messages(_conversation(_json(record.final_request))), parts)
    _collect(original_response, parts)
    if record.final_response is not None:
        _collect(_json(record.final_response), parts)
    if record.error:
        parts.append(record.error)
    text = "\n".join(parts)[:SEARCH_TEXT_MAX_CHARS].lower()
    return Extracted(
        search_text=text, tool_names=_tool_names(original_response), preview=_preview(conversation)
    )
