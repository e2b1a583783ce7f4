"""Limits on what one call may ask of the gateway: message count, JSON nesting, calls at once.

Each refusal is a `GatewayError` answered in the client's own error shape:

- more messages (Anthropic, Chat) or input items (Responses) than `LUTHIEN_MAX_MESSAGES`: 400;
- a request body nested deeper than `LUTHIEN_MAX_JSON_DEPTH`: 400 (orjson itself refuses bodies
  deeper than 1024 levels while parsing, also a 400; and it cannot write anything deeper than
  254 levels, so the setting stays below that and every accepted body can be written again);
- more calls at once than `LUTHIEN_MAX_CONCURRENT_CALLS`: the overload answer at once (Anthropic
  529 `overloaded_error`, OpenAI 503 `server_error`/`overloaded`) with `Retry-After`.

The request-size limit (`LUTHIEN_MAX_REQUEST_BYTES`, 413) is enforced while the body is read
(`luthien.gateway.asgi.read_body`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from contextlib import contextmanager
from typing import Any, cast

from luthien.wire.errors import ErrorKind, GatewayError

RETRY_AFTER_S = 1
"""`Retry-After` of an overload answer: calls are short-lived, so a slot frees up quickly."""
RETRY_AFTER_HEADER = (b"retry-after", str(RETRY_AFTER_S).encode("ascii"))

CONVERSATION_FIELDS = ("messages", "input")
"""Body fields that carry the conversation: `messages` (Anthropic, Chat), `input` (Responses)."""


def check_message_count(body: dict[str, Any], limit: int) -> None:
    """Refuse a conversation longer than `limit` messages or input items.

    Raises:
        GatewayError: INVALID_REQUEST naming the field and the limit.
    """
    for field in CONVERSATION_FIELDS:
        value = body.get(field)
        if isinstance(value, list) and len(cast(list[Any], value)) > limit:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST,
                f"{field}: {len(cast(list[Any], value))} items is more than the {limit} allowed "
                "(LUTHIEN_MAX_MESSAGES)",
            )


def json_depth_exceeds(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether `value` (parsed JSON) nests objects and arrays more than `limit` levels deep.

    The top-level object is level 1. Stops at the first container past the limit, so it recurses at
    most `limit` + 1 levels (the setting keeps that far below Python's recursion limit). This runs
    on every request: recursion is several times faster here than an explicit stack.
    """
    if limit <= 0:
        return True
    children: Iterable[Any] = value.values() if type(value) is dict else value
    for child in children:
        if (type(child) is dict or type(child) is list) and json_depth_exceeds(child, limit - 1):  # pyright: ignore[reportUnknownArgumentType]
            return True
    return False


def check_json_depth(body: dict[str, Any], limit: int, raw: bytes | None = None) -> None:
    """Refuse a body nested deeper than `limit`.

    Args:
        body: the parsed body.
        limit: the deepest nesting allowed.
        raw: the body's bytes, when at hand: a body with no more than `limit` opening brackets
            cannot nest deeper than `limit` (every level opens with one; brackets inside strings
            only make the count larger), so most bodies skip the walk for two `bytes.count` calls.

    Raises:
        GatewayError: INVALID_REQUEST naming the limit.
    """
    if raw is not None and raw.count(b"{") + raw.count(b"[") <= limit:
        return
    if json_depth_exceeds(body, limit):
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"request body nests objects and arrays more than {limit} levels deep (LUTHIEN_MAX_JSON_DEPTH)",
        )


class CallGate:
    """Counts the calls being served, against `limit` (0: no limit).

    One per process, shared by every model-call endpoint. Single event loop: no lock is needed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @property
    def full(self) -> bool:
        """Whether another call must be refused (answer it with `overloaded()`)."""
        return bool(self.limit) and self.active >= self.limit

    @contextmanager
    def admit(self) -> Generator[None]:
        """Count a call for the body of the `with` (check `full` first)."""
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    def overloaded(self) -> GatewayError:
        """The error a call refused for want of a slot gets (send it with `RETRY_AFTER_HEADER`)."""
        return GatewayError(
            ErrorKind.OVERLOADED,
            f"Luthien is serving its maximum of {self.limit} calls at once (LUTHIEN_MAX_CONCURRENT_CALLS); "
            "retry shortly",
        )
