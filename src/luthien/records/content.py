"""Reading stored bodies in any of the three APIs: token usage, tool-call names, the last user message.

Whole (or assembled) response messages are read by shape: an Anthropic `message`, a
`chat.completion`, or a Responses `response`. Usage is kept as each API reports it: Anthropic's
`input_tokens` excludes cached tokens, OpenAI's `prompt_tokens` / `input_tokens` include them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

import orjson

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.call.request import CallRequest, Turn
from luthien.records.model import Usage

PREVIEW_CHARS = 200
"""Characters of the last user message shown in lists."""
PREVIEW_SCAN_FACTOR = 4
"""Characters read per preview character (runs of whitespace shrink to one)."""
_USER_ROLES = ("user", "tool")
_WHITESPACE = re.compile(r"\s+")


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_json_object(body: bytes | None) -> dict[str, Any] | None:
    """`body` as a JSON object, or None when it is missing or is not one."""
    if not body:
        return None
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return cast(dict[str, Any], parsed) if isinstance(parsed, dict) else None


def usage_of(client_api: str, message: dict[str, Any] | None) -> Usage:
    """Token counts a whole response message reports (empty when it reports none)."""
    usage = _dict((message or {}).get("usage"))
    if not usage:
        return Usage()
    if client_api == ANTHROPIC_MESSAGES.name:
        return Usage(
            input_tokens=_count(usage.get("input_tokens")),
            output_tokens=_count(usage.get("output_tokens")),
            cache_read_tokens=_count(usage.get("cache_read_input_tokens")),
            cache_creation_tokens=_count(usage.get("cache_creation_input_tokens")),
        )
    if client_api == OPENAI_CHAT.name:
        return Usage(
            input_tokens=_count(usage.get("prompt_tokens")),
            output_tokens=_count(usage.get("completion_tokens")),
            cache_read_tokens=_count(_dict(usage.get("prompt_tokens_details")).get("cached_tokens")),
        )
    return Usage(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        cache_read_tokens=_count(_dict(usage.get("input_tokens_details")).get("cached_tokens")),
    )


def tool_names_of(client_api: str, message: dict[str, Any] | None) -> tuple[str, ...]:
    """Names of the tool calls in a whole response message, in order."""
    if message is None:
        return ()
    names: list[str] = []
    if client_api == ANTHROPIC_MESSAGES.name:
        for block in _list(message.get("content")):
            entry = _dict(block)
            if str(entry.get("type", "")).endswith("tool_use") and isinstance(entry.get("name"), str):
                names.append(entry["name"])
    elif client_api == OPENAI_CHAT.name:
        choices = _list(message.get("choices"))
        calls = _list(_dict(_dict(choices[0]).get("message")).get("tool_calls")) if choices else []
        for call in calls:
            name = _dict(_dict(call).get("function")).get("name")
            if isinstance(name, str):
                names.append(name)
    else:
        for item in _list(message.get("output")):
            entry = _dict(item)
            kind = str(entry.get("type", ""))
            if kind.endswith("_call"):
                name = entry.get("name")
                names.append(name if isinstance(name, str) else kind.removesuffix("_call"))
    return tuple(names)


def _turn_text(turn: Turn) -> str:
    if turn.text:
        return turn.text
    return " ".join(result.content for result in turn.tool_results if result.content)


def _last_turns(request: CallRequest) -> Iterator[Turn]:
    """The conversation from the end, flattening one message at a time (requests can be long)."""
    key = "messages" if "messages" in request.body else "input"
    items = request.body.get(key)
    if not isinstance(items, list):
        yield from reversed(request.conversation)
        return
    entries = cast(list[Any], items)
    for position in range(len(entries) - 1, -1, -1):
        yield from reversed(
            CallRequest(request.format, {key: entries[position : position + 1]}, None).conversation
        )


def preview_of(request: CallRequest, limit: int = PREVIEW_CHARS) -> str:
    """A one-line excerpt of the last user message (or tool result) of a request."""
    for turn in _last_turns(request):
        if turn.role not in _USER_ROLES:
            continue
        # Cut before tidying: a user turn can be tens of kilobytes (agents inline whole files).
        text = _WHITESPACE.sub(" ", _turn_text(turn)[: limit * PREVIEW_SCAN_FACTOR]).strip()
        if text:
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""
