"""Codex's server-side compaction on the Responses API: recognising the request, building the answer.

Codex CLI (0.169 and later) compacts its context with an ordinary streaming ``POST /v1/responses``
whose ``input`` ends in ``{"type": "compaction_trigger"}``. The answer it expects is a response whose
``output`` holds exactly one item, ``{"type": "compaction", "id": "cmp_...", "encrypted_content":
"..."}``; Codex then replaces its history with the user messages it keeps plus that item, copied
verbatim into the ``input`` of its next request. Any other answer fails the turn ("remote compaction v2
expected exactly one compaction output item").
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, cast

from luthien.testing.fake_provider.openai_responses_wire import (
    OPENAI_DEFAULT_MODEL,
    new_response_id,
    response_object,
    responses_usage,
)
from luthien.testing.fake_provider.script import sse_frame

__all__ = [
    "COMPACTION_TRIGGER",
    "compaction_item",
    "compaction_response",
    "compaction_stream",
    "is_compaction_request",
]

COMPACTION_TRIGGER = "compaction_trigger"
"""The ``type`` of the input item that asks for a compaction."""
_ENCRYPTED_CONTENT_BYTES = 48
_COMPACTION_INPUT_TOKENS = 1200
_COMPACTION_OUTPUT_TOKENS = 300
"""A compaction reads the whole history and writes a short opaque summary."""


def is_compaction_request(body: Mapping[str, Any]) -> bool:
    """Whether a ``/v1/responses`` body asks for a compaction (its last input item is the trigger)."""
    items: Any = body.get("input")
    if not isinstance(items, list) or not items:
        return False
    last: Any = cast(list[Any], items)[-1]
    return isinstance(last, dict) and cast(dict[str, Any], last).get("type") == COMPACTION_TRIGGER


def compaction_item(encrypted_content: str | None = None) -> dict[str, Any]:
    """A ``compaction`` output item; fresh random ``encrypted_content`` by default."""
    content = encrypted_content or "gAAAAB" + secrets.token_urlsafe(_ENCRYPTED_CONTENT_BYTES)
    return {"id": "cmp_" + secrets.token_hex(25), "type": "compaction", "encrypted_content": content}


def compaction_response(
    *, model: str = OPENAI_DEFAULT_MODEL, item: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A completed, non-streaming ``/v1/responses`` body whose one output item is a compaction.

    Args:
        model: The model name echoed back.
        item: The compaction item; a fresh one by default.
    """
    body = response_object(
        "",
        model=model,
        usage=responses_usage(input_tokens=_COMPACTION_INPUT_TOKENS, output_tokens=_COMPACTION_OUTPUT_TOKENS),
    )
    body["output"] = [dict(item) if item is not None else compaction_item()]
    return body


def compaction_stream(
    *, model: str = OPENAI_DEFAULT_MODEL, item: Mapping[str, Any] | None = None
) -> list[bytes]:
    """The SSE frames of a streaming compaction: created, in progress, the item added and done, completed.

    Args:
        model: The model name echoed back.
        item: The compaction item; a fresh one by default.
    """
    completed = compaction_response(model=model, item=item)
    completed["id"] = new_response_id()
    compaction = completed["output"][0]
    started: dict[str, Any] = {
        **completed,
        "status": "in_progress",
        "output": [],
        "usage": None,
        "completed_at": None,
    }
    placed = {"output_index": 0, "item": compaction}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
        ("response.output_item.added", placed),
        ("response.output_item.done", placed),
        ("response.completed", {"response": completed}),
    ]
    return [
        sse_frame(name, {"type": name, **fields, "sequence_number": number})
        for number, (name, fields) in enumerate(events)
    ]
