"""The fake provider's unscripted answers: a realistic default reply for each endpoint it serves.

Which API a request speaks (its flavor), the request-id and rate-limit headers every reply
carries, the default message or stream of each scripted endpoint, the model list, and 404s.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Literal, cast

import orjson
from multidict import CIMultiDict

from luthien.testing.fake_provider.anthropic_wire import (
    anthropic_error_body,
    anthropic_message,
    anthropic_request_id,
    anthropic_stream,
)
from luthien.testing.fake_provider.openai_chat_wire import (
    chat_completion,
    chat_stream,
    openai_error_body,
    openai_request_id,
)
from luthien.testing.fake_provider.openai_compaction_wire import (
    compaction_response,
    compaction_stream,
    is_compaction_request,
)
from luthien.testing.fake_provider.openai_responses_wire import response_object, responses_stream
from luthien.testing.fake_provider.script import JSONReply, RawReply, ReceivedRequest, Reply, StreamReply

Flavor = Literal["anthropic", "openai"]

SCRIPTED_PATHS = frozenset(
    {"/v1/messages", "/v1/messages/count_tokens", "/v1/chat/completions", "/v1/responses"}
)
"""POSTs to these paths consume the next enqueued reply."""
DEFAULT_COUNT_TOKENS = 42

_ANTHROPIC_MODELS = [
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
]
_OPENAI_MODELS = [("gpt-5", 1754425777, "system"), ("gpt-5-mini", 1754425928, "system")]


def flavor_of(path: str, headers: Mapping[str, str]) -> Flavor:
    """The API a request speaks, by its path (or, for a shared path, its `anthropic-version` header)."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith(("/v1/chat/", "/v1/responses")):
        return "openai"
    return "anthropic" if "anthropic-version" in headers else "openai"


def default_headers(flavor: Flavor) -> CIMultiDict[str]:
    """The request-id and rate-limit headers a reply in `flavor` carries."""
    if flavor == "anthropic":
        reset = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
        return CIMultiDict(
            {
                "request-id": anthropic_request_id(),
                "anthropic-ratelimit-requests-limit": "4000",
                "anthropic-ratelimit-requests-remaining": "3999",
                "anthropic-ratelimit-requests-reset": reset.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return CIMultiDict(
        {
            "x-request-id": openai_request_id(),
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms",
        }
    )


def _json_dict(value: Any) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def json_body(body: bytes) -> dict[str, Any]:
    """A request body's JSON object; empty when it is not one."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return _json_dict(data)


def default_reply(received: ReceivedRequest, flavor: Flavor) -> Reply:
    """The reply to a request nothing scripted: realistic for the API endpoints, else a 404."""
    path, method = received.path, received.method
    if method == "POST" and path in SCRIPTED_PATHS:
        if path == "/v1/messages/count_tokens":
            return JSONReply({"input_tokens": DEFAULT_COUNT_TOKENS})
        body = json_body(received.body)
        model = body.get("model")
        streaming = body.get("stream") is True
        if path == "/v1/messages":
            model = model if isinstance(model, str) else "claude-sonnet-4-6"
            if streaming:
                return StreamReply(anthropic_stream(model=model))
            return JSONReply(anthropic_message(model=model))
        model = model if isinstance(model, str) else "gpt-5"
        if path == "/v1/chat/completions":
            if streaming:
                options = _json_dict(body.get("stream_options"))
                include_usage = bool(options.get("include_usage"))
                return StreamReply(chat_stream(model=model, include_usage=include_usage))
            return JSONReply(chat_completion(model=model))
        if is_compaction_request(body):  # Codex's server-side compaction
            if streaming:
                return StreamReply(compaction_stream(model=model))
            return JSONReply(compaction_response(model=model))
        if streaming:
            return StreamReply(responses_stream(model=model))
        return JSONReply(response_object(model=model))
    if method in ("GET", "HEAD") and path == "/":
        return RawReply(b"")
    if method == "GET" and path == "/v1/models":
        return JSONReply(_models_list(flavor))
    if method == "GET" and path.startswith("/v1/models/"):
        model = _model_entry(flavor, path.removeprefix("/v1/models/"))
        if model is not None:
            return JSONReply(model)
    return _not_found(flavor, f"{method} {path} not found")


def _models_list(flavor: Flavor) -> dict[str, Any]:
    if flavor == "anthropic":
        data = [
            {"type": "model", "id": mid, "display_name": name, "created_at": created}
            for mid, name, created in _ANTHROPIC_MODELS
        ]
        return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    return {
        "object": "list",
        "data": [
            {"id": mid, "object": "model", "created": created, "owned_by": owner}
            for mid, created, owner in _OPENAI_MODELS
        ],
    }


def _model_entry(flavor: Flavor, model_id: str) -> dict[str, Any] | None:
    entries: list[dict[str, Any]] = _models_list(flavor)["data"]
    return next((entry for entry in entries if entry["id"] == model_id), None)


def _not_found(flavor: Flavor, message: str) -> JSONReply:
    if flavor == "anthropic":
        return JSONReply(anthropic_error_body("not_found_error", message), status=404)
    return JSONReply(openai_error_body("invalid_request_error", message), status=404)
