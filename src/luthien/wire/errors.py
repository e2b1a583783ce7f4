"""Errors Luthien itself raises, and how each looks in the Anthropic and OpenAI error shapes.

Anthropic: `{"type": "error", "error": {"type": ..., "message": ...}}`.
OpenAI: `{"error": {"message": ..., "type": ..., "param": null, "code": ...}}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class _Kind:
    status: int
    anthropic_type: str
    openai_type: str
    openai_code: str
    openai_status: int | None = None
    """The status OpenAI clients get, where it differs from `status` (the Anthropic one)."""


class ErrorKind(Enum):
    """Every error Luthien answers with on its own, with its HTTP status and per-format type names."""

    INVALID_REQUEST = _Kind(400, "invalid_request_error", "invalid_request_error", "invalid_request")
    AUTHENTICATION = _Kind(401, "authentication_error", "invalid_request_error", "invalid_api_key")
    NOT_FOUND = _Kind(404, "not_found_error", "invalid_request_error", "not_found")
    REQUEST_TOO_LARGE = _Kind(413, "request_too_large", "invalid_request_error", "request_too_large")
    # Luthien's own rate limits (`luthien.ratelimit`): requests per window, tokens per day.
    RATE_LIMITED = _Kind(429, "rate_limit_error", "requests", "rate_limit_exceeded")
    TOKEN_BUDGET_EXCEEDED = _Kind(429, "rate_limit_error", "tokens", "rate_limit_exceeded")
    # An endpoint whose answer no policy can check, refused while a policy inspects responses.
    UNCHECKED = _Kind(403, "permission_error", "permission_error", "unchecked_endpoint")
    INTERNAL = _Kind(500, "api_error", "server_error", "internal_error")
    # A policy raised and fails closed.
    POLICY = _Kind(500, "api_error", "server_error", "policy_error")
    UPSTREAM_UNAVAILABLE = _Kind(502, "api_error", "server_error", "upstream_unavailable")
    UPSTREAM_TIMEOUT = _Kind(504, "timeout_error", "server_error", "upstream_timeout")
    # The upstream's circuit breaker is open: the call was not sent (`luthien.upstream.breaker`).
    UPSTREAM_CIRCUIT_OPEN = _Kind(503, "api_error", "server_error", "upstream_circuit_open")
    # An error that happens after a stream started: it travels as an event, not a status.
    UPSTREAM_STREAM = _Kind(502, "api_error", "server_error", "upstream_stream_error")
    # The server is shutting down and the grace period for calls in flight is over.
    SHUTTING_DOWN = _Kind(503, "api_error", "server_error", "server_shutting_down")
    # Luthien serves as many calls as it may at once: retry later (both SDKs retry these by themselves).
    # Anthropic's own overload answer is 529 `overloaded_error`; OpenAI's is a 503.
    OVERLOADED = _Kind(529, "overloaded_error", "server_error", "overloaded", openai_status=503)

    @property
    def status(self) -> int:
        """The HTTP status this error is answered with."""
        return self.value.status

    def status_for(self, openai: bool) -> int:
        """The HTTP status for an Anthropic (`openai` False) or an OpenAI client."""
        if openai and self.value.openai_status is not None:
            return self.value.openai_status
        return self.value.status


class GatewayError(Exception):
    """A failure answered by Luthien itself, rendered in the client's error shape.

    Attributes:
        kind: what went wrong; decides status and type names.
        message: human-readable explanation (never contains credentials).
        headers: response headers that go with the error (`Retry-After`, rate-limit headers).
    """

    def __init__(self, kind: ErrorKind, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.headers = headers


def anthropic_error(kind: ErrorKind, message: str) -> dict[str, Any]:
    """The Anthropic error object for `kind`."""
    return {"type": "error", "error": {"type": kind.value.anthropic_type, "message": message}}


def openai_error(kind: ErrorKind, message: str) -> dict[str, Any]:
    """The OpenAI error object for `kind`."""
    return {
        "error": {
            "message": message,
            "type": kind.value.openai_type,
            "param": None,
            "code": kind.value.openai_code,
        }
    }


def dumps(value: Any) -> bytes:
    """Compact JSON, the way providers send it."""
    return orjson.dumps(value)
