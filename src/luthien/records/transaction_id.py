"""The transaction id: one per HTTP call, kept in the ASGI scope.

Records are stored under it, the call's trace span carries it, and the gateway answers it in
`X-Luthien-Transaction-Id` (`gateway/asgi.py`).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import Scope


def transaction_id(scope: Scope) -> str:
    """The transaction id of this request (created on first use)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    value: str = state.setdefault("transaction_id", str(uuid.uuid4()))
    return value
