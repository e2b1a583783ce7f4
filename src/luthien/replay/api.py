"""The admin API's replay endpoints: `POST /api/replays`, `GET /api/replays`, `GET /api/replays/{id}`.

A POST body names the policy and the same filters as `/api/transactions` (`policy_then` for the
policy that served the calls, since `policy` is the one to replay); anything unknown or malformed is
a 400 naming the field, with nothing started. The run starts in the background and the answer (202)
is the run as stored, whose `progress` then moves as calls finish.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from luthien.admin.api import MAX_ID_CHARS, endpoint, json_response
from luthien.admin.errors import ApiError, ApiErrorKind
from luthien.admin.filters import check_known, parse_bool
from luthien.gateway.asgi import ClientDisconnected, read_body
from luthien.records.query import InvalidQuery
from luthien.replay.report import outcome_json, run_json
from luthien.replay.run import ReplaySpec, parse_spec
from luthien.replay.runner import DEFAULT_CONCURRENCY
from luthien.replay.service import RecordingOff, ReplayService
from luthien.replay.store import SqlReplayStore
from luthien.wire.errors import GatewayError

BODY_LIMIT = 16 * 1024
"""Largest `POST /api/replays` body accepted."""
HTTP_ACCEPTED = 202
RENAMED = {"policy_then": "policy"}
"""Body fields whose filter parameter has another name."""
TEXT_FIELDS = ("session", "since", "until", "model", "policy_then", "event_type")
INT_FIELDS = ("limit", "concurrency")


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidQuery(name, f"{name}: expected a string")
    return str(value)


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidQuery(name, f"{name}: expected an integer")
    return value


def spec_from_body(raw: bytes) -> ReplaySpec:
    """The run a `POST /api/replays` body asks for.

    Raises:
        InvalidQuery: naming the field at fault.
    """
    try:
        parsed: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidQuery("body", 'body must be JSON: {"policy": "<name>", ...filters}') from None
    if not isinstance(parsed, dict):
        raise InvalidQuery("body", 'body must be a JSON object: {"policy": "<name>", ...filters}')
    body = cast(dict[str, Any], parsed)
    known = {"policy", "status", "blocked", *TEXT_FIELDS, *INT_FIELDS}
    for name in body:
        if name not in known:
            raise InvalidQuery(name, f"{name}: unknown field (known: {', '.join(sorted(known))})")
    policy = body.get("policy")
    if not isinstance(policy, str) or not policy:
        raise InvalidQuery("policy", "policy: a policy name (string) is required")
    filters: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = _text(body, name)
        if value is not None:
            filters[RENAMED.get(name, name)] = value
    status: Any = body.get("status")
    if isinstance(status, list):
        statuses = cast(list[Any], status)
        if not all(isinstance(item, str) for item in statuses):
            raise InvalidQuery("status", "status: expected strings")
        filters["status"] = ",".join(cast(list[str], statuses))
    elif status is not None:
        filters["status"] = _text(body, "status") or ""
    blocked: Any = body.get("blocked")
    if blocked is not None:
        filters["blocked"] = "true" if parse_bool(str(blocked), "blocked") else "false"
    concurrency = _int(body, "concurrency")
    return parse_spec(
        policy,
        filters,
        _int(body, "limit"),
        DEFAULT_CONCURRENCY if concurrency is None else concurrency,
    )


class ReplayApi:
    """The handlers, over the replay service."""

    def __init__(self, service: ReplayService) -> None:
        self.service = service

    def _store(self) -> SqlReplayStore:
        try:
            return self.service.store()
        except RecordingOff:
            raise ApiError(
                ApiErrorKind.UNAVAILABLE, "recording is off (LUTHIEN_RECORDS=off): no records to replay"
            ) from None

    async def start(self, request: Request) -> Response:
        """`POST /api/replays`."""
        check_known(request.query_params, ())
        store = self._store()
        try:
            raw = await read_body(request.receive, BODY_LIMIT)
        except GatewayError as error:
            raise ApiError(ApiErrorKind.REQUEST_TOO_LARGE, error.message) from None
        except ClientDisconnected:
            return Response(status_code=400)
        run_id = await self.service.start(spec_from_body(raw))
        run = await store.get_run(run_id)
        assert run is not None  # created by `start`
        return json_response(run_json(run), HTTP_ACCEPTED)

    async def runs(self, request: Request) -> Response:
        """`GET /api/replays`."""
        check_known(request.query_params, ())
        return json_response({"items": [run_json(run) for run in await self._store().list_runs()]})

    async def run(self, request: Request) -> Response:
        """`GET /api/replays/{replay_id}`: the run and its disagreements (`?all=true`: every item)."""
        check_known(request.query_params, ("all",))
        every = parse_bool(request.query_params.get("all", "false"), "all")
        store = self._store()
        run_id = str(request.path_params["replay_id"])
        run = await store.get_run(run_id) if len(run_id) <= MAX_ID_CHARS else None
        if run is None:
            raise ApiError(ApiErrorKind.NOT_FOUND, f"unknown replay {run_id[:MAX_ID_CHARS]!r}", "replay_id")
        items = await store.items(run_id, disagreements_only=not every)
        return json_response({**run_json(run), "items": [outcome_json(i.seq, i.outcome) for i in items]})

    def routes(self) -> list[BaseRoute]:
        """The routes, relative to the `/api` mount."""
        return [
            Route("/replays", endpoint(self.start), methods=["POST"]),
            Route("/replays", endpoint(self.runs), methods=["GET"]),
            Route("/replays/{replay_id}", endpoint(self.run), methods=["GET"]),
        ]
