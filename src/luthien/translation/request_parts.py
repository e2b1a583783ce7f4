"""Helpers the three request codecs share.

Typed reads of a JSON body, data URLs, tool arguments, the reasoning effort ↔ thinking budget
table, and the turn merging Anthropic needs.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import orjson

from luthien.translation.envelope import SealedToken, open_envelope
from luthien.translation.request_model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ToolKind,
    ToolSpec,
    UntranslatableField,
)
from luthien.wire.errors import ErrorKind, GatewayError

logger = logging.getLogger(__name__)

# A named reasoning effort and the Anthropic thinking budget that stands for it. Anthropic's smallest
# budget is 1024 tokens; the rest rise roughly fourfold, the way OpenAI's levels do.
MIN_THINKING_BUDGET = 1024
EFFORT_BUDGETS: dict[str, int] = {
    "minimal": MIN_THINKING_BUDGET,
    "low": 4096,
    "medium": 12288,
    "high": 24576,
    "xhigh": 49152,
}
EFFORT_OFF = "none"
"""The OpenAI effort that turns reasoning off."""
# Anthropic's `output_config.effort` levels and the OpenAI levels that mean the same.
ANTHROPIC_TO_OPENAI_EFFORT: dict[str, str] = {
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "xhigh",
}
OPENAI_TO_ANTHROPIC_EFFORT: dict[str, str] = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
}

CUSTOM_INPUT = "input"
"""The one argument a CUSTOM tool takes when offered as a function tool."""
LOCAL_SHELL_NAME = "local_shell"
"""The function name a Responses `local_shell` tool is offered as."""
LOCAL_SHELL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "array", "items": {"type": "string"}, "description": "argv of the command"},
        "working_directory": {"type": "string"},
        "timeout_ms": {"type": "integer"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["command"],
}


def as_dict(value: Any, field: str) -> dict[str, Any]:
    """`value` as a JSON object, or a 400 naming `field`."""
    if not isinstance(value, dict):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: must be an object")
    return cast(dict[str, Any], value)


def as_list(value: Any, field: str) -> list[Any]:
    """`value` as a JSON array, or a 400 naming `field`."""
    if not isinstance(value, list):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: must be an array")
    return cast(list[Any], value)


def as_str(value: Any, field: str) -> str:
    """`value` as a string, or a 400 naming `field`."""
    if not isinstance(value, str):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: must be a string")
    return value


def opt_int(body: dict[str, Any], key: str) -> int | None:
    """An optional integer field."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{key}: must be an integer")
    return value


def opt_float(body: dict[str, Any], key: str) -> float | None:
    """An optional number field."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{key}: must be a number")
    return float(value)


def opt_bool(body: dict[str, Any], key: str) -> bool | None:
    """An optional boolean field."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{key}: must be a boolean")
    return value


def refuse(field: str, source: str, why: str = "no counterpart") -> UntranslatableField:
    """The error for `field` of a `source` request that cannot be translated."""
    return UntranslatableField(field, f"cannot be translated from {source} to the upstream's API ({why})")


def dropped(api: str, field: str) -> None:
    """Log a field deliberately left out of a request for `api` (see docs/translation.md)."""
    logger.debug("translation to %s drops %s", api, field)


def check_known(body: dict[str, Any], known: frozenset[str], source: str) -> None:
    """Refuse a top-level field this translation does not know: it is never dropped unread."""
    for key in body:
        if key not in known:
            raise refuse(key, source, "unknown field")


def parse_data_url(url: str) -> tuple[str, str] | None:
    """`(media_type, base64 data)` of a `data:<type>;base64,<data>` URL, or None for any other URL."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[len("data:") :].partition(",")
    media_type, _, encoding = header.partition(";")
    if not comma or encoding != "base64":
        return None
    return media_type, data


def data_url(media_type: str | None, data: str) -> str:
    """A base64 data URL."""
    return f"data:{media_type or 'application/octet-stream'};base64,{data}"


def image_from_url(url: str) -> ImagePart:
    """An image part from an OpenAI image URL, inline when it is a data URL."""
    inline = parse_data_url(url)
    if inline is None:
        return ImagePart(url=url)
    return ImagePart(data=inline[1], media_type=inline[0])


def image_url(part: ImagePart) -> str:
    """The OpenAI image URL of an image part (a data URL when inline)."""
    return part.url if part.url is not None else data_url(part.media_type, part.data or "")


def arguments_from_json(text: str, field: str) -> dict[str, Any]:
    """Tool-call arguments from their JSON text; an empty text is no arguments."""
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"{field}: must be a JSON object") from None
    return as_dict(value, field)


def arguments_json(arguments: dict[str, Any]) -> str:
    """Tool-call arguments as JSON text."""
    return orjson.dumps(arguments).decode("utf-8")


def token_of(value: str, source: str) -> SealedToken:
    """A reasoning token a `source` client sent back: an envelope of ours, or `source`'s own token."""
    return open_envelope(value) or SealedToken(source, value)


def effort_for_budget(budget: int) -> str:
    """The highest named effort whose budget `budget` reaches (`minimal` below all)."""
    chosen = "minimal"
    for effort, tokens in EFFORT_BUDGETS.items():
        if budget >= tokens:
            chosen = effort
    return chosen


def system_text(parts: tuple[TextPart, ...]) -> str:
    """The system prompt as one string, blocks separated by a blank line."""
    return "\n\n".join(part.text for part in parts)


def tool_function_schema(tool: ToolSpec) -> dict[str, Any]:
    """The JSON schema a tool is offered with as a function tool (CUSTOM and LOCAL_SHELL included)."""
    if tool.kind is ToolKind.LOCAL_SHELL:
        return LOCAL_SHELL_SCHEMA
    return tool.schema


def custom_schema(description: str) -> dict[str, Any]:
    """The function schema a CUSTOM tool is offered with: one free-form string."""
    return {
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": description}},
        "required": [CUSTOM_INPUT],
    }


def tool_function_description(tool: ToolSpec) -> str:
    """A tool's description, with a CUSTOM tool's grammar appended so the model can follow it."""
    if tool.kind is ToolKind.CUSTOM and tool.custom_format is not None:
        fmt = tool.custom_format
        definition = fmt.get("definition")
        if isinstance(definition, str):
            syntax = fmt.get("syntax", "grammar")
            return f"{tool.description}\n\nThe input must match this {syntax} grammar:\n{definition}"
    return tool.description


def content_parts_only(parts: tuple[Part, ...]) -> tuple[ContentPart, ...]:
    """The text, image and document parts of `parts`."""
    return tuple(part for part in parts if isinstance(part, TextPart | ImagePart | DocumentPart))


def merge_consecutive(messages: list[Message]) -> list[Message]:
    """Join consecutive messages of one role (Anthropic requires user and assistant to alternate)."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            merged[-1] = Message(message.role, merged[-1].parts + message.parts)
        else:
            merged.append(message)
    return merged


def canonical_messages(
    system: list[TextPart], messages: list[Message]
) -> tuple[tuple[TextPart, ...], tuple[Message, ...]]:
    """The system prompt and the conversation, in the one form every decoder produces.

    Leading system messages join the system prompt (after `system`), and consecutive messages of one
    role are merged: requests that mean the same thing decode the same whatever their API.
    """
    prompt = list(system)
    index = 0
    while index < len(messages) and messages[index].role == "system":
        prompt.extend(part for part in messages[index].parts if isinstance(part, TextPart))
        index += 1
    return tuple(prompt), tuple(merge_consecutive(messages[index:]))
