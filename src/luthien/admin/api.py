"""The admin API's endpoints: transactions, sessions, live activity, export, policies, OpenAPI.

Every handler answers JSON (the stream and the export excepted); failures raise `ApiError` or
`InvalidQuery`, which `endpoint` turns into `{"error": {...}}` answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from luthien.admin.errors import ApiError, ApiErrorKind, error_response
from luthien.admin.filters import FILTER_PARAMS, PAGE_PARAMS, check_known, parse_filter, parse_page
from luthien.admin.guard import principal_of
from luthien.admin.openapi import openapi_document
from luthien.admin.policies import PolicySwitcher, UnknownPolicy
from luthien.admin.serialize import record_json, session_json, summary_json
from luthien.admin.stream import SSE_HEADERS, sse_stream
from luthien.admin.turns import session_turns, turn_json
from luthien.events.bus import EventBus, parse_event_id
from luthien.gateway.asgi import ClientDisconnected, read_body
from luthien.records.model import TransactionRecord
from luthien.records.query import InvalidQuery, RecordStore, TransactionFilter
from luthien.shadow.policies import UnknownShadow
from luthien.wire.errors import GatewayError

POLICY_BODY_LIMIT = 16 * 1024
"""Largest `PUT /api/policy` body accepted."""
MAX_ID_CHARS = 200
"""Longest transaction or session id looked up (anything longer cannot exist)."""
BODY_NAMES = ("original_request", "final_request", "original_response", "final_response")

Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Render `ApiError` and `InvalidQuery` as JSON errors."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error.kind, error.message, error.field)
        except InvalidQuery as error:
            return error_response(ApiErrorKind.INVALID_REQUEST, str(error), error.field)

    return run


def json_response(content: Any, status: int = 200) -> Response:
    """A JSON answer serialized with orjson, never cached."""
    return Response(
        orjson.dumps(content), status, media_type="application/json", headers={"cache-control": "no-store"}
    )


def _id(request: Request, name: str, what: str) -> str:
    value = str(request.path_params[name])
    if not value or len(value) > MAX_ID_CHARS:
        raise ApiError(ApiErrorKind.NOT_FOUND, f"unknown {what} {value[:MAX_ID_CHARS]!r}", name)
    return value


class AdminApi:
    """The handlers, over the record store, the event bus and the policy switcher."""

    def __init__(
        self,
        store: RecordStore | None,
        bus: EventBus,
        switcher: PolicySwitcher,
        keepalive_s: float,
        draining: asyncio.Event,
    ) -> None:
        self.store = store
        self.bus = bus
        self.switcher = switcher
        self.keepalive_s = keepalive_s
        self.draining = draining

    def _store(self) -> RecordStore:
        if self.store is None:
            raise ApiError(
                ApiErrorKind.UNAVAILABLE, "recording is off (LUTHIEN_RECORDS=off): no records to read"
            )
        return self.store

    async def record(self, transaction_id: str) -> TransactionRecord:
        """One record, or a 404 `ApiError`."""
        record = await self._store().get_transaction(transaction_id)
        if record is None:
            raise ApiError(
                ApiErrorKind.NOT_FOUND, f"unknown transaction {transaction_id!r}", "transaction_id"
            )
        return record

    async def transactions(self, request: Request) -> Response:
        """`GET /api/transactions`."""
        check_known(request.query_params, FILTER_PARAMS | PAGE_PARAMS)
        filter = parse_filter(request.query_params)
        page = parse_page(request.query_params)
        result = await self._store().list_transactions(filter, page.cursor, page.limit)
        return json_response(
            {"items": [summary_json(s) for s in result.items], "next_cursor": result.next_cursor}
        )

    async def transaction(self, request: Request) -> Response:
        """`GET /api/transactions/{transaction_id}`."""
        check_known(request.query_params, ())
        return json_response(record_json(await self.record(_id(request, "transaction_id", "transaction"))))

    async def body(self, request: Request) -> Response:
        """`GET /api/transactions/{transaction_id}/body/{which}`: the exact stored bytes."""
        which = str(request.path_params["which"])
        if which not in BODY_NAMES:
            raise ApiError(
                ApiErrorKind.NOT_FOUND, f"no body {which!r} (one of {', '.join(BODY_NAMES)})", "which"
            )
        record = await self.record(_id(request, "transaction_id", "transaction"))
        bodies = {
            "original_request": record.original_request,
            "final_request": record.final_request or record.original_request,
            "original_response": record.original_response,
            "final_response": record.final_response or record.original_response,
        }
        content = bodies[which]
        if content is None:
            raise ApiError(ApiErrorKind.NOT_FOUND, f"transaction has no {which.replace('_', ' ')}", "which")
        return Response(content, media_type="application/json", headers={"cache-control": "no-store"})

    async def sessions(self, request: Request) -> Response:
        """`GET /api/sessions`."""
        check_known(request.query_params, PAGE_PARAMS | {"q"})
        page = parse_page(request.query_params)
        text = request.query_params.get("q") or None
        result = await self._store().list_sessions(page.cursor, page.limit, text)
        return json_response(
            {"items": [session_json(s) for s in result.items], "next_cursor": result.next_cursor}
        )

    async def session(self, request: Request) -> Response:
        """`GET /api/sessions/{session_id}`: the turns, oldest first."""
        check_known(request.query_params, ())
        session_id = _id(request, "session_id", "session")
        records = await self._store().session_transactions(session_id)
        if not records:
            raise ApiError(ApiErrorKind.NOT_FOUND, f"unknown session {session_id!r}", "session_id")
        turns = session_turns(records)
        return json_response(
            {
                "session_id": session_id,
                "transaction_count": len(records),
                "blocked_count": sum(1 for record in records if record.blocked),
                "turns": [turn_json(turn) for turn in turns],
            }
        )

    async def stream(self, request: Request) -> Response:
        """`GET /api/activity/stream`."""
        check_known(request.query_params, FILTER_PARAMS | {"last_event_id"})
        filter = parse_filter(request.query_params)
        last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or None
        if last_id is not None and parse_event_id(last_id) is None:
            raise ApiError(
                ApiErrorKind.INVALID_REQUEST,
                f"Last-Event-ID {last_id[:64]!r} is not an event id (<milliseconds>-<sequence>)",
                "last_event_id",
            )
        body = sse_stream(self.bus, filter, last_id, self.keepalive_s, self.draining)
        return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)

    async def export(self, request: Request) -> Response:
        """`GET /api/export`: JSON Lines, oldest first, streamed."""
        check_known(request.query_params, FILTER_PARAMS)
        filter = parse_filter(request.query_params)
        store = self._store()
        headers = {
            "cache-control": "no-store",
            "content-disposition": 'attachment; filename="luthien-transactions.jsonl"',
        }
        return StreamingResponse(_jsonl(store, filter), media_type="application/x-ndjson", headers=headers)

    async def policies(self, request: Request) -> Response:
        """`GET /api/policies`."""
        return json_response(self.switcher.listing())

    async def switch_policy(self, request: Request) -> Response:
        """`PUT /api/policy` `{"policy": name}`."""
        raw = await _switch_body(request)
        if raw is None:
            return Response(status_code=400)
        name = _policy_name(raw)
        by = _who(request)
        try:
            previous = self.switcher.switch(name, by)
        except UnknownPolicy:
            known = ", ".join(sorted(self.switcher.selector.policies))
            raise ApiError(
                ApiErrorKind.INVALID_REQUEST, f"unknown policy {name!r} (configured: {known})", "policy"
            ) from None
        return json_response({"active": name, "previous": previous})

    async def switch_shadow(self, request: Request) -> Response:
        """`PUT /api/shadow` `{"shadow": [names]}`."""
        raw = await _switch_body(request)
        if raw is None:
            return Response(status_code=400)
        names = shadow_names(raw)
        by = _who(request)
        try:
            previous = self.switcher.switch_shadow(names, by)
        except UnknownShadow as error:
            known = ", ".join(sorted(self.switcher.selector.policies))
            raise ApiError(
                ApiErrorKind.INVALID_REQUEST, f"unknown policy {error.name!r} (configured: {known})", "shadow"
            ) from None
        return json_response({"shadow": list(self.switcher.listing()["shadow"]), "previous": list(previous)})

    async def openapi(self, request: Request) -> Response:
        """`GET /api/openapi.json`."""
        return JSONResponse(openapi_document())

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to the `/api` mount."""
        return [
            Route("/transactions", endpoint(self.transactions), methods=["GET"]),
            Route("/transactions/{transaction_id}", endpoint(self.transaction), methods=["GET"]),
            Route("/transactions/{transaction_id}/body/{which}", endpoint(self.body), methods=["GET"]),
            Route("/sessions", endpoint(self.sessions), methods=["GET"]),
            Route("/sessions/{session_id}", endpoint(self.session), methods=["GET"]),
            Route("/activity/stream", endpoint(self.stream), methods=["GET"]),
            Route("/export", endpoint(self.export), methods=["GET"]),
            Route("/policies", endpoint(self.policies), methods=["GET"]),
            Route("/policy", endpoint(self.switch_policy), methods=["PUT"]),
            Route("/shadow", endpoint(self.switch_shadow), methods=["PUT"]),
            Route("/openapi.json", endpoint(self.openapi), methods=["GET"]),
        ]


def _policy_name(raw: bytes) -> str:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(ApiErrorKind.INVALID_REQUEST, 'body must be JSON: {"policy": "<name>"}') from None
    if not isinstance(body, dict):
        raise ApiError(ApiErrorKind.INVALID_REQUEST, 'body must be a JSON object: {"policy": "<name>"}')
    name = body.get("policy")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(name, str) or not name:
        raise ApiError(ApiErrorKind.INVALID_REQUEST, "policy: a policy name (string) is required", "policy")
    return name


def shadow_names(raw: bytes) -> list[str]:
    """The names of a `{"shadow": [names]}` body.

    Raises:
        ApiError: INVALID_REQUEST, naming `shadow`, for anything but a JSON object with a list of names.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, 'body must be JSON: {"shadow": ["<name>", ...]}'
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, 'body must be a JSON object: {"shadow": ["<name>", ...]}'
        )
    names = body.get("shadow")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):  # pyright: ignore[reportUnknownVariableType]
        raise ApiError(
            ApiErrorKind.INVALID_REQUEST, "shadow: a list of policy names (strings) is required", "shadow"
        )
    return list(names)  # pyright: ignore[reportUnknownArgumentType]


async def _jsonl(store: RecordStore, filter: TransactionFilter) -> AsyncIterator[bytes]:
    async for record in store.export(filter):
        yield orjson.dumps(record_json(record, with_diff=False)) + b"\n"


async def _switch_body(request: Request) -> bytes | None:
    """The small JSON body of a switch (`PUT /api/policy`, `/api/shadow`); None if the client left.

    Raises:
        ApiError: REQUEST_TOO_LARGE past `POLICY_BODY_LIMIT`.
    """
    try:
        return await read_body(request.receive, POLICY_BODY_LIMIT)
    except GatewayError as error:
        raise ApiError(ApiErrorKind.REQUEST_TOO_LARGE, error.message) from None
    except ClientDisconnected:
        return None


def _who(request: Request) -> str:
    """Who makes an audited change: the admin principal, or "unknown"."""
    principal = principal_of(request)
    return principal.who if principal is not None else "unknown"
