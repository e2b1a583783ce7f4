"""Reading stored bodies in any of the three APIs: token usage, tool-call names, the last user message.

Whole (or assembled) response messages are read by their API (`apis/<name>/message.py`): an
Anthropic `message`, a `chat.completion`, or a Responses `response`. Usage is kept as each API
reports it: Anthropic's `input_tokens` excludes cached tokens, OpenAI's `prompt_tokens` /
`input_tokens` include them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast

import orjson

from luthien.apis.registry import entry_of, named
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
    """Token counts a whole response message of `client_api` reports (empty when it reports none)."""
    usage = _dict((message or {}).get("usage"))
    if not usage:
        return Usage()
    return entry_of(named(client_api)).whole_message.usage(usage)


def tool_names_of(client_api: str, message: dict[str, Any] | None) -> tuple[str, ...]:
    """Names of the tool calls in a whole response message of `client_api`, in order."""
    if message is None:
        return ()
    return entry_of(named(client_api)).whole_message.tool_names(message)


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
