"""Helpers that build what a hook returns: new text, blocked-call messages, replaced or dropped calls.

Each returns a list of events, ready to return from a hook (or to concatenate with others).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import cast

import orjson

from luthien.call.events import BlockComplete, CallEvent, ToolCall, text_block, tool_call_block
from luthien.policy.base import PolicyContext

ARGUMENTS_VALUE_LIMIT = 2_000
"""Characters of one argument value shown in a blocked message before it is cut."""
TRUNCATION_MARKER = "… [truncated]"


def send_text(text: str) -> list[CallEvent]:
    """A whole text block, sent where the hook's output is placed."""
    return [BlockComplete(-1, text_block(text))]


def _truncate(value: object, limit: int) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + TRUNCATION_MARKER
    if isinstance(value, dict):
        mapping = cast(dict[str, object], value)
        return {key: _truncate(item, limit) for key, item in mapping.items()}
    if isinstance(value, list):
        return [_truncate(item, limit) for item in cast(list[object], value)]
    return value


def format_arguments(call: ToolCall, limit: int = ARGUMENTS_VALUE_LIMIT) -> str:
    """The call's arguments as pretty-printed JSON (long values cut), or as sent when not JSON."""
    parsed = call.parsed_arguments
    if parsed is None:
        text = call.arguments
        return text if len(text) <= limit else text[:limit] + TRUNCATION_MARKER
    return orjson.dumps(_truncate(parsed, limit), option=orjson.OPT_INDENT_2).decode("utf-8")


BLOCKED_TEMPLATE = "**Blocked tool call: `{tool}`**\n\n{reason}\n\nArguments:\n\n```json\n{arguments}\n```\n"
"""The default blocked message. Placeholders: `tool`, `reason`, `arguments` (pretty JSON)."""
BLOCKED_TEMPLATE_WITHOUT_ARGUMENTS = "**Blocked tool call: `{tool}`**\n\n{reason}\n"
"""The blocked message that does not repeat the arguments (they may carry a secret)."""


def check_blocked_template(template: str) -> str:
    """Return `template` if it renders with the blocked-message placeholders.

    Raises:
        ValueError: it names another placeholder or is not a valid format string.
    """
    try:
        template.format(tool="t", reason="r", arguments="{}")
    except (KeyError, IndexError, ValueError, AttributeError) as error:
        raise ValueError(
            f"template does not render (placeholders: tool, reason, arguments): {error!r}"
        ) from error
    return template


def blocked_message(
    call: ToolCall,
    reason: str,
    *,
    limit: int = ARGUMENTS_VALUE_LIMIT,
    show_arguments: bool = True,
    template: str | None = None,
) -> str:
    """Markdown explaining a blocked tool call: headline, reason, and (unless hidden) the arguments.

    Args:
        call: the blocked call.
        reason: why, in a sentence or two.
        limit: characters of one argument value shown before it is cut.
        show_arguments: False leaves the arguments out (e.g. a call that would exfiltrate a secret
            must not print it back).
        template: a format string with `tool`, `reason`, `arguments` (overrides `show_arguments`).
    """
    if template is None:
        template = BLOCKED_TEMPLATE if show_arguments else BLOCKED_TEMPLATE_WITHOUT_ARGUMENTS
    arguments = format_arguments(call, limit) if "{arguments}" in template else ""
    return template.format(tool=call.name, reason=reason.strip(), arguments=arguments)


def send_blocked_message(
    call: ToolCall,
    reason: str,
    ctx: PolicyContext | None = None,
    *,
    show_arguments: bool = True,
    template: str | None = None,
) -> list[CallEvent]:
    """Replace a tool call by a text block saying it was blocked and why (see `blocked_message`).

    Given the call's `ctx`, also records the block (`ctx.record_blocked`), which marks the call's
    transaction record `blocked`.
    """
    if ctx is not None:
        ctx.record_blocked(reason, call)
    return send_text(blocked_message(call, reason, show_arguments=show_arguments, template=template))


def replace_tool_call(event: BlockComplete, call: ToolCall) -> list[CallEvent]:
    """Send a different tool call (e.g. rewritten arguments) in place of `event`'s."""
    return [BlockComplete(event.index, tool_call_block(call))]


def replace_arguments(event: BlockComplete, arguments: dict[str, object]) -> list[CallEvent]:
    """Send `event`'s tool call with new arguments."""
    call = event.block.tool_call
    if call is None:
        raise ValueError("replace_arguments needs a tool-call block")
    new_call = dataclasses.replace(call, arguments=orjson.dumps(arguments).decode("utf-8"))
    return replace_tool_call(event, new_call)


def drop() -> Sequence[CallEvent]:
    """Send nothing for the event."""
    return []
