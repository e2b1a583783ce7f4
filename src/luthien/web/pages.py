"""The record pages: live activity, history, one transaction, the session list and one session.

Pages read the same `RecordStore` as the admin API and parse filters with the same code
(`luthien.admin.filters`), so a history URL and an API URL with the same query select the same calls.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from luthien.admin.api import MAX_ID_CHARS
from luthien.admin.filters import parse_filter, parse_page
from luthien.admin.turns import session_turns, turn_view
from luthien.records.model import TransactionStatus
from luthien.records.query import InvalidQuery, RecordStore
from luthien.web.jsonview import body_views
from luthien.web.render import Renderer
from luthien.web.shadow import shadow_views

MAX_LIVE_ROWS = 1000
"""Rows the live feed keeps on the page; older rows are dropped as new ones arrive."""
RECORDING_OFF = "Recording is off (LUTHIEN_RECORDS=off): there are no stored calls to show."
STATUSES = [status.value for status in TransactionStatus]
_FORM_FIELDS = ("q", "model", "policy", "event_type", "session", "since", "until")


def _form_values(params: QueryParams) -> dict[str, Any]:
    """What the filter form shows: the values as typed."""
    values: dict[str, Any] = {name: params.get(name, "") for name in _FORM_FIELDS}
    values["statuses"] = {part.strip() for value in params.getlist("status") for part in value.split(",")}
    values["blocked"] = params.get("blocked", "").lower() in ("true", "1", "yes", "on")
    values["shadow_disagreed"] = params.get("shadow_disagreed", "").lower() in ("true", "1", "yes", "on")
    return values


def _query_without(params: QueryParams, *names: str) -> str:
    return urlencode([(k, v) for k, v in params.multi_items() if k not in names and v])


class RecordPages:
    """Handlers of the pages that read records."""

    def __init__(self, renderer: Renderer, store: RecordStore | None, policy_names: list[str]) -> None:
        self.renderer = renderer
        self.store = store
        self.policy_names = policy_names

    async def activity(self, request: Request) -> Response:
        """`/ui/activity`: the live feed (rendered by activity.js from the event stream)."""
        return self.renderer.page(
            request,
            "activity.html",
            statuses=STATUSES,
            policies=self.policy_names,
            max_rows=MAX_LIVE_ROWS,
            records_on=self.store is not None,
        )

    async def history(self, request: Request) -> Response:
        """`/ui/history`: a filtered, paginated list of transactions."""
        params = request.query_params
        context: dict[str, Any] = {
            "filters": _form_values(params),
            "statuses": STATUSES,
            "policies": self.policy_names,
            "query": _query_without(params, "cursor", "limit"),
            "rows": None,
            "cursor": params.get("cursor"),
            "next_url": None,
            "error": None,
            "unavailable": None,
        }
        if self.store is None:
            return self.renderer.page(
                request, "history.html", 503, **{**context, "unavailable": RECORDING_OFF}
            )
        try:
            page = await self.store.list_transactions(parse_filter(params), *_cursor_limit(params))
        except InvalidQuery as error:
            return self.renderer.page(request, "history.html", 400, **{**context, "error": str(error)})
        next_url = None
        if page.next_cursor is not None:
            # The next page keeps the filters and the page size.
            kept = _pairs(_query_without(params, "cursor"))
            next_url = "/ui/history?" + urlencode([*kept, ("cursor", page.next_cursor)])
        return self.renderer.page(
            request, "history.html", 200, **{**context, "rows": page.items, "next_url": next_url}
        )

    async def transaction(self, request: Request) -> Response:
        """`/ui/transactions/{id}`: both versions side by side, decisions, blocked messages."""
        transaction_id = str(request.path_params["transaction_id"])
        if self.store is None:
            return self.renderer.page(
                request, "error.html", 503, title="Recording is off", message=RECORDING_OFF
            )
        record = None
        if len(transaction_id) <= MAX_ID_CHARS:
            record = await self.store.get_transaction(transaction_id)
        if record is None:
            message = (
                f"No transaction {transaction_id!r} is stored (it may have been purged, or not written yet)."
            )
            return self.renderer.page(
                request, "error.html", 404, title="Unknown transaction", message=message
            )
        request_views = body_views(record.original_request, record.final_request)
        response_views = body_views(record.original_response, record.final_response)
        timing = record.timing
        upstream_ms = (
            None
            if timing.upstream_first_byte_at is None
            else (timing.upstream_first_byte_at - timing.received_at) * 1000
        )
        return self.renderer.page(
            request,
            "transaction.html",
            record=record,
            turn=turn_view(record),
            upstream_ms=upstream_ms,
            request_pair=request_views.pair,
            request_original=request_views.original_lines,
            request_final=request_views.final_lines,
            response=response_views.pair,
            response_original=response_views.original_lines,
            response_final=response_views.final_lines,
            shadows=shadow_views(record),
        )

    async def sessions(self, request: Request) -> Response:
        """`/ui/sessions`: agent sessions, most recently active first."""
        params = request.query_params
        q = params.get("q", "")
        context: dict[str, Any] = {"q": q, "rows": None, "cursor": params.get("cursor"), "next_url": None}
        if self.store is None:
            return self.renderer.page(
                request, "sessions.html", 503, **context, error=None, unavailable=RECORDING_OFF
            )
        try:
            page = await self.store.list_sessions(*_cursor_limit(params), text=q or None)
        except InvalidQuery as error:
            return self.renderer.page(
                request, "sessions.html", 400, **context, error=str(error), unavailable=None
            )
        if page.next_cursor is not None:
            kept = _pairs(_query_without(params, "cursor"))
            context["next_url"] = "/ui/sessions?" + urlencode([*kept, ("cursor", page.next_cursor)])
        return self.renderer.page(
            request, "sessions.html", 200, **{**context, "rows": page.items}, error=None, unavailable=None
        )

    async def session(self, request: Request) -> Response:
        """`/ui/sessions/{id}`: the session as a timeline of turns."""
        session_id = str(request.path_params["session_id"])
        if self.store is None:
            return self.renderer.page(
                request, "error.html", 503, title="Recording is off", message=RECORDING_OFF
            )
        records = await self.store.session_transactions(session_id) if len(session_id) <= MAX_ID_CHARS else []
        if not records:
            message = f"No calls of agent session {session_id!r} are stored."
            return self.renderer.page(request, "error.html", 404, title="Unknown session", message=message)
        return self.renderer.page(
            request,
            "session.html",
            session_id=session_id,
            turns=session_turns(records),
            blocked_count=sum(1 for record in records if record.blocked),
        )


def _cursor_limit(params: QueryParams) -> tuple[str | None, int]:
    page = parse_page(params)
    return page.cursor, page.limit


def _pairs(query: str) -> list[tuple[str, str]]:
    return list(QueryParams(query).multi_items())
