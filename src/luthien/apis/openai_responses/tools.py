"""OpenAI Responses output items that are tool calls, and which items Luthien can pass at all.

Every item a client acts on is a tool call a policy reads, in the normalized `ToolCall` view:

| item type              | `id`      | `name`        | `arguments` (a JSON object)                |
|------------------------|-----------|---------------|--------------------------------------------|
| `function_call`        | `call_id` | `name`        | the model's arguments text, as streamed    |
| `custom_tool_call`     | `call_id` | `name`        | `{"input": <the free-form input>}`         |
| `local_shell_call`     | `call_id` | `local_shell` | `command` (argv joined by " "), `argv`, +action |
| `shell_call`           | `call_id` | `shell`       | `command` (joined by "; "), `commands`, +action |
| `apply_patch_call`     | `call_id` | `apply_patch` | `{"operation": {...}}`                     |
| `computer_call`        | `call_id` | `computer`    | the item's fields but `id`, `type`, `status` |
| `tool_search_call`     | `call_id` | `tool_search` | likewise                                   |
| `mcp_approval_request` | `id`      | `name`        | the item's `arguments` text                |

A call a policy changed is written back into its own item type (`item_with`): a `command` that no
longer equals the joined `argv` (`commands`) is split with `shlex` (becomes the one command).

Server-side items (`PASSIVE_ITEMS`: web search, file search, code interpreter, image generation, MCP
calls the provider already made, outputs, ...) report work already done; they pass as OTHER blocks.
Any other item type is one Luthien cannot interpret: `check_item` raises `UnreadableOutput`, so the
client never receives it unread.
"""

from __future__ import annotations

import shlex
from typing import Any

import orjson

from luthien.call.codec import UnreadableOutput
from luthien.call.events import ToolCall

FUNCTION_CALL = "function_call"
CUSTOM_CALL = "custom_tool_call"
LOCAL_SHELL_CALL = "local_shell_call"
SHELL_CALL = "shell_call"
MCP_APPROVAL_REQUEST = "mcp_approval_request"
INPUT_DELTA = "response.custom_tool_call_input.delta"
INPUT_DONE = "response.custom_tool_call_input.done"

_TOOL_NAMES = {
    LOCAL_SHELL_CALL: "local_shell",
    SHELL_CALL: "shell",
    "apply_patch_call": "apply_patch",
    "computer_call": "computer",
    "tool_search_call": "tool_search",
}
"""Structured tool-call items (no name of their own), and the tool name a policy sees."""
TOOL_ITEMS = frozenset({FUNCTION_CALL, CUSTOM_CALL, MCP_APPROVAL_REQUEST, *_TOOL_NAMES})
"""Output item types that are tool calls."""
PASSIVE_ITEMS = frozenset(
    {
        "message",
        "reasoning",
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_response",
        "compaction",
        "program",
        "program_output",
        "additional_tools",
        "tool_search_output",
        "function_call_output",
        "custom_tool_call_output",
        "computer_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
    }
)
"""Output item types that are not tool calls a client runs: passed as they are."""
_ITEM_KEYS = frozenset({"id", "type", "status", "call_id", "caller", "created_by"})
"""Fields of a structured item that are not the call's arguments."""
_JOINERS = {LOCAL_SHELL_CALL: ("command", "argv", " "), SHELL_CALL: ("commands", "commands", "; ")}
"""Shell items: the action's list field, its key in the arguments, and how the command joins it."""
UNREADABLE_ITEM_MESSAGE = "upstream sent an output item of type {type!r}, which Luthien cannot read"


def is_tool_item(item: dict[str, Any]) -> bool:
    """Whether an output item is a tool call."""
    return item.get("type") in TOOL_ITEMS


def check_item(item: dict[str, Any]) -> None:
    """Refuse an output item Luthien cannot interpret.

    Raises:
        UnreadableOutput: for an item type neither a tool call nor known to be passive.
    """
    item_type = item.get("type")
    if item_type not in TOOL_ITEMS and item_type not in PASSIVE_ITEMS:
        raise UnreadableOutput(UNREADABLE_ITEM_MESSAGE.format(type=str(item_type)[:60]))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def _strings(value: Any) -> list[str]:
    return [str(part) for part in value] if isinstance(value, list) else []  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode("utf-8")


def call_of(item: dict[str, Any], arguments: str | None = None) -> ToolCall:
    """The normalized view of a tool-call item (`arguments`: as streamed, when they were)."""
    item_type = str(item.get("type"))
    name = _TOOL_NAMES.get(item_type, str(item.get("name") or ""))
    call_id = str(item.get("id" if item_type == MCP_APPROVAL_REQUEST else "call_id") or "")
    return ToolCall(call_id, name, arguments if arguments is not None else arguments_of(item))


def arguments_of(item: dict[str, Any]) -> str:
    """A whole tool-call item's arguments, in the normalized view."""
    item_type = item.get("type")
    if item_type in (FUNCTION_CALL, MCP_APPROVAL_REQUEST):
        arguments = item.get("arguments")
        return arguments if isinstance(arguments, str) and arguments else "{}"
    if item_type == CUSTOM_CALL:
        return custom_arguments(str(item.get("input") or ""))
    if item_type in _JOINERS:
        field, key, joiner = _JOINERS[str(item_type)]
        action = _dict(item.get("action"))
        parts = _strings(action.get(field))
        rest = {k: v for k, v in action.items() if k != field}
        return _json({"command": joiner.join(parts), key: parts, **rest})
    return _json({k: v for k, v in item.items() if k not in _ITEM_KEYS})


def custom_arguments(text: str) -> str:
    """A custom tool call's arguments for its free-form input."""
    return _json({"input": text})


def custom_input(call: ToolCall) -> str:
    """The free-form input of a custom tool call's arguments (the arguments text when not the view)."""
    value = call.parsed_arguments
    text = value.get("input") if value is not None else None
    return text if isinstance(text, str) else call.arguments


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:  # unbalanced quotes: the whole text is the one argument
        return [command]


def item_with(call: ToolCall, template: dict[str, Any]) -> dict[str, Any]:
    """`template` (a tool-call item) carrying `call`: its id, name and arguments in the item's shape."""
    item_type = str(template.get("type") or FUNCTION_CALL)
    if item_type not in TOOL_ITEMS:
        item_type = FUNCTION_CALL
    item = {**template, "type": item_type}
    if item_type == MCP_APPROVAL_REQUEST:
        return {**item, "id": call.id, "name": call.name, "arguments": call.arguments}
    item["call_id"] = call.id
    if item_type == FUNCTION_CALL:
        return {**item, "name": call.name, "arguments": call.arguments}
    if item_type == CUSTOM_CALL:
        return {**item, "name": call.name, "input": custom_input(call)}
    arguments = call.parsed_arguments or {}
    if item_type in _JOINERS:
        field, key, joiner = _JOINERS[item_type]
        parts = _strings(arguments.get(key))
        command = arguments.get("command")
        if isinstance(command, str) and command != joiner.join(parts):
            parts = _split(command) if item_type == LOCAL_SHELL_CALL else [command]
        rest = {k: v for k, v in arguments.items() if k not in ("command", key)}
        return {**item, "action": {**_dict(template.get("action")), **rest, field: parts}}
    return {**item, **{k: v for k, v in arguments.items() if k not in _ITEM_KEYS}}
