"""The admin API's OpenAPI 3.1 document (`GET /api/openapi.json`), assembled from each feature's part.

The parts own their paths and schemas: `records` (transactions, sessions, activity, export),
`policies`, `shadow`, `approvals` and `replay`; `build` holds the shared pieces.
The whole server's document (`luthien.gateway.openapi`) includes `PATHS` and `SCHEMAS`.
"""

from __future__ import annotations

from typing import Any

from luthien import __version__
from luthien.admin.openapi.approvals import APPROVAL_PATHS, APPROVAL_SCHEMAS
from luthien.admin.openapi.build import ERROR, get_operation, ok_reply
from luthien.admin.openapi.policies import POLICY_PATHS, POLICY_SCHEMAS
from luthien.admin.openapi.records import RECORD_PATHS, RECORD_SCHEMAS
from luthien.admin.openapi.replay import REPLAY_PATHS, REPLAY_SCHEMAS
from luthien.admin.openapi.shadow import SHADOW_PATHS, SHADOW_SCHEMAS

PATHS: dict[str, Any] = {
    **RECORD_PATHS,
    **POLICY_PATHS,
    **SHADOW_PATHS,
    "/api/openapi.json": get_operation(
        "This document", [], {"200": ok_reply("OpenAPI 3.1", {"type": "object"})}
    ),
    **APPROVAL_PATHS,
    **REPLAY_PATHS,
}
"""Every admin API path."""
SCHEMAS: dict[str, Any] = {
    "Error": ERROR,
    **RECORD_SCHEMAS,
    **POLICY_SCHEMAS,
    **APPROVAL_SCHEMAS,
    **SHADOW_SCHEMAS,
    **REPLAY_SCHEMAS,
}
"""The admin API's schemas."""
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
