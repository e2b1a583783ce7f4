"""Anthropic Message Batches: `on_request` on every request in a batch, the response policy on every result.

- `POST /v1/messages/batches`: each request's `params` is validated as a Messages request and goes
  through the active policy's `on_request` (a policy that changes one changes the batch forwarded; one
  that fails closed refuses the whole batch).
- `GET /v1/messages/batches/{batch_id}/results`: while the policy inspects responses, each line of
  the results JSONL whose result succeeded goes through the response policy as a whole Messages body,
  as a live call's would (a blocked tool call in a result is blocked), and is recorded as a call of its
  own; a result the policy fails on becomes an `errored` result. A results file Luthien cannot read
  is refused (502), since no policy could check it.
- Batch objects (create, list, retrieve, cancel) carry `results_url`, which SDKs fetch as is: it is
  pointed at this server, so results never reach a client by a road around the policy.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, cast

import orjson
from starlette.types import Scope, Send

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES, MESSAGES
from luthien.call.request import CallRequest
from luthien.gateway.asgi import send_bytes
from luthien.gateway.coverage import Coverage, Forwarded, Plan, upstream_path
from luthien.gateway.forward import ForwardedEndpoint, new_context
from luthien.gateway.recording import start_recorder
from luthien.gateway.state import GatewayState, client_headers
from luthien.pipeline.run import POLICY_FAILURE_MESSAGE, run_body
from luthien.pipeline.stage import PassThroughStage, PolicyStage
from luthien.policy.base import Policy
from luthien.policy.runner import PolicyFailure
from luthien.records.recorder import TransactionRecorder
from luthien.upstream.client import UpstreamResponse
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError, anthropic_error

BATCHES_PATH = "/v1/messages/batches"
RESULTS_PATH = f"{BATCHES_PATH}/{{batch_id}}/results"
RESULT_CONCURRENCY = 8
"""Results checked by the policy at once (each may call a judge)."""
_SUCCEEDED = "succeeded"

CREATE = Forwarded(
    "POST", BATCHES_PATH, ANTHROPIC_MESSAGES, Coverage.REQUEST,
    "Create a message batch; `on_request` runs on every request in it.",
)  # fmt: skip
RESULTS = Forwarded(
    "GET", RESULTS_PATH, ANTHROPIC_MESSAGES, Coverage.RESPONSE,
    "A batch's results (JSONL): each succeeded result through the response policy, recorded per item.",
)  # fmt: skip
BATCH_OBJECTS: tuple[Forwarded, ...] = (
    Forwarded("GET", BATCHES_PATH, ANTHROPIC_MESSAGES, Coverage.NONE, "List message batches."),
    Forwarded("GET", f"{BATCHES_PATH}/{{batch_id}}", ANTHROPIC_MESSAGES, Coverage.NONE, "Retrieve a batch."),
    Forwarded(
        "POST", f"{BATCHES_PATH}/{{batch_id}}/cancel", ANTHROPIC_MESSAGES, Coverage.NONE, "Cancel a batch."
    ),
    Forwarded("DELETE", f"{BATCHES_PATH}/{{batch_id}}", ANTHROPIC_MESSAGES, Coverage.NONE, "Delete a batch."),
)
BATCH_SPECS = (CREATE, *BATCH_OBJECTS, RESULTS)


def own_results_url(scope: Scope, batch_id: str) -> str:
    """This server's URL of a batch's results, as the client reached the server."""
    server_host, port = scope["server"]
    host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
    host = host or f"{server_host}:{port}"  # HTTP/1.0 may come without a Host header
    return f"{scope['scheme']}://{host}{upstream_path(RESULTS_PATH, {'batch_id': batch_id})}"


def _point_results_here(scope: Scope, batch: Any) -> Any:
    fields: dict[str, Any] = cast(dict[str, Any], batch) if isinstance(batch, dict) else {}
    if not isinstance(fields.get("results_url"), str) or not isinstance(fields.get("id"), str):
        return cast(Any, batch)
    return {**fields, "results_url": own_results_url(scope, fields["id"])}


class BatchEndpoint(ForwardedEndpoint):
    """Batch objects (list, retrieve, cancel, delete): `results_url` points here."""

    def rewrite(self, scope: Scope, body: bytes) -> bytes:
        """Batch objects (and pages of them) with `results_url` on this server."""
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None  # not a batch object: forwarded as it came
        page = cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {}
        if isinstance(page.get("data"), list):
            rewritten: Any = {**page, "data": [_point_results_here(scope, batch) for batch in page["data"]]}
        else:
            rewritten = _point_results_here(scope, parsed)
        return body if rewritten == parsed else orjson.dumps(rewritten)


class BatchCreateEndpoint(BatchEndpoint):
    """`POST /v1/messages/batches`: every request in the batch through `on_request`."""

    async def plan(
        self,
        scope: Scope,
        api: WireApi,
        body: bytes,
        parsed: dict[str, Any] | None,
        stage: PolicyStage,
        recorder: TransactionRecorder,
    ) -> Plan:
        """Creating a batch: every request in it through `on_request` (validated first).

        Raises:
            GatewayError: INVALID_REQUEST naming the first bad request.
            PolicyFailure: the policy failed closed on a request.
        """
        requests = (parsed or {}).get("requests")
        if not isinstance(requests, list) or not requests:
            raise GatewayError(ErrorKind.INVALID_REQUEST, "requests: must be a non-empty array")
        changed = False
        items: list[Any] = []
        for index, item in enumerate(cast(list[Any], requests)):
            params = cast(dict[str, Any], item).get("params") if isinstance(item, dict) else None
            try:
                fields = api.validate_request(params, MESSAGES.required)
            except GatewayError as error:
                raise GatewayError(error.kind, f"requests[{index}].params: {error.message}") from error
            member = PolicyStage(
                stage.policy, new_context(self.state, scope, stage.ctx.policy_name, recorder), api
            )
            request = await member.process_request(CallRequest(api.format, fields, None))
            changed = changed or request.body is not fields
            items.append({**cast(dict[str, Any], item), "params": dict(request.body)})
        forwarded = orjson.dumps({**(parsed or {}), "requests": items}) if changed else body
        return Plan(forwarded, PassThroughStage(), None)


class BatchResultsEndpoint(ForwardedEndpoint):
    """`GET /v1/messages/batches/{batch_id}/results`: each result through the response policy."""

    records_call = False  # each result is recorded as a call of its own

    async def plan(
        self,
        scope: Scope,
        api: WireApi,
        body: bytes,
        parsed: dict[str, Any] | None,
        stage: PolicyStage,
        recorder: TransactionRecorder,
    ) -> Plan:
        """The results go to the policy's stage whether it inspects responses or not (for the records)."""
        return Plan(body, stage, None)

    async def answer(
        self,
        scope: Scope,
        send: Send,
        api: WireApi,
        response: UpstreamResponse,
        headers: list[tuple[bytes, bytes]],
        plan: Plan,
        recorder: TransactionRecorder,
    ) -> None:
        """The results, each succeeded one checked and recorded, in their order."""
        stage = cast(PolicyStage, plan.stage)
        inspects = stage.policy.inspects_response
        body = await response.read()
        lines = body.splitlines(keepends=True)
        parsed: list[dict[str, Any] | None] = []
        for line in lines:
            try:
                parsed.append(_result_line(line))
            except ValueError as error:
                if inspects:
                    raise GatewayError(
                        ErrorKind.UPSTREAM_UNAVAILABLE,
                        f"batch results Luthien cannot read ({error}): no policy could check them",
                    ) from error
                parsed.append(None)  # nothing checks results: forwarded as they came
        gate = asyncio.Semaphore(RESULT_CONCURRENCY)
        client = client_headers(scope["headers"])

        async def check(line: bytes, result: dict[str, Any] | None) -> bytes:
            if result is None:
                return line
            async with gate:
                return await self._check(scope, client, stage.ctx.policy_name, stage.policy, line, result)

        checked = await asyncio.gather(
            *(check(line, result) for line, result in zip(lines, parsed, strict=True))
        )
        await send_bytes(send, response.status, b"".join(checked), headers)

    async def _check(
        self,
        scope: Scope,
        headers: list[tuple[str, str]],
        policy_name: str,
        policy: Policy[Any],
        line: bytes,
        result: dict[str, Any],
    ) -> bytes:
        """One succeeded result through the response policy, recorded as a call of its own."""
        item_scope: Scope = {**scope, "state": {"transaction_id": str(uuid.uuid4())}}
        recorder = start_recorder(
            self.state, item_scope, RESULTS_PATH, ANTHROPIC_MESSAGES, headers, time.time(), True
        )
        recorder.policy(policy_name)
        request = {"custom_id": result["custom_id"]}
        recorder.request(orjson.dumps(request), request, ANTHROPIC_MESSAGES.format)
        message = orjson.dumps(result["result"]["message"])
        recorder.upstream_answered(200, False)
        recorder.upstream_body(message)
        stage = PolicyStage(
            policy, new_context(self.state, item_scope, policy_name, recorder), ANTHROPIC_MESSAGES
        )
        try:
            out = await run_body(ANTHROPIC_MESSAGES, message, stage)
            outcome: dict[str, Any] = {"type": _SUCCEEDED, "message": orjson.loads(out)}
        except (PolicyFailure, GatewayError) as error:
            text = (
                POLICY_FAILURE_MESSAGE.format(name=error.policy_name)
                if isinstance(error, PolicyFailure)
                else error.message
            )
            recorder.failed(text)
            out = orjson.dumps(anthropic_error(ErrorKind.POLICY, text))
            outcome = {"type": "errored", "error": orjson.loads(out)}
        recorder.response_started(200, False)
        recorder.response_body(out, False)
        recorder.finish()
        if out == message:
            return line
        ending = line[len(line.rstrip(b"\r\n")) :]
        return orjson.dumps({**result, "result": outcome}) + ending


def _result_line(line: bytes) -> dict[str, Any] | None:
    """A results line's object when it holds a succeeded message; None for other results and blank lines.

    Raises:
        ValueError: the line is not a result Luthien can read.
    """
    if not line.strip():
        return None
    parsed: Any = orjson.loads(line)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(parsed, dict):
        raise ValueError("a line is not a JSON object")
    fields = cast(dict[str, Any], parsed)
    result: Any = fields.get("result")
    if not isinstance(result, dict) or not isinstance(fields.get("custom_id"), str):
        raise ValueError("a line has no custom_id or result")
    if cast(dict[str, Any], result).get("type") != _SUCCEEDED:
        return None
    if not isinstance(cast(dict[str, Any], result).get("message"), dict):
        raise ValueError("a succeeded result has no message")
    return fields


def batch_endpoints(
    state: GatewayState, allowed: frozenset[str]
) -> list[tuple[Forwarded, ForwardedEndpoint]]:
    """Every batch endpoint with the ASGI app serving it."""
    return [
        (CREATE, BatchCreateEndpoint(CREATE, state, allowed)),
        *((spec, BatchEndpoint(spec, state, allowed)) for spec in BATCH_OBJECTS),
        (RESULTS, BatchResultsEndpoint(RESULTS, state, allowed)),
    ]
