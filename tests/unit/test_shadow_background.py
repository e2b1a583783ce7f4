"""A record that waits for shadow results: delivered with them, or without them when they fail."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from luthien.activity.log import ActivityLog
from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.call.request import CallRequest
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.records.memory import MemoryRecordSink
from luthien.records.model import ShadowOutcome, ShadowResult, TransactionRecord
from luthien.records.recorder import TransactionRecorder
from luthien.settings import Settings
from luthien.shadow.policies import ShadowSet
from luthien.shadow.tasks import BackgroundTasks
from luthien.wire.formats import WireFormat

SECRET = "sk-ant-secret-value-1234567890"


def recorder(sink: MemoryRecordSink) -> TransactionRecorder:
    made = TransactionRecorder(
        "tx-1",
        "anthropic_messages",
        "/v1/messages",
        [("x-api-key", SECRET)],
        sink=sink,
        bus=None,
        activity_log=ActivityLog(),
    )
    made.request(b'{"model": "m", "max_tokens": 1, "messages": []}', {"model": "m"}, WireFormat.ANTHROPIC)
    made.response_started(200, False)
    made.response_body(b"{}", False)
    return made


@pytest.mark.asyncio
async def test_the_record_waits_for_its_shadows_and_their_secrets_are_scrubbed() -> None:
    sink, tasks = MemoryRecordSink(), BackgroundTasks()
    call = recorder(sink)
    release = asyncio.Event()

    async def shadows(record: TransactionRecord) -> tuple[ShadowResult, ...]:
        await release.wait()
        return (ShadowResult("judge", ShadowOutcome.ERROR, final_response=SECRET.encode(), error=SECRET),)

    call.complete_later(shadows, tasks.spawn)
    returned = call.finish()

    assert returned is not None
    assert returned.shadows == ()
    assert sink.records == []
    assert len(tasks) == 1
    release.set()
    await tasks.drain(timeout_s=5)
    (stored,) = sink.records
    (shadow,) = stored.shadows
    assert SECRET not in (shadow.error or "")
    assert SECRET.encode() not in (shadow.final_response or b"")


@pytest.mark.asyncio
async def test_failing_shadow_work_still_delivers_the_record() -> None:
    sink, tasks = MemoryRecordSink(), BackgroundTasks()
    call = recorder(sink)

    async def broken(record: TransactionRecord) -> tuple[ShadowResult, ...]:
        raise RuntimeError("bug")

    call.complete_later(broken, tasks.spawn)
    call.finish()
    await tasks.drain(timeout_s=5)

    (stored,) = sink.records
    assert stored.shadows == ()


@pytest.mark.asyncio
async def test_shadow_work_stopped_at_shutdown_still_delivers_the_record() -> None:
    sink, tasks = MemoryRecordSink(), BackgroundTasks()
    call = recorder(sink)

    async def endless(record: TransactionRecord) -> tuple[ShadowResult, ...]:
        await asyncio.Event().wait()
        return ()

    call.complete_later(endless, tasks.spawn)
    call.finish()
    await asyncio.sleep(0)
    await tasks.drain(timeout_s=0.01)

    (stored,) = sink.records
    assert stored.shadows == ()
    assert len(tasks) == 0


@pytest.mark.asyncio
async def test_draining_nothing_returns_at_once() -> None:
    await BackgroundTasks().drain(timeout_s=0)


class Stuck(Policy[PolicyConfig]):
    """Never gets past the request."""

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        await asyncio.Event().wait()
        return request


@pytest.mark.asyncio
async def test_stopping_a_call_s_shadow_wait_stops_its_shadows() -> None:
    shadows = ShadowSet({"stuck": Stuck(PolicyConfig(), "stuck")}, ["stuck"], Settings())
    body = b'{"model": "m", "max_tokens": 1, "messages": []}'
    request = CallRequest(WireFormat.ANTHROPIC, orjson.loads(body), body)
    call = shadows.start("tx-1", ANTHROPIC_MESSAGES, request, "noop", None)
    assert call is not None
    call.body(b"{}")
    (runner,) = call.runners
    sink, tasks = MemoryRecordSink(), BackgroundTasks()
    recorded = recorder(sink)
    recorded.complete_later(call.results, tasks.spawn)
    recorded.finish()
    await asyncio.sleep(0)

    await tasks.drain(timeout_s=0.01)

    assert runner.task.cancelled()
    (stored,) = sink.records
    assert stored.shadows == ()
