"""Running one call's shadow policies off the client's path.

Each shadow gets its own `PolicyStage` (fresh context, its own activity) and a task started with
the call: it applies `on_request` to the client's request while the call goes on, then runs the
upstream's response through `run_stream` or `run_body` exactly as the enforcing policy's stage does.
The gateway only copies what it already has into each shadow's queue (`ShadowCall.tap`,
`ShadowCall.body`): nothing on the client's path waits for a shadow. Each queue is bounded in
bytes; a shadow that falls further behind is dropped for that call (`shadow.overflow`).

When the call is over, `ShadowCall.results` waits (up to `LUTHIEN_SHADOW_TIMEOUT_S`) for the
shadows to finish, stops the late ones (`shadow.timeout`), and compares what each would have sent
with what the client was sent (`luthien.shadow.compare`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from luthien.activity.log import ActivityEvent, CallActivity
from luthien.call.request import CallRequest
from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import PolicyStage
from luthien.policy.base import Policy, PolicyContext
from luthien.records.model import ShadowResult, TransactionRecord
from luthien.shadow.compare import ShadowOutput, compare
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamStreamError
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind

SHADOW_OVERFLOW = "shadow.overflow"
SHADOW_TIMEOUT = "shadow.timeout"
CALL_ENDED_MESSAGE = "the call ended before the upstream's stream did"


class _Discard:
    """A shadow's activity stays in its own result: the process-wide log shows only enforced activity."""

    def publish(self, event: ActivityEvent) -> None:
        """Drop `event` (the shadow's `CallActivity` keeps it)."""


_DISCARD = _Discard()


class _End:
    """The upstream's stream ended (`error` None) or failed."""

    __slots__ = ("error",)

    def __init__(self, error: UpstreamStreamError | None) -> None:
        self.error = error


class _Body:
    """The upstream's whole (non-streaming) body."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body


_Item = bytes | _Body | _End


class ShadowRunner:
    """One shadow policy in one call.

    Attributes:
        name: the shadow's policy instance name.
        activity: its activity events.
        output: what it would have sent, once it ran.
        overflowed: it fell more than `max_queued_bytes` behind and was dropped.
        (A response past `max_response_bytes` is not kept: `output.too_large`.)
        timed_out: it was still running when the call's shadow timeout expired.
    """

    def __init__(
        self,
        name: str,
        policy: Policy[Any],
        api: WireApi,
        request: CallRequest,
        transaction_id: str,
        models: ModelCaller | None,
        max_held_bytes: int | None,
        max_queued_bytes: int,
        max_response_bytes: int,
    ) -> None:
        self.name = name
        self._max_response_bytes = max_response_bytes
        self.activity = CallActivity(_DISCARD)
        self._transaction_id = transaction_id
        ctx = PolicyContext(transaction_id, name, self.activity, models, max_held_bytes=max_held_bytes)
        self._stage = PolicyStage(policy, ctx, api)
        self._api = api
        self._upstream_api: WireApi | None = None
        self._request = request
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._queued_bytes = 0
        self._max_queued_bytes = max_queued_bytes
        self.output = ShadowOutput()
        self.overflowed = False
        self.timed_out = False
        self.task: asyncio.Task[None] = asyncio.create_task(self._run(), name=f"luthien-shadow-{name}")

    def translate_from(self, upstream_api: WireApi) -> None:
        """The answer comes in `upstream_api` (a translated call): read it as the enforcing stage does."""
        self._upstream_api = self._stage.upstream_api = upstream_api

    def put(self, item: _Item) -> None:
        """Queue part of the upstream's response; drop the shadow when it is too far behind."""
        if self.overflowed or self.task.done():
            return
        size = len(item) if isinstance(item, bytes) else len(item.body) if isinstance(item, _Body) else 0
        if self._queued_bytes + size > self._max_queued_bytes:
            self.overflowed = True
            self.task.cancel()
            self._queue = asyncio.Queue()  # free what was queued
            self.note(SHADOW_OVERFLOW, queued_bytes=self._queued_bytes, limit_bytes=self._max_queued_bytes)
            return
        self._queued_bytes += size
        self._queue.put_nowait(item)

    def note(self, type: str, **data: Any) -> None:
        """Add an event of the shadow machinery itself to the shadow's activity."""
        self.activity.publish(ActivityEvent(self._transaction_id, type, data, self.name))

    async def _next(self) -> _Item:
        item = await self._queue.get()
        if isinstance(item, bytes):
            self._queued_bytes -= len(item)
        elif isinstance(item, _Body):
            self._queued_bytes -= len(item.body)
        return item

    async def _run(self) -> None:
        request = await self._stage.process_request(self._request)
        forwarded = request.to_bytes()
        if forwarded != self._request.to_bytes():
            self.output.request = forwarded
        first = await self._next()
        if isinstance(first, _Body):
            self.output.body = await run_body(self._api, first.body, self._stage, self._upstream_api)
            return
        chunks = self.output.chunks = []
        kept = 0
        async for chunk in run_stream(self._api, self._upstream(first), self._stage, self._upstream_api):
            kept += len(chunk)
            if kept > self._max_response_bytes:
                self.output.too_large = True  # keeps running (its verdicts count), keeps no more
                chunks.clear()
                continue
            chunks.append(chunk)

    async def _upstream(self, item: _Item) -> AsyncIterator[bytes]:
        while True:
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            if isinstance(item, bytes):
                yield item
            item = await self._next()


class ShadowCall:
    """The shadow policies of one call: fed from the gateway, compared once the call is over."""

    def __init__(self, runners: Sequence[ShadowRunner], client_api: str, timeout_s: float) -> None:
        self.runners = tuple(runners)
        self._client_api = client_api
        self._timeout_s = timeout_s
        self._fed = False
        self._ended = False

    def _put(self, item: _Item) -> None:
        for runner in self.runners:
            runner.put(item)

    def _end(self, error: UpstreamStreamError | None) -> None:
        if not self._ended:
            self._ended = True
            self._put(_End(error))

    def translate_from(self, upstream_api: WireApi) -> None:
        """The call was translated: the upstream answers in `upstream_api` (before anything is fed)."""
        for runner in self.runners:
            runner.translate_from(upstream_api)

    def body(self, body: bytes) -> None:
        """The upstream's whole body (a non-streaming answer)."""
        self._fed = self._ended = True
        self._put(_Body(body))

    async def tap(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """`chunks` (the upstream's stream) unchanged, each also queued for every shadow."""
        self._fed = True
        try:
            async for chunk in chunks:
                self._put(chunk)
                yield chunk
        except UpstreamStreamError as error:
            self._end(error)
            raise
        self._end(None)

    async def results(self, record: TransactionRecord) -> tuple[ShadowResult, ...]:
        """Each shadow's result for the finished call `record` (empty when no response reached them).

        Waits up to the shadow timeout for the shadows still running, then stops them.
        """
        if not self._fed:
            await self.cancel()
            return ()
        # The call is over: whatever the shadows have not seen of the stream never will come.
        self._end(UpstreamStreamError(ErrorKind.UPSTREAM_STREAM, CALL_ENDED_MESSAGE))
        started = time.monotonic()
        tasks = [runner.task for runner in self.runners]
        try:
            _, pending = await asyncio.wait(tasks, timeout=self._timeout_s)
        except asyncio.CancelledError:  # the server is stopping: the shadows stop with it
            await self.cancel()
            raise
        for runner in self.runners:
            if runner.task in pending:
                runner.timed_out = True
                runner.task.cancel()
                runner.note(SHADOW_TIMEOUT, timeout_s=self._timeout_s, waited_s=time.monotonic() - started)
        await asyncio.gather(*pending, return_exceptions=True)
        return tuple(compare(runner, record, self._client_api) for runner in self.runners)

    async def cancel(self) -> None:
        """Stop every shadow (the call never reached the upstream, or the server is stopping)."""
        for runner in self.runners:
            runner.task.cancel()
        await asyncio.gather(*(runner.task for runner in self.runners), return_exceptions=True)
