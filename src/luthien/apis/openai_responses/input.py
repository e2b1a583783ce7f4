"""OpenAI Responses `input` items ↔ normalized messages.

Items map as follows (decoding; encoding is the reverse):

- a message item (`input_text`, `output_text`, `refusal`, `input_image`, `input_file` parts) is a
  `Message` of text, image and document parts; `system` and `developer` roles are `system` messages
  (the leading ones become the system prompt);
- a `reasoning` item (summary, `encrypted_content`) is a `ThinkingPart` whose token is Responses'
  own, or an envelope opened;
- `function_call`, `custom_tool_call`, `local_shell_call` are `ToolCallPart`s of that `ToolKind`,
  whose id is the item's `call_id`; their `*_output` items are `ToolResultPart`s in a user message.

`compaction_trigger` and `compaction` items never reach this module from the gateway: they are
made messages first (`luthien.translation.compaction`, which answers Codex's remote compaction with
the upstream's model); left here, they are refused by type. Items of built-in tools (web search,
computer use, MCP, ...) are refused by type.
"""

from __future__ import annotations

from typing import Any

from luthien.translation.request_model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolKind,
    ToolResultPart,
    qualified_name,
)
from luthien.translation.request_parts import (
    CUSTOM_INPUT,
    LOCAL_SHELL_NAME,
    arguments_from_json,
    arguments_json,
    as_dict,
    as_list,
    as_str,
    data_url,
    dropped,
    image_from_url,
    image_url,
    parse_data_url,
    refuse,
    token_of,
)

API = "openai_responses"
COMPACTION_TRIGGER = "compaction_trigger"
"""Codex's request for a remote compaction: answered by the gateway, never translated."""
_ROLES: dict[str, Role] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
}
_CALLS = {
    "function_call": ToolKind.FUNCTION,
    "custom_tool_call": ToolKind.CUSTOM,
    "local_shell_call": ToolKind.LOCAL_SHELL,
}
_OUTPUTS = {
    "function_call_output": ToolKind.FUNCTION,
    "custom_tool_call_output": ToolKind.CUSTOM,
    "local_shell_call_output": ToolKind.LOCAL_SHELL,
}
_OUTPUT_TYPES = {kind: name for name, kind in _OUTPUTS.items()}


def decode_input(value: Any) -> list[Message]:
    """The messages of a Responses `input` (a string, or a list of items)."""
    if isinstance(value, str):
        return [Message("user", (TextPart(value),))]
    return [
        _decode_item(as_dict(item, f"input[{n}]"), f"input[{n}]")
        for n, item in enumerate(as_list(value, "input"))
    ]


def _decode_item(item: dict[str, Any], field: str) -> Message:
    kind = item.get("type", "message")
    if kind == "message":
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise refuse(f"{field}.role", API, f"role {item.get('role')!r}")
        return Message(role, _decode_content(item.get("content"), f"{field}.content"))
    if kind == "reasoning":
        summary = as_list(item.get("summary") or [], f"{field}.summary")
        text = "\n\n".join(
            as_str(as_dict(s, f"{field}.summary").get("text"), f"{field}.summary.text") for s in summary
        )
        encrypted = item.get("encrypted_content")
        token = token_of(encrypted, API) if isinstance(encrypted, str) and encrypted else None
        return Message("assistant", (ThinkingPart(text, token),))
    if kind in _CALLS:
        return Message("assistant", (_decode_call(item, kind, field),))
    if kind in _OUTPUTS:
        call_id = item.get("call_id", item.get("id"))
        output = item.get("output")
        content = (
            ((TextPart(output),) if output else ())
            if isinstance(output, str)
            else _decode_content(output, f"{field}.output")
        )
        result = ToolResultPart(as_str(call_id, f"{field}.call_id"), content, kind=_OUTPUTS[kind])
        return Message("user", (result,))
    if kind == COMPACTION_TRIGGER:
        raise refuse(f"{field}.type", API, "a compaction_trigger is answered by the gateway, not translated")
    raise refuse(f"{field}.type", API, f"input item {kind!r}")


def _decode_call(item: dict[str, Any], kind: str, field: str) -> ToolCallPart:
    call_id = as_str(item.get("call_id"), f"{field}.call_id")
    if kind == "local_shell_call":
        action = dict(as_dict(item.get("action"), f"{field}.action"))
        action.pop("type", None)
        return ToolCallPart(call_id, LOCAL_SHELL_NAME, action, ToolKind.LOCAL_SHELL)
    namespace = item.get("namespace") if isinstance(item.get("namespace"), str) else None
    name = qualified_name(namespace, as_str(item.get("name"), f"{field}.name"))
    if kind == "custom_tool_call":
        arguments = {CUSTOM_INPUT: as_str(item.get("input"), f"{field}.input")}
        return ToolCallPart(call_id, name, arguments, ToolKind.CUSTOM, namespace)
    arguments = arguments_from_json(
        as_str(item.get("arguments", ""), f"{field}.arguments"), f"{field}.arguments"
    )
    return ToolCallPart(call_id, name, arguments, ToolKind.FUNCTION, namespace)


def _decode_content(content: Any, field: str) -> tuple[ContentPart, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),) if content else ()
    parts: list[ContentPart] = []
    for n, value in enumerate(as_list(content, field)):
        part = as_dict(value, f"{field}[{n}]")
        kind = part.get("type")
        if kind in ("input_text", "output_text"):
            parts.append(TextPart(as_str(part.get("text"), f"{field}[{n}].text")))
        elif kind == "refusal":
            parts.append(TextPart(as_str(part.get("refusal"), f"{field}[{n}].refusal")))
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append(image_from_url(part["image_url"]))
        elif kind == "input_file":
            parts.append(_decode_file(part, f"{field}[{n}]"))
        else:
            # `input_image` by `file_id` lands here too: a file stored at OpenAI has no counterpart.
            raise refuse(f"{field}[{n}].type", API, f"content part {kind!r}")
    return tuple(parts)


def _decode_file(part: dict[str, Any], field: str) -> DocumentPart:
    filename = part.get("filename") if isinstance(part.get("filename"), str) else None
    if isinstance(part.get("file_url"), str):
        return DocumentPart(url=part["file_url"], filename=filename)
    inline = parse_data_url(part["file_data"]) if isinstance(part.get("file_data"), str) else None
    if inline is None:
        raise refuse(
            f"{field}.file_id" if "file_id" in part else f"{field}.file_data", API, "inline or URL files only"
        )
    return DocumentPart(data=inline[1], media_type=inline[0], filename=filename)


def encode_input(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """The `input` items for `messages` (system messages become `developer` messages)."""
    items: list[dict[str, Any]] = []
    for message in messages:
        pending: list[ContentPart] = []
        for part in message.parts:
            if isinstance(part, TextPart | ImagePart | DocumentPart):
                pending.append(part)
                continue
            _flush(items, message.role, pending)
            item = _encode_part(part)
            if item is not None:
                items.append(item)
        _flush(items, message.role, pending)
    return items


def _flush(items: list[dict[str, Any]], role: Role, pending: list[ContentPart]) -> None:
    if not pending:
        return
    if role == "assistant":
        text = "".join(part.text for part in pending if isinstance(part, TextPart))
        if len(pending) > sum(isinstance(part, TextPart) for part in pending):
            dropped(API, "an image or document in an assistant turn")
        if text:
            items.append({"type": "message", "role": "assistant", "content": text})
    else:
        api_role = "developer" if role == "system" else "user"
        items.append({"type": "message", "role": api_role, "content": encode_content(pending)})
    pending.clear()


def _encode_part(part: Part) -> dict[str, Any] | None:
    if isinstance(part, ThinkingPart):
        if part.token is None or part.token.api != API or part.redacted:
            dropped(API, "a reasoning block with no Responses encrypted_content")
            return None
        summary = [{"type": "summary_text", "text": part.text}] if part.text else []
        return {"type": "reasoning", "summary": summary, "encrypted_content": part.token.token}
    if isinstance(part, ToolCallPart):
        return _encode_call(part)
    if isinstance(part, ToolResultPart):
        if part.is_error:
            dropped(API, "tool_result.is_error")
        texts_only = all(isinstance(item, TextPart) for item in part.content)
        output: Any = "".join(item.text for item in part.content if isinstance(item, TextPart))
        if not texts_only:
            output = encode_content(list(part.content))
        key = "id" if part.kind is ToolKind.LOCAL_SHELL else "call_id"
        return {"type": _OUTPUT_TYPES[part.kind], key: part.call_id, "output": output}
    return None  # pragma: no cover - content parts are flushed by the caller


def _encode_call(part: ToolCallPart) -> dict[str, Any]:
    if part.kind is ToolKind.LOCAL_SHELL:
        action: dict[str, Any] = {"type": "exec", "env": {}, **part.arguments}
        return {
            "type": "local_shell_call",
            "id": part.id,
            "call_id": part.id,
            "status": "completed",
            "action": action,
        }
    name = part.name
    item: dict[str, Any] = {"call_id": part.id}
    if part.namespace and name.startswith(part.namespace):
        item["namespace"] = part.namespace
        name = qualified_name(None, name[len(qualified_name(part.namespace, "")) :])
    if part.kind is ToolKind.CUSTOM:
        return {
            "type": "custom_tool_call",
            **item,
            "name": name,
            "input": str(part.arguments.get(CUSTOM_INPUT, "")),
        }
    return {"type": "function_call", **item, "name": name, "arguments": arguments_json(part.arguments)}


def encode_content(parts: list[ContentPart]) -> list[dict[str, Any]]:
    """Responses input content parts for text, images and documents."""
    encoded: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            encoded.append({"type": "input_text", "text": part.text})
        elif isinstance(part, ImagePart):
            encoded.append({"type": "input_image", "image_url": image_url(part), "detail": "auto"})
        else:
            file: dict[str, Any] = {"type": "input_file"}
            if part.url is not None:
                file["file_url"] = part.url
            else:
                file["file_data"] = data_url(part.media_type, part.data or "")
                file["filename"] = part.filename or "document"
            encoded.append(file)
    return encoded
