"""The records part of the admin API's OpenAPI document: transactions, sessions, activity, export.

Owns the record schemas (`TransactionSummary`, `Transaction`, their bodies and diffs, sessions) and
the filters and paging every record listing shares.
"""

from __future__ import annotations

from typing import Any

from luthien.admin.openapi.build import (
    NULLABLE_NUMBER,
    NULLABLE_STRING,
    STRING_LIST,
    TIME,
    error_reply,
    get_operation,
    object_schema,
    ok_reply,
    page_of,
    path_param,
    query_param,
    ref,
)
from luthien.records.model import TransactionStatus
from luthien.records.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

STATUSES = [status.value for status in TransactionStatus]
FILTERS = [
    query_param("session", "agent session id"),
    query_param("model", "exact model name"),
    query_param("policy", "policy instance that served the call"),
    query_param(
        "status",
        "statuses, repeated or comma-separated",
        {"type": "array", "items": {"type": "string", "enum": STATUSES}},
    ),
    query_param("blocked", "only calls in which a policy blocked something", {"type": "boolean"}),
    query_param("event_type", "only calls with an activity event of this type, e.g. judge.decision"),
    query_param("since", "received at or after", TIME),
    query_param("until", "received before", TIME),
    query_param("q", "case-insensitive text in the request or response"),
    query_param(
        "shadow_disagreed",
        "only calls where a shadow policy would (true) / would not (false) have blocked or changed something",
        {"type": "boolean"},
    ),
]
"""The filters of the transaction listing, the live stream and the export."""
PAGE = [
    query_param("cursor", "next_cursor of the previous page"),
    query_param(
        "limit",
        f"page size (default {DEFAULT_PAGE_SIZE})",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
]
"""The paging parameters of every listing."""
TRANSACTION_ID = path_param("transaction_id", "the X-Luthien-Transaction-Id")
BODY_NAMES = ["original_request", "final_request", "original_response", "final_response"]

USAGE = object_schema(
    {
        name: {"type": ["integer", "null"]}
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
    }
)
CHANGE = object_schema(
    {
        "path": {"type": "string", "description": "JSON pointer in the final value (original for removed)"},
        "op": {"type": "string", "enum": ["changed", "added", "removed"]},
        "before": {},
        "after": {},
        "original_path": {"type": "string"},
    },
    ["path", "op"],
)
BODY_PAIR = object_schema(
    {
        "original": {"description": "parsed JSON, or text when the body is not JSON"},
        "final": {},
        "changed": {"type": "boolean"},
        "diff": {"type": "array", "items": ref("Change")},
        "diff_truncated": {"type": "boolean"},
    },
    ["original", "final", "changed"],
)
SUMMARY = object_schema(
    {
        "transaction_id": {"type": "string"},
        "session_id": NULLABLE_STRING,
        "client_api": {"type": "string"},
        "model": NULLABLE_STRING,
        "upstream": NULLABLE_STRING,
        "policy": NULLABLE_STRING,
        "status": {"type": "string", "enum": STATUSES},
        "http_status": {"type": ["integer", "null"]},
        "streaming": {"type": "boolean"},
        "received_at": {"type": "number"},
        "duration_ms": NULLABLE_NUMBER,
        "time_to_first_token_ms": NULLABLE_NUMBER,
        "usage": ref("Usage"),
        "tool_names": STRING_LIST,
        "event_types": STRING_LIST,
        "preview": {"type": "string"},
        "shadow_disagreed": {"type": "boolean"},
    },
    ["transaction_id", "status", "received_at"],
)
SUMMARY_ONLY = ("tool_names", "event_types", "preview")
"""Summary fields a whole transaction does not repeat."""
TRANSACTION = object_schema(
    {
        **{k: v for k, v in SUMMARY["properties"].items() if k not in SUMMARY_ONLY},
        "endpoint": {"type": "string"},
        "blocked": {"type": "boolean"},
        "timing": object_schema({}),
        "request_headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "events": {
            "type": "array",
            "items": object_schema(
                {
                    "type": {"type": "string"},
                    "data": {"type": "object"},
                    "policy": NULLABLE_STRING,
                    "timestamp": {"type": "number"},
                }
            ),
        },
        "error": NULLABLE_STRING,
        "request": ref("BodyPair"),
        "response": ref("BodyPair"),
        "shadows": {"type": "array", "items": ref("Shadow")},
    },
    ["transaction_id", "status", "request", "response"],
)
SESSION = object_schema(
    {
        "session_id": {"type": "string"},
        "first_at": {"type": "number"},
        "last_at": {"type": "number"},
        "transaction_count": {"type": "integer"},
        "blocked_count": {"type": "integer"},
        "models": STRING_LIST,
    },
    ["session_id"],
)

RECORD_PATHS: dict[str, Any] = {
    "/api/transactions": get_operation(
        "Transactions matching the filters, newest first",
        [*FILTERS, *PAGE],
        {
            "200": ok_reply("a page", page_of("TransactionSummary")),
            "400": error_reply("malformed filter, cursor or limit"),
        },
    ),
    "/api/transactions/{transaction_id}": get_operation(
        "One transaction: both versions of request and response, and their diffs",
        [TRANSACTION_ID],
        {"200": ok_reply("the transaction", ref("Transaction")), "404": error_reply("unknown transaction")},
    ),
    "/api/transactions/{transaction_id}/body/{which}": get_operation(
        "A stored body, byte for byte",
        [
            TRANSACTION_ID,
            {
                "name": "which",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "enum": BODY_NAMES},
            },
        ],
        {
            "200": {"description": "the bytes", "content": {"application/octet-stream": {}}},
            "404": error_reply("unknown transaction or no such body"),
        },
    ),
    "/api/sessions": get_operation(
        "Agent sessions, most recently active first",
        [query_param("q", "text in the session id"), *PAGE],
        {
            "200": ok_reply("a page", page_of("SessionSummary")),
            "400": error_reply("malformed cursor or limit"),
        },
    ),
    "/api/sessions/{session_id}": get_operation(
        "The turns of one agent session, oldest first",
        [path_param("session_id", "the agent's session id")],
        {
            "200": ok_reply(
                "the session",
                object_schema(
                    {
                        "session_id": {"type": "string"},
                        "turns": {"type": "array", "items": {"type": "object"}},
                    }
                ),
            ),
            "404": error_reply("unknown session"),
        },
    ),
    "/api/activity/stream": get_operation(
        "Live events as Server-Sent Events (honours Last-Event-ID)",
        [*FILTERS, query_param("last_event_id", "resume after this event (or the Last-Event-ID header)")],
        {
            "200": {"description": "an event stream", "content": {"text/event-stream": {}}},
            "400": error_reply("malformed filter"),
        },
    ),
    "/api/export": get_operation(
        "Whole transactions matching the filters as JSON Lines, oldest first, streamed",
        FILTERS,
        {
            "200": ok_reply("one transaction per line", ref("Transaction"), "application/x-ndjson"),
            "400": error_reply("malformed filter"),
        },
    ),
}
"""The record endpoints."""
RECORD_SCHEMAS: dict[str, Any] = {
    "Usage": USAGE,
    "Change": CHANGE,
    "BodyPair": BODY_PAIR,
    "TransactionSummary": SUMMARY,
    "Transaction": TRANSACTION,
    "SessionSummary": SESSION,
}
"""The record schemas."""
