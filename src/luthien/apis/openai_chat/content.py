"""OpenAI Chat Completions message content ↔ normalized parts: text, images, inline files.

An image's data URL is split into media type and base64 data (and joined back); a `file` part is a
document only when inline (`file_data`): a stored `file_id` and a document by URL have no
counterpart. Audio parts are refused.
"""

from __future__ import annotations

from typing import Any

from luthien.translation.request_model import ContentPart, DocumentPart, ImagePart, TextPart
from luthien.translation.request_parts import (
    as_dict,
    as_list,
    as_str,
    data_url,
    image_from_url,
    image_url,
    parse_data_url,
    refuse,
)

API = "openai_chat"


def decode_content(content: Any, field: str) -> tuple[ContentPart, ...]:
    """The parts of a Chat message `content` (a string, or text, image and file parts)."""
    if content is None:
        return ()
    if isinstance(content, str):
        return (TextPart(content),) if content else ()
    parts: list[ContentPart] = []
    for n, value in enumerate(as_list(content, field)):
        part = as_dict(value, f"{field}[{n}]")
        kind = part.get("type")
        if kind in ("text", "refusal"):
            parts.append(TextPart(as_str(part.get(kind), f"{field}[{n}].{kind}")))
        elif kind == "image_url":
            url = as_str(
                as_dict(part.get("image_url"), f"{field}[{n}].image_url").get("url"),
                f"{field}[{n}].image_url.url",
            )
            parts.append(image_from_url(url))
        elif kind == "file":
            parts.append(_decode_file(as_dict(part.get("file"), f"{field}[{n}].file"), f"{field}[{n}].file"))
        else:
            raise refuse(f"{field}[{n}].type", API, f"content part {kind!r}")
    return tuple(parts)


def _decode_file(file: dict[str, Any], field: str) -> DocumentPart:
    filename = file.get("filename") if isinstance(file.get("filename"), str) else None
    inline = parse_data_url(file["file_data"]) if isinstance(file.get("file_data"), str) else None
    if inline is None:
        raise refuse(
            f"{field}.file_id" if "file_id" in file else f"{field}.file_data", API, "inline base64 files only"
        )
    return DocumentPart(data=inline[1], media_type=inline[0], filename=filename)


def encode_content(parts: list[ContentPart]) -> str | list[dict[str, Any]]:
    """A Chat message `content` for text, images and inline documents (a lone text: a string)."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    encoded: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            encoded.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            encoded.append({"type": "image_url", "image_url": {"url": image_url(part)}})
        elif part.url is not None:
            raise refuse("document.source.url", API, "Chat Completions files are inline only")
        else:
            file: dict[str, Any] = {"file_data": data_url(part.media_type, part.data or "")}
            if part.filename:
                file["filename"] = part.filename
            encoded.append({"type": "file", "file": file})
    return encoded
