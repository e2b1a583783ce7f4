"""`ForwardedEndpoint`: serves every endpoint an SDK calls besides creating a model response.

Each `Forwarded` endpoint (`gateway/coverage.py`, which also says what each `Coverage` does) is
served under the same rules as a model call: authentication, the transaction id, a record, the
upstream's circuit breaker, errors in the client's shape. The policy's part is one `Plan` per call:
the body to forward and the stage the answer goes through (a resumed Responses stream is replayed
from its start, `gateway/resume.py`; batches override the plan and the answer, `gateway/batches.py`).

Upstream: the client format's default upstream (a stored object's routed upstream is not known on
retrieval), except `GET`/`DELETE /v1/models/{id}`, routed by the model.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from luthien.call.request import CallRequest
from luthien.gateway.asgi import (
    ClientDisconnected,
    read_body,
    send_bytes,
    send_stream,
    transaction_id,
    until_disconnect,
)
from luthien.gateway.auth import use_server_key
from luthien.gateway.coverage import Coverage, Forwarded, Plan, refuse_unchecked, upstream_path
from luthien.gateway.headers import client_response_headers, upstream_request_headers
from luthien.gateway.limits import RETRY_AFTER_HEADER
from luthien.gateway.proxy import POLICY_RESPONSE_HEADER
from luthien.gateway.recording import recording_send, start_recorder, upstream_error_text
from luthien.gateway.replies import send_error, send_upstream_error
from luthien.gateway.resume import replay_from_start, skip_sent
from luthien.gateway.state import GatewayState, client_headers
from luthien.pipeline.run import POLICY_FAILURE_MESSAGE, run_body, run_stream
from luthien.pipeline.stage import PassThroughStage, PolicyStage
from luthien.policy.base import Policy, PolicyContext
from luthien.policy.runner import PolicyFailure
from luthien.ratelimit.limiter import Admission, client_identity
from luthien.records.recorder import TransactionRecorder
from luthien.upstream.client import UpstreamResponse
from luthien.upstream.routing import Upstream
from luthien.upstream.timeouts import resolve_timeouts
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError

_PASS_THROUGH = PassThroughStage()


class ForwardedEndpoint:
    """ASGI app for one `Forwarded` endpoint.

    Attributes:
        records_call: whether the call is recorded as one transaction (batch results are recorded
            per item instead).
    """

    records_call = True

    def __init__(self, spec: Forwarded, state: GatewayState, allowed: frozenset[str]) -> None:
        self.spec = spec
        self.state = state
        self.allowed = spec.path in allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, record, check coverage, forward (cancelled on disconnect)."""
        headers = client_headers(scope["headers"])
        api = self.spec.client_api(headers)
        received_at = time.time()
        try:
            server_key = use_server_key(headers, self.state.settings)
        except GatewayError as error:
            await send_error(send, api, error)
            return
        calls = self.state.calls
        if calls.full:
            await send_error(send, api, calls.overloaded(), [RETRY_AFTER_HEADER])
            return
        with calls.admit():
            recorder = start_recorder(
                self.state, scope, self.spec.path, api, headers, received_at, self.records_call
            )
            admitted: list[Admission] = []
            try:
                await self._serve(
                    scope,
                    receive,
                    recording_send(send, recorder),
                    api,
                    headers,
                    server_key,
                    recorder,
                    admitted,
                )
            finally:
                record = recorder.finish()
                if record is not None and admitted:
                    await self.state.limiter.spend(admitted[0].identity, record.usage)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        api: WireApi,
        headers: list[tuple[str, str]],
        server_key: bool,
        recorder: TransactionRecorder,
        admitted: list[Admission],
    ) -> None:
        coverage = self.spec.coverage
        try:
            body = await read_body(receive, self.state.settings.max_request_bytes)
            parsed = _parse(body)
            recorder.request(body, parsed, api.format)
            selected = self.state.policies.choose(headers) if coverage is not Coverage.NONE else None
            if selected is not None:
                recorder.policy(selected[0])
                inspects = selected[1].inspects_response
                if coverage is Coverage.UNCHECKED and inspects and not self.allowed:
                    raise refuse_unchecked(self.spec.path, selected[0])
            if coverage is Coverage.REQUEST:  # model calls (compaction, batches) pass the rate limits
                admitted.append(await self._admit(scope, headers, parsed, api))
        except GatewayError as error:
            recorder.failed(error.message)
            await send_error(send, api, error)
            return
        except ClientDisconnected:
            return
        rate_headers = admitted[0].headers if admitted else ()
        call = self._call(
            scope, send, api, headers, server_key, body, parsed, selected, recorder, rate_headers
        )
        await until_disconnect(receive, call)

    async def _admit(
        self, scope: Scope, headers: list[tuple[str, str]], parsed: dict[str, Any] | None, api: WireApi
    ) -> Admission:
        """Count a model call against the rate limits (per model when its body names one).

        Raises:
            RateLimitedError: a limit or the daily token budget is used up.
        """
        model: Any = (parsed or {}).get("model")
        model = model if isinstance(model, str) else ""
        route = self.state.router.route(model)
        limits = route.rate_limits if route is not None else ()
        return await self.state.limiter.admit(client_identity(headers, scope), model, limits, api.format)

    async def _call(
        self,
        scope: Scope,
        send: Send,
        api: WireApi,
        headers: list[tuple[str, str]],
        server_key: bool,
        body: bytes,
        parsed: dict[str, Any] | None,
        selected: tuple[str, Policy[Any]] | None,
        recorder: TransactionRecorder,
        rate_headers: tuple[tuple[bytes, bytes], ...],
    ) -> None:
        extra: list[tuple[bytes, bytes]] = [*rate_headers]
        query = scope["query_string"].decode("latin-1")
        plan = Plan(body, _PASS_THROUGH, None)
        try:
            if selected is not None:
                name, policy = selected
                extra.append((POLICY_RESPONSE_HEADER, name.encode("latin-1")))
                policy_stage = PolicyStage(policy, new_context(self.state, scope, name, recorder), api)
                plan = await self.plan(scope, api, body, parsed, policy_stage, recorder)
                if plan.resume_after is not None:
                    query, _ = replay_from_start(query)
            upstream = self._upstream(api, scope["path_params"])
        except PolicyFailure as failure:
            await self._fail(send, api, _policy_error(failure), extra, recorder)
            return
        except GatewayError as error:
            await self._fail(send, api, error, extra, recorder)
            return
        upstream_key = upstream.config.resolved_api_key()
        upstream_headers = upstream_request_headers(headers, upstream.format, upstream_key, server_key)
        url = upstream.url(upstream_path(self.spec.path, scope["path_params"]), query)
        recorder.forwarded(plan.body, upstream.name, upstream_key)
        timeouts = resolve_timeouts(self.state.client.default_timeouts, upstream.config, None)
        try:
            async with self.state.breakers.request(
                upstream, self.spec.method, url, upstream_headers, plan.body or None, timeouts
            ) as response:
                status = response.status
                recorder.upstream_answered(status, response.is_event_stream and status < 400)
                if status >= 400:
                    error_body = await response.read()
                    recorder.upstream_body(error_body)
                    recorder.failed(upstream_error_text(status, error_body))
                    await send_upstream_error(send, api, status, response.headers, error_body, extra)
                    return
                response_headers = [*client_response_headers(response.headers), *extra]
                await self.answer(scope, send, api, response, response_headers, plan, recorder)
        except PolicyFailure as failure:
            await self._fail(send, api, _policy_error(failure), extra, recorder)
        except GatewayError as error:
            await self._fail(send, api, error, extra, recorder)

    async def plan(
        self,
        scope: Scope,
        api: WireApi,
        body: bytes,
        parsed: dict[str, Any] | None,
        stage: PolicyStage,
        recorder: TransactionRecorder,
    ) -> Plan:
        """What the active policy does to this call: the body to forward, the stage for the answer.

        Raises:
            PolicyFailure: `on_request` failed closed.
            GatewayError: a resumed stream's `starting_after` is not a number.
        """
        coverage = self.spec.coverage
        if coverage is Coverage.REQUEST and parsed is not None:
            request = await stage.process_request(CallRequest(api.format, parsed, body))
            check = self.spec.answer_check if stage.policy.inspects_response else None
            return Plan(request.to_bytes(), _PASS_THROUGH, None, check)
        if coverage is Coverage.RESPONSE and stage.policy.inspects_response:
            _, resume_after = replay_from_start(scope["query_string"].decode("latin-1"))
            return Plan(body, stage, resume_after)
        return Plan(body, _PASS_THROUGH, None)

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
        """Send the upstream's successful answer, through the plan's stage (and its answer check).

        Raises:
            GatewayError: the answer check refused the answer.
        """
        if response.is_event_stream and plan.answer_check is not None:
            raise GatewayError(
                ErrorKind.UPSTREAM_UNAVAILABLE, f"{self.spec.path}: a stream where a body was due"
            )
        if response.is_event_stream:
            chunks = run_stream(api, recorder.upstream_stream(response.chunks()), plan.stage)
            if plan.resume_after is not None:
                chunks = skip_sent(chunks, plan.resume_after)
            first = await anext(chunks, b"")
            await send_stream(send, response.status, headers, _prepend(first, chunks))
            return
        upstream_body = await response.read()
        recorder.upstream_body(upstream_body)
        if plan.answer_check is not None:
            plan.answer_check(upstream_body)
        out = await run_body(api, upstream_body, plan.stage) if upstream_body else upstream_body
        await send_bytes(send, response.status, self.rewrite(scope, out), headers)

    def rewrite(self, scope: Scope, body: bytes) -> bytes:
        """The answer body as the client gets it (unchanged here; batches point URLs at Luthien)."""
        return body

    def _upstream(self, api: WireApi, params: dict[str, Any]) -> Upstream:
        router = self.state.router
        upstream = router.resolve("", api.format)
        if self.spec.model_parameter is not None:
            routed = router.resolve(str(params[self.spec.model_parameter]), api.format)
            upstream = routed if routed.format is api.format else upstream
        return self.state.breakers.choose(upstream, None)

    async def _fail(
        self,
        send: Send,
        api: WireApi,
        error: GatewayError,
        extra: list[tuple[bytes, bytes]],
        recorder: TransactionRecorder,
    ) -> None:
        recorder.failed(error.message)
        await send_error(send, api, error, extra)


def new_context(state: GatewayState, scope: Scope, name: str, recorder: TransactionRecorder) -> PolicyContext:
    """A policy context for one call of a forwarded endpoint."""
    return PolicyContext(
        transaction_id(scope),
        name,
        recorder.activity,
        state.models,
        max_held_bytes=state.settings.max_held_bytes,
    )


def _parse(body: bytes) -> dict[str, Any] | None:
    """The JSON object a request carries (None without a body).

    Raises:
        GatewayError: INVALID_REQUEST for a body that is not a JSON object.
    """
    if not body:
        return None
    try:
        parsed: Any = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise GatewayError(ErrorKind.INVALID_REQUEST, f"request body is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise GatewayError(ErrorKind.INVALID_REQUEST, "request body must be a JSON object")
    return parsed  # pyright: ignore[reportUnknownVariableType]


def _policy_error(failure: PolicyFailure) -> GatewayError:
    return GatewayError(ErrorKind.POLICY, POLICY_FAILURE_MESSAGE.format(name=failure.policy_name))


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
