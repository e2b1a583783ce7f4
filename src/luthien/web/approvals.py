"""`/ui/approvals`: tool calls waiting for a person, with the session's context and the judge's reason.

Each pending approval is a card with approve and deny buttons and a reason field; they are plain
forms (`POST /ui/approvals/{id}`), so they work without JavaScript. `approvals.js` keeps the list and
the badge in the navigation (on every page) current from the live event stream.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from luthien.admin.guard import principal_of
from luthien.approvals.model import (
    MAX_REASON_CHARS,
    AlreadyDecided,
    Decision,
    DecisionKind,
    PendingApproval,
    UnknownApproval,
)
from luthien.approvals.service import ApprovalService
from luthien.web.forms import form_fields
from luthien.web.render import Renderer
from luthien.web.surface import redirect

HTTP_BAD_REQUEST = 400
HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409


def _shown(approval: PendingApproval) -> dict[str, Any]:
    """An approval's JSON plus its arguments pretty-printed (as sent when they are not JSON)."""
    shown = approval.to_json()
    try:
        parsed: Any = orjson.loads(approval.arguments)
    except orjson.JSONDecodeError:
        shown["arguments_shown"] = approval.arguments
    else:
        shown["arguments_shown"] = orjson.dumps(parsed, option=orjson.OPT_INDENT_2).decode("utf-8")
    return shown


class ApprovalPages:
    """Handlers of `/ui/approvals` and its decision forms."""

    def __init__(self, renderer: Renderer, service: ApprovalService | None) -> None:
        self.renderer = renderer
        self.service = service

    async def _page(self, request: Request, status: int, notice: str | None, error: str | None) -> Response:
        approvals = await self.service.pending() if self.service is not None else []
        return self.renderer.page(
            request,
            "approvals.html",
            status,
            approvals=[_shown(approval) for approval in approvals],
            now=time.time(),
            notice=notice,
            error=error,
            max_reason=MAX_REASON_CHARS,
        )

    async def list(self, request: Request) -> Response:
        """`GET /ui/approvals`."""
        decided = request.query_params.get("decided")
        notice = f"Decision recorded for {decided}." if decided else None
        return await self._page(request, 200, notice, None)

    async def decide(self, request: Request) -> Response:
        """`POST /ui/approvals/{approval_id}`: the form's `decision` and `reason`."""
        approval_id = str(request.path_params["approval_id"])
        form = await form_fields(request)
        value = form.get("decision", "")
        reason = form.get("reason", "").strip()
        if value not in {kind.value for kind in DecisionKind} or len(reason) > MAX_REASON_CHARS:
            return await self._page(
                request, HTTP_BAD_REQUEST, None, "Choose approve or deny (reason: at most 2,000 characters)."
            )
        if self.service is None:
            return await self._page(request, HTTP_NOT_FOUND, None, f"There is no approval {approval_id!r}.")
        principal = principal_of(request)
        decision = Decision(
            DecisionKind(value), reason, principal.who if principal is not None else "unknown", time.time()
        )
        try:
            await self.service.decide(approval_id, decision)
        except UnknownApproval:
            return await self._page(request, HTTP_NOT_FOUND, None, f"There is no approval {approval_id!r}.")
        except AlreadyDecided as error:
            earlier = error.decision
            message = (
                f"{approval_id} expired before the decision."
                if earlier is None
                else f"{approval_id} was already decided: {earlier.decision.value} by {earlier.by}."
            )
            return await self._page(request, HTTP_CONFLICT, None, message)
        return redirect(f"/ui/approvals?decided={quote(approval_id, safe='')}")
