"""The approvals endpoints of the admin API: `GET /api/approvals`, `POST /api/approvals/{id}`.

`POST` takes `{"decision": "approve" | "deny", "reason": "..."}`; the decision is recorded with who
made it (the admin principal: `admin-key`, `loopback` or `session:<id>`). Errors: 400 naming the field
at fault, 404 for an id nobody holds, 409 for one already decided or expired. Being under `/api`, the
guard applies the admin checks, and the cross-site and CSRF checks to browser requests.
"""

from __future__ import annotations

import time
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from luthien.admin.api import endpoint, json_response
from luthien.admin.errors import ApiError, ApiErrorKind
from luthien.admin.guard import principal_of
from luthien.approvals.model import MAX_REASON_CHARS, AlreadyDecided, Decision, DecisionKind, UnknownApproval
from luthien.approvals.service import ApprovalService
from luthien.gateway.asgi import ClientDisconnected, read_body
from luthien.wire.errors import GatewayError

DECISION_BODY_LIMIT = 16 * 1024
"""Largest decision body accepted."""
MAX_APPROVAL_ID_CHARS = 64
DECISION_FIELDS = frozenset({"decision", "reason"})
_DECISIONS = ", ".join(f'"{kind.value}"' for kind in DecisionKind)


def parse_decision(raw: bytes) -> tuple[DecisionKind, str]:
    """The decision and reason of a `POST` body.

    Raises:
        ApiError: 400 naming the field at fault.
    """
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, 'body must be JSON: {"decision": ..., "reason": ...}'
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, 'body must be a JSON object: {"decision": ..., "reason": ...}'
        )
    fields = cast(dict[str, Any], body)
    unknown = sorted(set(fields) - DECISION_FIELDS)
    if unknown:
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, f"{unknown[0]}: unknown field (known: decision, reason)", unknown[0]
        )
    value = fields.get("decision")
    if not isinstance(value, str) or value not in {kind.value for kind in DecisionKind}:
        raise ApiError(ApiErrorKind.INVALID_REQUEST, f"decision: one of {_DECISIONS} is required", "decision")
    reason = fields.get("reason", "")
    if not isinstance(reason, str):
        raise ApiError(ApiErrorKind.INVALID_REQUEST, "reason: must be a string", "reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, f"reason: at most {MAX_REASON_CHARS} characters", "reason"
        )
    return DecisionKind(value), reason.strip()


class ApprovalsApi:
    """The handlers, over the gateway's `ApprovalService`."""

    def __init__(self, service: ApprovalService) -> None:
        self.service = service

    async def list(self, request: Request) -> Response:
        """`GET /api/approvals`: the pending approvals, oldest first."""
        approvals = await self.service.pending()
        return json_response(
            {"items": [approval.to_json() for approval in approvals], "shared": self.service.store.shared}
        )

    async def decide(self, request: Request) -> Response:
        """`POST /api/approvals/{approval_id}`."""
        approval_id = str(request.path_params["approval_id"])
        if len(approval_id) > MAX_APPROVAL_ID_CHARS:
            raise ApiError(
                ApiErrorKind.NOT_FOUND,
                f"unknown approval {approval_id[:MAX_APPROVAL_ID_CHARS]!r}",
                "approval_id",
            )
        try:
            raw = await read_body(request.receive, DECISION_BODY_LIMIT)
        except GatewayError as error:
            raise ApiError(ApiErrorKind.REQUEST_TOO_LARGE, error.message) from None
        except ClientDisconnected:
            return Response(status_code=400)
        kind, reason = parse_decision(raw)
        principal = principal_of(request)
        decision = Decision(kind, reason, principal.who if principal is not None else "unknown", time.time())
        try:
            approval = await self.service.decide(approval_id, decision)
        except UnknownApproval:
            raise ApiError(
                ApiErrorKind.NOT_FOUND, f"unknown approval {approval_id!r}", "approval_id"
            ) from None
        except AlreadyDecided as error:
            earlier = error.decision
            message = (
                f"approval {approval_id!r} expired"
                if earlier is None
                else f"approval {approval_id!r} was already decided: {earlier.decision.value} by {earlier.by}"
            )
            raise ApiError(ApiErrorKind.CONFLICT, message, "approval_id") from None
        return json_response(
            {"id": approval_id, "transaction_id": approval.transaction_id, **decision.to_json()}
        )

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to the `/api` mount."""
        return [
            Route("/approvals", endpoint(self.list), methods=["GET"]),
            Route("/approvals/{approval_id}", endpoint(self.decide), methods=["POST"]),
        ]
