"""The shadow part of the admin API's OpenAPI document: `PUT /api/shadow` and the `Shadow` schema.

`Shadow` is what one shadow policy recorded on a transaction (`Transaction.shadows`).
"""

from __future__ import annotations

from typing import Any

from luthien.admin.openapi.build import (
    COMMON_ERRORS,
    NULLABLE_STRING,
    STRING_LIST,
    error_reply,
    json_body,
    object_schema,
    ok_reply,
    ref,
)
from luthien.records.model import ShadowOutcome

SHADOW_SIDE = {**ref("BodyPair"), "description": "what was sent (original) and the shadow's (final)"}
SHADOW = object_schema(
    {
        "name": {"type": "string"},
        "outcome": {"type": "string", "enum": [outcome.value for outcome in ShadowOutcome]},
        "disagreed": {"type": "boolean"},
        "error": NULLABLE_STRING,
        "events": {"type": "array", "items": {"type": "object"}},
        "request": SHADOW_SIDE,
        "response": SHADOW_SIDE,
    },
    ["name", "outcome", "request", "response"],
)

SHADOW_PATHS: dict[str, Any] = {
    "/api/shadow": {
        "put": {
            "summary": "Set the shadow policies (every replica; recorded, never sent; audited)",
            "requestBody": json_body(object_schema({"shadow": STRING_LIST}, ["shadow"])),
            "responses": {
                "200": ok_reply("switched", object_schema({"shadow": STRING_LIST, "previous": STRING_LIST})),
                "400": error_reply(
                    "not JSON, not a list of names, or a name that is not a configured policy"
                ),
                "413": error_reply("body too large"),
                **COMMON_ERRORS,
            },
        }
    },
}
"""The shadow endpoint."""
SHADOW_SCHEMAS: dict[str, Any] = {"Shadow": SHADOW}
