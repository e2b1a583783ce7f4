"""The model-call endpoints: validate, authenticate, route, forward, run the response through the pipeline.

One `ProxyEndpoint` serves each of `/v1/messages`, `/v1/messages/count_tokens`,
`/v1/chat/completions` and `/v1/responses`. The request body is forwarded as the exact bytes the
client sent; the query string is kept. Each call after authentication is recorded
(`luthien.gateway.recording`): the recorder sees the request, the upstream's bytes and the client's.
Model calls pass the rate limits (`luthien.ratelimit`) before anything else happens to them; each
finished call's tokens count against its client's daily budget. Upstream requests go through the
upstream's circuit breaker (`luthien.upstream.breaker`), or a route's fallback while it is open.
Limits (`luthien.gateway.limits`): calls past `LUTHIEN_MAX_CONCURRENT_CALLS` are refused before
anything else (not recorded); message count and JSON depth are checked with the body.
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
from luthien.gateway.headers import client_response_headers
from luthien.gateway.limits import RETRY_AFTER_HEADER, check_json_depth, check_message_count
from luthien.gateway.recording import recording_send, start_recorder, upstream_error_text
from luthien.gateway.replies import merged_headers, send_error, send_upstream_error
from luthien.gateway.state import GatewayState, client_headers
from luthien.gateway.translate import UpstreamCall, route, translated_stage, upstream_call
from luthien.pipeline.keepalive import KeepAlive
from luthien.pipeline.run import POLICY_FAILURE_MESSAGE, run_body, run_stream
from luthien.pipeline.stage import PassThroughStage, PolicyStage, ResponseStage
from luthien.policy.base import Policy, PolicyContext
from luthien.policy.runner import PolicyFailure
from luthien.ratelimit.limiter import Admission, client_identity
from luthien.records.recorder import TransactionRecorder
from luthien.records.secrets import safe_headers
from luthien.records.session import session_id
from luthien.shadow.run import ShadowCall
from luthien.translation.compaction import CompactionStage
from luthien.translation.errors import translated_error
from luthien.upstream.timeouts import UpstreamTimeouts, resolve_timeouts
from luthien.wire.apis import Endpoint
from luthien.wire.errors import ErrorKind, GatewayError

_PASS_THROUGH = PassThroughStage()
POLICY_RESPONSE_HEADER = b"x-luthien-policy"


class ProxyEndpoint:
    """ASGI app for one `Endpoint`."""

    def __init__(self, endpoint: Endpoint, state: GatewayState) -> None:
        self.endpoint = endpoint
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one call: authenticate, read and validate, then run it (cancelled on disconnect)."""
        api = self.endpoint.api
        headers = client_headers(scope["headers"])
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
            await self._serve(scope, receive, send, headers, server_key, received_at)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: list[tuple[str, str]],
        server_key: bool,
        received_at: float,
    ) -> None:
        api = self.endpoint.api
        recorder = start_recorder(
            self.state, scope, self.endpoint.path, api, headers, received_at, self.endpoint.applies_policy
        )
        send = recording_send(send, recorder)
        admission: Admission | None = None
        try:
            try:
                selected = self.state.policies.choose(headers) if self.endpoint.applies_policy else None
                if selected is not None:
                    recorder.policy(selected[0])
                body = await read_body(receive, self.state.settings.max_request_bytes)
                request = self._read_request(body, recorder)
                admission = await self._admit(scope, headers, request)
            except GatewayError as error:
                recorder.failed(error.message)
                await send_error(send, api, error)
                return
            except ClientDisconnected:
                return
            call = self._call(
                send, scope, headers, server_key, request, selected, recorder, admission.headers
            )
            await until_disconnect(receive, call)
        finally:
            # The client has its whole answer (or is gone): the record is built off its path.
            record = recorder.finish()
            if record is not None and admission is not None:
                await self.state.limiter.spend(admission.identity, record.usage)

    async def _admit(self, scope: Scope, headers: list[tuple[str, str]], request: CallRequest) -> Admission:
        """Count the call against the rate limits (token counting is not a model call: exempt).

        Raises:
            RateLimitedError: a limit or the daily token budget is used up.
        """
        identity = client_identity(headers, scope)
        if not self.endpoint.applies_policy:
            return Admission(identity)
        route = self.state.router.route(request.model)
        model_limits = route.rate_limits if route is not None else ()
        return await self.state.limiter.admit(identity, request.model, model_limits, self.endpoint.api.format)

    def _read_request(self, body: bytes, recorder: TransactionRecorder) -> CallRequest:
        api = self.endpoint.api
        try:
            parsed = self._parse(body)
        except GatewayError:
            recorder.request(body, None, api.format)
            raise
        recorder.request(body, parsed, api.format)
        return CallRequest(api.format, parsed, body)

    def _parse(self, body: bytes) -> dict[str, Any]:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise GatewayError(
                ErrorKind.INVALID_REQUEST, f"request body is not valid JSON: {error}"
            ) from error
        fields = self.endpoint.api.validate_request(parsed, self.endpoint.required, self.endpoint.optional)
        check_message_count(fields, self.state.settings.max_messages)
        check_json_depth(fields, self.state.settings.max_json_depth, body)
        return fields

    async def _call(
        self,
        send: Send,
        scope: Scope,
        headers: list[tuple[str, str]],
        server_key: bool,
        request: CallRequest,
        selected: tuple[str, Policy[Any]] | None,
        recorder: TransactionRecorder,
        rate_headers: tuple[tuple[bytes, bytes], ...],
    ) -> None:
        api = self.endpoint.api
        stage: ResponseStage = _PASS_THROUGH
        extra: list[tuple[bytes, bytes]] = [*rate_headers]
        shadow: ShadowCall | None = None
        try:
            if selected is not None:
                name, policy = selected
                shadow = self._start_shadows(scope, request, name, recorder)
                extra.append((POLICY_RESPONSE_HEADER, name.encode("latin-1")))
                _refuse_unchecked_choices(request, policy, name)
                ctx = PolicyContext(
                    transaction_id(scope),
                    name,
                    recorder.activity,
                    self.state.models,
                    max_held_bytes=self.state.settings.max_held_bytes,
                    client_headers=safe_headers(headers),
                    approvals=self.state.approvals,
                    session_id=session_id(headers, request.body, api.format),
                )
                policy_stage = PolicyStage(policy, ctx, api)
                request = await policy_stage.process_request(request)
                stage = policy_stage
            upstream = route(self.state, api, request.model)
            sent = upstream_call(
                upstream,
                api,
                self.endpoint.path,
                scope["query_string"].decode("latin-1"),
                request,
                headers,
                server_key,
                self.state.settings,
            )
        except PolicyFailure as failure:
            await self._fail(send, _policy_error(failure), extra, recorder)
            return
        except GatewayError as error:
            await self._fail(send, error, extra, recorder)
            return
        if sent.translated:
            stage = translated_stage(stage, api, sent.api, compacting=sent.compacting)
            if shadow is not None:
                shadow.translate_from(sent.api)
        if sent.translated:
            recorder.forwarded(sent.body, upstream.name, sent.key, sent.api.name, request.to_bytes())
        elif sent.capped:  # the upstream's output cap is no policy's change
            recorder.forwarded(sent.body, upstream.name, sent.key, policy_request=request.to_bytes())
        else:
            recorder.forwarded(sent.body, upstream.name, sent.key)
        configured = self.state.router.route(request.model)
        timeouts = resolve_timeouts(
            self.state.client.default_timeouts, upstream.config, configured.timeouts if configured else None
        )
        await self._forward(send, sent, timeouts, stage, extra, recorder, shadow)

    def _start_shadows(
        self, scope: Scope, request: CallRequest, enforcing: str, recorder: TransactionRecorder
    ) -> ShadowCall | None:
        """Start the call's shadow policies; the record waits for them, off the client's path."""
        shadows = self.state.shadows
        call = shadows.start(transaction_id(scope), self.endpoint.api, request, enforcing, self.state.models)
        if call is not None:
            recorder.complete_later(call.results, shadows.tasks.spawn)
        return call

    async def _forward(
        self,
        send: Send,
        sent: UpstreamCall,
        timeouts: UpstreamTimeouts,
        stage: ResponseStage,
        extra: list[tuple[bytes, bytes]],
        recorder: TransactionRecorder,
        shadow: ShadowCall | None,
    ) -> None:
        api = self.endpoint.api
        upstream_api = sent.api if sent.translated else None
        try:
            async with self.state.breakers.request(
                sent.upstream, "POST", sent.url, sent.headers, sent.body, timeouts
            ) as response:
                status = response.status
                recorder.upstream_answered(status, response.is_event_stream and status < 400)
                if status >= 400:
                    error_body = await response.read()
                    recorder.upstream_body(error_body)
                    recorder.failed(upstream_error_text(status, error_body))
                    if upstream_api is not None:
                        error_body = translated_error(status, error_body, upstream_api, api)
                    await send_upstream_error(send, api, status, response.headers, error_body, extra)
                    return
                response_headers = merged_headers(client_response_headers(response.headers), extra)
                if response.is_event_stream:
                    upstream_chunks = recorder.upstream_stream(response.chunks())
                    if shadow is not None:
                        upstream_chunks = shadow.tap(upstream_chunks)
                    chunks = run_stream(api, upstream_chunks, stage, upstream_api)
                    # The first chunk decides between a stream and an error answer: a policy that
                    # fails closed before anything was sent gets a proper HTTP error.
                    first = await anext(chunks, b"")
                    await self._send_stream(send, status, response_headers, _prepend(first, chunks), stage)
                    return
                upstream_body = await response.read()
                recorder.upstream_body(upstream_body)
                if shadow is not None:
                    shadow.body(upstream_body)
                out = await run_body(api, upstream_body, stage, upstream_api)
                await send_bytes(send, status, out, response_headers)
        except PolicyFailure as failure:
            await self._fail(send, _policy_error(failure), extra, recorder)
        except GatewayError as error:
            await self._fail(send, error, extra, recorder)

    async def _send_stream(
        self,
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        chunks: AsyncIterator[bytes],
        stage: ResponseStage,
    ) -> None:
        """Stream `chunks`; while a policy or a compaction holds content, silence gets keep-alives."""
        holder: PolicyStage | CompactionStage
        if isinstance(stage, CompactionStage) or (
            isinstance(stage, PolicyStage) and stage.policy.inspects_response
        ):
            holder = stage
        else:
            await send_stream(send, status, headers, chunks)  # nothing can be held
            return
        interval = self.state.settings.keepalive_interval_s
        keepalive = KeepAlive(send, self.endpoint.api.keepalive, interval, lambda: holder.holding)
        try:
            await send_stream(keepalive.send, status, headers, chunks)
        finally:
            await keepalive.close()

    async def _fail(
        self, send: Send, error: GatewayError, extra: list[tuple[bytes, bytes]], recorder: TransactionRecorder
    ) -> None:
        recorder.failed(error.message)
        await send_error(send, self.endpoint.api, error, extra)


def _refuse_unchecked_choices(request: CallRequest, policy: Policy[Any], name: str) -> None:
    """Policies see the first choice, and tool calls; anything else in a response would bypass them.

    Only an absent (or null) `n` or the integer 1 passes: an upstream that coerces numbers would
    honour `2.0`, `"2"` or `true` as two choices, so anything else is refused, whatever its type.
    Legacy `functions` are refused too: their calls (`function_call`) are not tool calls a policy
    reads.

    Raises:
        GatewayError: INVALID_REQUEST for `n` other than 1, or `functions`, under such a policy.
    """
    if not policy.inspects_response:
        return
    if request.body.get("functions"):
        raise GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"functions: not supported while policy {name!r} inspects responses; use tools",
        )
    if "n" not in request.body:
        return
    choices = request.body["n"]
    if choices is None or (type(choices) is int and choices == 1):
        return
    raise GatewayError(
        ErrorKind.INVALID_REQUEST,
        f"n: only 1 is allowed while policy {name!r} inspects responses (it checks one choice); "
        f"got {choices!r:.40}",
    )


def _policy_error(failure: PolicyFailure) -> GatewayError:
    return GatewayError(ErrorKind.POLICY, POLICY_FAILURE_MESSAGE.format(name=failure.policy_name))


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
