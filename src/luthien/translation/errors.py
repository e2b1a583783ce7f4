"""Upstream errors in the client's shape: error bodies answered before a stream, and in-stream errors.

An upstream of one API reports errors in its own shape (Anthropic: `{"type": "error", "error":
{"type", "message"}}`; OpenAI: `{"error": {"message", "type", "param", "code"}}`; a Responses stream's
`error` event and `response.failed` carry `code` and `message`). A client of another API gets the
same message under the error type of its own API that means the same (`ERROR_TYPES`, else by HTTP
status, `STATUS_KINDS`); the caller keeps the upstream's status.
"""

from __future__ import annotations

from typing import Any, cast

import orjson

from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind

ERROR_TYPES: dict[str, ErrorKind] = {
    # Anthropic error types.
    "invalid_request_error": ErrorKind.INVALID_REQUEST,
    "authentication_error": ErrorKind.AUTHENTICATION,
    "permission_error": ErrorKind.UNCHECKED,
    "not_found_error": ErrorKind.NOT_FOUND,
    "request_too_large": ErrorKind.REQUEST_TOO_LARGE,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "api_error": ErrorKind.INTERNAL,
    "overloaded_error": ErrorKind.OVERLOADED,
    "timeout_error": ErrorKind.UPSTREAM_TIMEOUT,
    # OpenAI error codes (more specific than their types, so looked up first).
    "invalid_api_key": ErrorKind.AUTHENTICATION,
    "rate_limit_exceeded": ErrorKind.RATE_LIMITED,
    "insufficient_quota": ErrorKind.RATE_LIMITED,
    "model_not_found": ErrorKind.NOT_FOUND,
    "context_length_exceeded": ErrorKind.INVALID_REQUEST,
    "server_error": ErrorKind.INTERNAL,
    "overloaded": ErrorKind.OVERLOADED,
    # OpenAI error types.
    "requests": ErrorKind.RATE_LIMITED,
    "tokens": ErrorKind.TOKEN_BUDGET_EXCEEDED,
    "insufficient_quota_error": ErrorKind.RATE_LIMITED,
}
"""Upstream error types and codes, by the kind of error they are to a client of any API."""

STATUS_KINDS: dict[int, ErrorKind] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTHENTICATION,
    403: ErrorKind.UNCHECKED,
    404: ErrorKind.NOT_FOUND,
    413: ErrorKind.REQUEST_TOO_LARGE,
    429: ErrorKind.RATE_LIMITED,
    502: ErrorKind.UPSTREAM_UNAVAILABLE,
    503: ErrorKind.OVERLOADED,
    504: ErrorKind.UPSTREAM_TIMEOUT,
    529: ErrorKind.OVERLOADED,
}
"""The kind of an upstream error whose type is unknown, by HTTP status (other 4xx: invalid request,
other 5xx: internal)."""

CLIENT_ERROR_STATUSES = range(400, 500)
UNKNOWN_ERROR_MESSAGE = "upstream answered with an error"
MESSAGE_LIMIT = 2000
"""How much of a non-JSON error body is quoted as the message."""


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _error_fields(data: Any) -> tuple[list[str], str | None]:
    """The type names (code first) and the message of an error payload in any API's shape."""
    payload = _dict(data)
    error = _dict(payload.get("error")) or payload
    names = [str(error[key]) for key in ("code", "type") if isinstance(error.get(key), str)]
    message = error.get("message")
    return names, message if isinstance(message, str) and message else None


def error_kind(data: Any, status: int | None = None) -> ErrorKind:
    """The kind of error an upstream error payload (of any API) reports."""
    names, _ = _error_fields(data)
    for name in names:
        if name in ERROR_TYPES:
            return ERROR_TYPES[name]
    if status is None:
        return ErrorKind.UPSTREAM_STREAM
    if status in STATUS_KINDS:
        return STATUS_KINDS[status]
    return ErrorKind.INVALID_REQUEST if status in CLIENT_ERROR_STATUSES else ErrorKind.INTERNAL


def in_stream_error(data: Any) -> tuple[ErrorKind, str]:
    """The kind and message of an upstream's in-stream error event (or failed response)."""
    _, message = _error_fields(data)
    return error_kind(data), message or UNKNOWN_ERROR_MESSAGE


def translated_error(status: int, body: bytes, upstream: WireApi, client: WireApi) -> bytes:
    """An upstream error body (answered before any stream) in the client's error shape.

    The body is unchanged when both APIs share an error shape, their dialect's (Chat and Responses).
    The caller answers with the upstream's `status`.
    """
    if upstream.format is client.format:
        return body
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    _, message = _error_fields(data)
    if message is None:
        text = body.decode("utf-8", errors="replace").strip()[:MESSAGE_LIMIT]
        message = text or f"{UNKNOWN_ERROR_MESSAGE} (HTTP {status})"
    return orjson.dumps(client.error_body(error_kind(data, status), message))
