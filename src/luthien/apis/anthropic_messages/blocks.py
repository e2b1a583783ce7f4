"""Anthropic Messages content blocks ↔ normalized message parts.

Text, images and documents (base64 or URL; a plain-text document becomes text), thinking and
redacted thinking (their signature kept with the API that made it), `tool_use` and `tool_result`.
`cache_control` is dropped (logged): no other API has it. Server-tool blocks, search results and
file sources are refused by type.
"""

from __future__ import annotations

from typing import Any

from luthien.translation.request_model import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from luthien.translation.request_parts import (
    as_dict,
    as_list,
    as_str,
    content_parts_only,
    dropped,
    refuse,
    token_of,
)

API = "anthropic_messages"


def decode_message(message: dict[str, Any], index: int) -> Message:
    """The normalized form of `messages[index]`."""
    field = f"messages[{index}]"
    role = message.get("role")
    if role not in ("user", "assistant", "system"):
        raise refuse(f"{field}.role", API, f"role {role!r}")
    content = message.get("content")
    if isinstance(content, str):
        return Message(role, (TextPart(content),))
    blocks = as_list(content, f"{field}.content")
    return Message(
        role,
        tuple(
            _decode_block(as_dict(block, field), f"{field}.content[{n}]") for n, block in enumerate(blocks)
        ),
    )


def _decode_block(block: dict[str, Any], field: str) -> Part:
    if "cache_control" in block:
        dropped("other APIs", f"{field}.cache_control")
    kind = block.get("type")
    if kind == "text":
        return TextPart(as_str(block.get("text"), f"{field}.text"))
    if kind in ("image", "document"):
        return _decode_source(block, field)
    if kind == "thinking":
        signature = block.get("signature")
        token = token_of(signature, API) if isinstance(signature, str) and signature else None
        return ThinkingPart(as_str(block.get("thinking"), f"{field}.thinking"), token)
    if kind == "redacted_thinking":
        return ThinkingPart("", token_of(as_str(block.get("data"), f"{field}.data"), API), redacted=True)
    if kind == "tool_use":
        return ToolCallPart(
            as_str(block.get("id"), f"{field}.id"),
            as_str(block.get("name"), f"{field}.name"),
            as_dict(block.get("input", {}), f"{field}.input"),
        )
    if kind == "tool_result":
        content = block.get("content")
        parts: tuple[ContentPart, ...] = ()
        if isinstance(content, str):
            parts = (TextPart(content),) if content else ()
        elif content is not None:
            decoded = [
                _decode_block(as_dict(item, field), f"{field}.content") for item in as_list(content, field)
            ]
            parts = content_parts_only(tuple(decoded))
            if len(parts) != len(decoded):
                raise refuse(f"{field}.content", API, "only text, images and documents can be tool results")
        return ToolResultPart(
            as_str(block.get("tool_use_id"), f"{field}.tool_use_id"), parts, bool(block.get("is_error"))
        )
    raise refuse(f"{field}.type", API, f"content block {kind!r}")


def _decode_source(block: dict[str, Any], field: str) -> Part:
    source = as_dict(block.get("source"), f"{field}.source")
    kind = source.get("type")
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if kind == "base64":
        data = as_str(source.get("data"), f"{field}.source.data")
        media_type = as_str(source.get("media_type"), f"{field}.source.media_type")
        if block["type"] == "image":
            return ImagePart(data=data, media_type=media_type)
        return DocumentPart(data=data, media_type=media_type, filename=title)
    if kind == "url":
        url = as_str(source.get("url"), f"{field}.source.url")
        return ImagePart(url=url) if block["type"] == "image" else DocumentPart(url=url, filename=title)
    if kind == "text" and block["type"] == "document":
        # A plain-text document is text to every other API.
        return TextPart(as_str(source.get("data"), f"{field}.source.data"))
    raise refuse(f"{field}.source.type", API, f"source {kind!r}")


def keeps(part: Part) -> bool:
    """Whether `part` goes to Anthropic: not empty text, not reasoning another API made."""
    if isinstance(part, TextPart):
        return bool(part.text)
    if isinstance(part, ThinkingPart) and (part.token is None or part.token.api != API):
        dropped(API, "a reasoning block with no Anthropic signature")
        return False
    return True


def encode_part(part: Part) -> dict[str, Any]:
    """The content block for `part` (one `keeps` accepted)."""
    if isinstance(part, ThinkingPart):
        token = part.token.token if part.token is not None else ""
        if part.redacted:
            return {"type": "redacted_thinking", "data": token}
        return {"type": "thinking", "thinking": part.text, "signature": token}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id}
        content = [encode_part(item) for item in part.content if keeps(item)]
        if content:
            block["content"] = content
        if part.is_error:
            block["is_error"] = True
        return block
    return _encode_content(part)


def _encode_content(part: TextPart | ImagePart | DocumentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if part.url is not None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    else:
        source = {"type": "base64", "media_type": part.media_type, "data": part.data}
    if isinstance(part, ImagePart):
        return {"type": "image", "source": source}
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.filename:
        block["title"] = part.filename
    return block
