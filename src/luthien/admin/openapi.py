"""The admin API's OpenAPI 3.1 document, built as data from small pieces (`GET /api/openapi.json`)."""

from __future__ import annotations

from typing import Any

from luthien import __version__
from luthien.admin.errors import ApiErrorKind
from luthien.records.model import ShadowOutcome, TransactionStatus
from luthien.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from luthien.replay.openapi import REPLAY_PATHS, REPLAY_SCHEMAS

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


def _ok(description: str, schema: dict[str, Any], media: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


TIME = {"type": "string", "description": "ISO 8601 date-time or epoch seconds"}
FILTERS = [
    _query("session", "agent session id"),
    _query("model", "exact model name"),
    _query("policy", "policy instance that served the call"),
    _query(
        "status",
        "statuses, repeated or comma-separated",
        {"type": "array", "items": {"type": "string", "enum": [s.value for s in TransactionStatus]}},
    ),
    _query("blocked", "only calls in which a policy blocked something", {"type": "boolean"}),
    _query("event_type", "only calls with an activity event of this type, e.g. judge.decision"),
    _query("since", "received at or after", TIME),
    _query("until", "received before", TIME),
    _query("q", "case-insensitive text in the request or response"),
    _query(
        "shadow_disagreed",
        "only calls where a shadow policy would (true) / would not (false) have blocked or changed something",
        {"type": "boolean"},
    ),
]
PAGE = [
    _query("cursor", "next_cursor of the previous page"),
    _query(
        "limit",
        f"page size (default {DEFAULT_PAGE_SIZE})",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
COMMON_ERRORS = {
    "401": _error("missing or wrong admin key"),
    "403": _error("refused: not loopback without an admin key, or a cross-site request"),
}


def _get(summary: str, parameters: list[dict[str, Any]], responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {"summary": summary, "parameters": parameters, "responses": {**responses, **COMMON_ERRORS}}
    }


def _page_of(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "next_cursor": {"type": ["string", "null"]},
        },
    }


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
USAGE = _object(
    {
        name: {"type": ["integer", "null"]}
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
    }
)
CHANGE = _object(
    {
        "path": {"type": "string", "description": "JSON pointer in the final value (original for removed)"},
        "op": {"type": "string", "enum": ["changed", "added", "removed"]},
        "before": {},
        "after": {},
        "original_path": {"type": "string"},
    },
    ["path", "op"],
)
BODY_PAIR = _object(
    {
        "original": {"description": "parsed JSON, or text when the body is not JSON"},
        "final": {},
        "changed": {"type": "boolean"},
        "diff": {"type": "array", "items": _ref("Change")},
        "diff_truncated": {"type": "boolean"},
    },
    ["original", "final", "changed"],
)
SUMMARY = _object(
    {
        "transaction_id": {"type": "string"},
        "session_id": NULLABLE_STRING,
        "client_api": {"type": "string"},
        "model": NULLABLE_STRING,
        "upstream": NULLABLE_STRING,
        "policy": NULLABLE_STRING,
        "status": {"type": "string", "enum": [s.value for s in TransactionStatus]},
        "http_status": {"type": ["integer", "null"]},
        "streaming": {"type": "boolean"},
        "received_at": {"type": "number"},
        "duration_ms": NULLABLE_NUMBER,
        "time_to_first_token_ms": NULLABLE_NUMBER,
        "usage": _ref("Usage"),
        "tool_names": {"type": "array", "items": {"type": "string"}},
        "event_types": {"type": "array", "items": {"type": "string"}},
        "preview": {"type": "string"},
        "shadow_disagreed": {"type": "boolean"},
    },
    ["transaction_id", "status", "received_at"],
)
SHADOW = _object(
    {
        "name": {"type": "string"},
        "outcome": {"type": "string", "enum": [outcome.value for outcome in ShadowOutcome]},
        "disagreed": {"type": "boolean"},
        "error": NULLABLE_STRING,
        "events": {"type": "array", "items": {"type": "object"}},
        "request": {**_ref("BodyPair"), "description": "what was sent (original) and the shadow's (final)"},
        "response": {**_ref("BodyPair"), "description": "what was sent (original) and the shadow's (final)"},
    },
    ["name", "outcome", "request", "response"],
)
TRANSACTION = _object(
    {
        **{
            k: v
            for k, v in SUMMARY["properties"].items()
            if k not in ("tool_names", "event_types", "preview")
        },
        "endpoint": {"type": "string"},
        "blocked": {"type": "boolean"},
        "timing": _object({}),
        "request_headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "events": {
            "type": "array",
            "items": _object(
                {
                    "type": {"type": "string"},
                    "data": {"type": "object"},
                    "policy": NULLABLE_STRING,
                    "timestamp": {"type": "number"},
                }
            ),
        },
        "error": NULLABLE_STRING,
        "request": _ref("BodyPair"),
        "response": _ref("BodyPair"),
        "shadows": {"type": "array", "items": _ref("Shadow")},
    },
    ["transaction_id", "status", "request", "response"],
)
SESSION = _object(
    {
        "session_id": {"type": "string"},
        "first_at": {"type": "number"},
        "last_at": {"type": "number"},
        "transaction_count": {"type": "integer"},
        "blocked_count": {"type": "integer"},
        "models": {"type": "array", "items": {"type": "string"}},
    },
    ["session_id"],
)
POLICY = _object(
    {
        "name": {"type": "string"},
        "class": {"type": "string"},
        "class_path": {"type": "string"},
        "description": {"type": "string"},
        "active": {"type": "boolean"},
        "shadow": {"type": "boolean", "description": "runs in shadow (recorded, never sent)"},
        "inspects_response": {"type": "boolean"},
        "config": {"type": "object"},
        "config_schema": {"type": "object", "description": "JSON schema of the class's config"},
    },
    ["name", "class", "active", "config", "config_schema"],
)
ERROR = _object(
    {
        "error": _object(
            {
                "type": {"type": "string", "enum": [kind.type for kind in ApiErrorKind]},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the parameter or field at fault"},
            },
            ["type", "message"],
        )
    },
    ["error"],
)

PATHS: dict[str, Any] = {
    "/api/transactions": _get(
        "Transactions matching the filters, newest first",
        [*FILTERS, *PAGE],
        {
            "200": _ok("a page", _page_of("TransactionSummary")),
            "400": _error("malformed filter, cursor or limit"),
        },
    ),
    "/api/transactions/{transaction_id}": _get(
        "One transaction: both versions of request and response, and their diffs",
        [_path("transaction_id", "the X-Luthien-Transaction-Id")],
        {"200": _ok("the transaction", _ref("Transaction")), "404": _error("unknown transaction")},
    ),
    "/api/transactions/{transaction_id}/body/{which}": _get(
        "A stored body, byte for byte",
        [
            _path("transaction_id", "the X-Luthien-Transaction-Id"),
            {
                "name": "which",
                "in": "path",
                "required": True,
                "schema": {
                    "type": "string",
                    "enum": ["original_request", "final_request", "original_response", "final_response"],
                },
            },
        ],
        {
            "200": {"description": "the bytes", "content": {"application/octet-stream": {}}},
            "404": _error("unknown transaction or no such body"),
        },
    ),
    "/api/sessions": _get(
        "Agent sessions, most recently active first",
        [_query("q", "text in the session id"), *PAGE],
        {"200": _ok("a page", _page_of("SessionSummary")), "400": _error("malformed cursor or limit")},
    ),
    "/api/sessions/{session_id}": _get(
        "The turns of one agent session, oldest first",
        [_path("session_id", "the agent's session id")],
        {
            "200": _ok(
                "the session",
                _object(
                    {
                        "session_id": {"type": "string"},
                        "turns": {"type": "array", "items": {"type": "object"}},
                    }
                ),
            ),
            "404": _error("unknown session"),
        },
    ),
    "/api/activity/stream": _get(
        "Live events as Server-Sent Events (honours Last-Event-ID)",
        [*FILTERS, _query("last_event_id", "resume after this event (or the Last-Event-ID header)")],
        {
            "200": {"description": "an event stream", "content": {"text/event-stream": {}}},
            "400": _error("malformed filter"),
        },
    ),
    "/api/export": _get(
        "Whole transactions matching the filters as JSON Lines, oldest first, streamed",
        FILTERS,
        {
            "200": {
                "description": "one transaction per line",
                "content": {"application/x-ndjson": {"schema": _ref("Transaction")}},
            },
            "400": _error("malformed filter"),
        },
    ),
    "/api/policies": _get(
        "Configured policy instances, the active one, each config's JSON schema",
        [],
        {
            "200": _ok(
                "the policies",
                _object(
                    {
                        "active": {"type": "string"},
                        "shadow": {"type": "array", "items": {"type": "string"}},
                        "policies": {"type": "array", "items": _ref("Policy")},
                    }
                ),
            )
        },
    ),
    "/api/policy": {
        "put": {
            "summary": "Switch the active policy (every replica; calls in flight finish on the old one)",
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": _object({"policy": {"type": "string"}}, ["policy"])}},
            },
            "responses": {
                "200": _ok(
                    "switched", _object({"active": {"type": "string"}, "previous": {"type": "string"}})
                ),
                "400": _error("not JSON, or not a configured policy"),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/shadow": {
        "put": {
            "summary": "Set the shadow policies (every replica; recorded, never sent; audited)",
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": _object(
                            {"shadow": {"type": "array", "items": {"type": "string"}}}, ["shadow"]
                        )
                    }
                },
            },
            "responses": {
                "200": _ok(
                    "switched",
                    _object(
                        {
                            "shadow": {"type": "array", "items": {"type": "string"}},
                            "previous": {"type": "array", "items": {"type": "string"}},
                        }
                    ),
                ),
                "400": _error("not JSON, not a list of names, or a name that is not a configured policy"),
                "413": _error("body too large"),
                **COMMON_ERRORS,
            },
        }
    },
    "/api/openapi.json": _get("This document", [], {"200": _ok("OpenAPI 3.1", {"type": "object"})}),
    "/api/approvals": _get(
        "Tool calls waiting for a person's approval (human_approval), oldest first",
        [],
        {
            "200": _ok(
                "the pending approvals",
                _object(
                    {
                        "items": {"type": "array", "items": _ref("PendingApproval")},
                        "shared": {"type": "boolean", "description": "shared by every replica (Redis)"},
                    },
                    ["items"],
                ),
            )
        },
    ),
    "/api/approvals/{approval_id}": {
        "post": {
            "summary": "Approve or deny a held tool call (recorded with who decided; a denial's reason "
            "is shown to the agent)",
            "parameters": [_path("approval_id", "the pending approval's id")],
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": _object(
                            {
                                "decision": {"type": "string", "enum": ["approve", "deny"]},
                                "reason": {"type": "string", "maxLength": 2000},
                            },
                            ["decision"],
                        )
                    }
                },
            },
            "responses": {
                "200": _ok("decided", _ref("ApprovalDecision")),
                "400": _error("not JSON, or a field is wrong (`field` names it)"),
                "404": _error("no such approval"),
                "409": _error("already decided, or expired"),
                "413": _error("body too large"),
                **COMMON_ERRORS,
            },
        }
    },
}


SCHEMAS: dict[str, Any] = {
    "Error": ERROR,
    "Usage": USAGE,
    "Change": CHANGE,
    "BodyPair": BODY_PAIR,
    "TransactionSummary": SUMMARY,
    "Transaction": TRANSACTION,
    "SessionSummary": SESSION,
    "Policy": POLICY,
    "PendingApproval": _object(
        {
            "id": {"type": "string"},
            "transaction_id": {"type": "string"},
            "session_id": {"type": ["string", "null"]},
            "policy": {"type": "string"},
            "tool_call": _object(
                {"id": {"type": "string"}, "name": {"type": "string"}, "arguments": {"type": "string"}},
                ["id", "name", "arguments"],
            ),
            "context": {
                "type": "array",
                "items": _object({"role": {"type": "string"}, "text": {"type": "string"}}),
            },
            "verdict": {
                "type": ["object", "null"],
                "description": "the judge's verdict when tool_call_judge escalated the call",
                "properties": {
                    "probability": {"type": "number"},
                    "explanation": {"type": "string"},
                    "threshold": {"type": "number"},
                    "escalate_at": {"type": "number"},
                },
            },
            "created_at": {"type": "number", "description": "epoch seconds"},
            "expires_at": {"type": "number", "description": "epoch seconds; denied then"},
        },
        ["id", "transaction_id", "tool_call", "created_at", "expires_at"],
    ),
    "ApprovalDecision": _object(
        {
            "id": {"type": "string"},
            "transaction_id": {"type": "string"},
            "decision": {"type": "string", "enum": ["approve", "deny"]},
            "reason": {"type": "string"},
            "by": {"type": "string", "description": "admin-key, loopback or session:<id>"},
            "decided_at": {"type": "number"},
        },
        ["id", "decision", "by"],
    ),
    "Shadow": SHADOW,
}
"""The admin API's schemas (the whole server's document, `luthien.gateway.openapi`, includes them)."""
PATHS.update(REPLAY_PATHS)
SCHEMAS.update(REPLAY_SCHEMAS)
ADMIN_KEY_SCHEME = {"type": "http", "scheme": "bearer", "description": "LUTHIEN_ADMIN_KEY"}


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Luthien admin API",
            "version": __version__,
            "description": "Records, agent sessions, live activity and policies. Authenticate with "
            "`Authorization: Bearer <LUTHIEN_ADMIN_KEY>` (without an admin key, loopback clients only).",
        },
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": {"adminKey": ADMIN_KEY_SCHEME}},
        "security": [{"adminKey": []}],
    }
