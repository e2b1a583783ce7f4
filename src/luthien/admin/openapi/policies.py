"""The policies part of the admin API's OpenAPI document: listing policies and switching the active one."""

from __future__ import annotations

from typing import Any

from luthien.admin.openapi.build import (
    COMMON_ERRORS,
    STRING_LIST,
    error_reply,
    get_operation,
    json_body,
    object_schema,
    ok_reply,
    ref,
)

POLICY = object_schema(
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

POLICY_PATHS: dict[str, Any] = {
    "/api/policies": get_operation(
        "Configured policy instances, the active one, each config's JSON schema",
        [],
        {
            "200": ok_reply(
                "the policies",
                object_schema(
                    {
                        "active": {"type": "string"},
                        "shadow": STRING_LIST,
                        "policies": {"type": "array", "items": ref("Policy")},
                    }
                ),
            )
        },
    ),
    "/api/policy": {
        "put": {
            "summary": "Switch the active policy (every replica; calls in flight finish on the old one)",
            "requestBody": json_body(object_schema({"policy": {"type": "string"}}, ["policy"])),
            "responses": {
                "200": ok_reply(
                    "switched", object_schema({"active": {"type": "string"}, "previous": {"type": "string"}})
                ),
                "400": error_reply("not JSON, or not a configured policy"),
                **COMMON_ERRORS,
            },
        }
    },
}
"""The policy endpoints."""
POLICY_SCHEMAS: dict[str, Any] = {"Policy": POLICY}
