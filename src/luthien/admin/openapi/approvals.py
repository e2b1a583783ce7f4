"""The approvals part of the admin API's OpenAPI document: held tool calls and a person's decision."""

from __future__ import annotations

from typing import Any

from luthien.admin.openapi.build import (
    COMMON_ERRORS,
    NULLABLE_STRING,
    error_reply,
    get_operation,
    json_body,
    object_schema,
    ok_reply,
    path_param,
    ref,
)
from luthien.approvals.model import MAX_REASON_CHARS

DECISIONS = {"type": "string", "enum": ["approve", "deny"]}

PENDING_APPROVAL = object_schema(
    {
        "id": {"type": "string"},
        "transaction_id": {"type": "string"},
        "session_id": NULLABLE_STRING,
        "policy": {"type": "string"},
        "tool_call": object_schema(
            {"id": {"type": "string"}, "name": {"type": "string"}, "arguments": {"type": "string"}},
            ["id", "name", "arguments"],
        ),
        "context": {
            "type": "array",
            "items": object_schema({"role": {"type": "string"}, "text": {"type": "string"}}),
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
)
APPROVAL_DECISION = object_schema(
    {
        "id": {"type": "string"},
        "transaction_id": {"type": "string"},
        "decision": DECISIONS,
        "reason": {"type": "string"},
        "by": {"type": "string", "description": "admin-key, loopback or session:<id>"},
        "decided_at": {"type": "number"},
    },
    ["id", "decision", "by"],
)

APPROVAL_PATHS: dict[str, Any] = {
    "/api/approvals": get_operation(
        "Tool calls waiting for a person's approval (human_approval), oldest first",
        [],
        {
            "200": ok_reply(
                "the pending approvals",
                object_schema(
                    {
                        "items": {"type": "array", "items": ref("PendingApproval")},
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
            "parameters": [path_param("approval_id", "the pending approval's id")],
            "requestBody": json_body(
                object_schema(
                    {"decision": DECISIONS, "reason": {"type": "string", "maxLength": MAX_REASON_CHARS}},
                    ["decision"],
                )
            ),
            "responses": {
                "200": ok_reply("decided", ref("ApprovalDecision")),
                "400": error_reply("not JSON, or a field is wrong (`field` names it)"),
                "404": error_reply("no such approval"),
                "409": error_reply("already decided, or expired"),
                "413": error_reply("body too large"),
                **COMMON_ERRORS,
            },
        }
    },
}
"""The approval endpoints."""
APPROVAL_SCHEMAS: dict[str, Any] = {
    "PendingApproval": PENDING_APPROVAL,
    "ApprovalDecision": APPROVAL_DECISION,
}
