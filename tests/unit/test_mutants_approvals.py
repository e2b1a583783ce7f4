"""`ApprovalService` announcements and withdrawals, field by field: what `test_approvals_store` misses."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from luthien.approvals.memory import MemoryApprovals
from luthien.approvals.model import (
    APPROVAL_DECIDED,
    APPROVAL_PENDING,
    WITHDRAWN_BY,
    AlreadyDecided,
    Decision,
    DecisionKind,
    UnknownApproval,
)
from luthien.approvals.service import ApprovalService, open_approvals
from luthien.events.memory import MemoryEventBus
from luthien.settings import Settings
from tests.fake_provider import FakeProvider, JSONReply
from tests.support.approvals import GUARD_S, approval, approve


async def _until_pending(service: ApprovalService) -> None:
    for _ in iter(int, 1):  # the caller's wait_for bounds it
        if await service.pending():
            return
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_announcements_name_the_call_and_the_approval() -> None:
    bus = MemoryEventBus()
    await bus.start()
    bus.publish("test.start", "", {})
    start = await bus.position()
    service = ApprovalService(MemoryApprovals(), bus)
    pending = approval()
    holder = asyncio.ensure_future(service.request(pending, GUARD_S))
    await asyncio.wait_for(_until_pending(service), GUARD_S)
    person = Decision(DecisionKind.APPROVE, "fine", "admin-key", 1_700_000_000.0)
    await service.decide(pending.id, person)
    assert await asyncio.wait_for(holder, GUARD_S) == person
    events = bus.subscribe(start)
    announced = await asyncio.wait_for(anext(events), GUARD_S)
    decided = await asyncio.wait_for(anext(events), GUARD_S)
    assert (announced.type, announced.transaction_id) == (APPROVAL_PENDING, "tx-1")
    assert (decided.type, decided.transaction_id) == (APPROVAL_DECIDED, "tx-1")
    assert decided.data == {
        "id": pending.id,
        "decision": "approve",
        "reason": "fine",
        "by": "admin-key",
        "decided_at": 1_700_000_000.0,
        "event_types": ["approval"],
    }
    await service.close()
    await bus.close()


@pytest.mark.asyncio
async def test_an_expired_approval_names_itself_when_a_person_is_too_late() -> None:
    store = MemoryApprovals()
    service = ApprovalService(store, None)
    pending = approval(expires_in=-1)
    await store.add(pending)
    with pytest.raises(AlreadyDecided) as raised:
        await service.decide(pending.id, approve())
    assert raised.value.approval_id == pending.id


@pytest.mark.asyncio
async def test_a_withdrawal_is_a_denial_by_withdrawn_now_and_is_forgotten_once_done() -> None:
    service = ApprovalService(MemoryApprovals(), None)
    pending = approval()
    holder = asyncio.ensure_future(service.request(pending, GUARD_S))
    await asyncio.wait_for(_until_pending(service), GUARD_S)
    before = time.time()
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    await service.close()
    after = time.time()
    decided = await service.store.decided(pending.id)
    assert decided is not None
    assert decided.decision is DecisionKind.DENY
    assert decided.by == WITHDRAWN_BY
    assert isinstance(decided.reason, str)
    assert decided.reason
    assert before <= decided.decided_at <= after
    assert not service._withdrawals  # pyright: ignore[reportPrivateUsage]


@pytest.mark.asyncio
async def test_a_withdrawal_that_fails_is_logged_with_the_approval_and_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryApprovals()
    service = ApprovalService(store, None)
    pending = approval()

    async def forgotten(approval_id: str, decision: Decision) -> None:
        raise UnknownApproval(approval_id)

    store.decide = forgotten  # type: ignore[method-assign,assignment]
    holder = asyncio.ensure_future(service.request(pending, GUARD_S))
    await asyncio.wait_for(_until_pending(service), GUARD_S)
    with caplog.at_level(logging.INFO, logger="luthien.approvals"):
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        await service.close()
    [record] = [record for record in caplog.records if record.name == "luthien.approvals"]
    assert record.levelno == logging.INFO
    assert record.args == (pending.id, "UnknownApproval")
    assert record.getMessage()


def test_open_approvals_announces_on_the_given_bus() -> None:
    bus = MemoryEventBus()
    assert open_approvals(Settings(), bus).bus is bus


@pytest.mark.asyncio
async def test_a_store_that_fails_denies_now_and_logs_the_approval_and_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryApprovals()
    service = ApprovalService(store, None)
    pending = approval()
    failure = ConnectionError("redis is gone")

    async def unavailable(approval: object) -> None:
        raise failure

    store.add = unavailable  # type: ignore[method-assign,assignment]
    before = time.time()
    with caplog.at_level(logging.WARNING, logger="luthien.approvals"):
        decision = await service.request(pending, GUARD_S)
    after = time.time()
    assert (decision.decision, decision.by) == (DecisionKind.DENY, "unavailable")
    assert isinstance(decision.reason, str)
    assert decision.reason
    assert before <= decision.decided_at <= after
    [record] = [record for record in caplog.records if record.name == "luthien.approvals"]
    assert record.levelno == logging.WARNING
    assert record.args == (pending.id, failure)
    assert record.getMessage()


@pytest.mark.asyncio
async def test_a_timeout_denies_now_with_a_reason() -> None:
    service = ApprovalService(MemoryApprovals(), None)
    before = time.time()
    decision = await service.request(approval(), 0.01)
    after = time.time()
    assert (decision.decision, decision.by) == (DecisionKind.DENY, "timeout")
    assert isinstance(decision.reason, str)
    assert decision.reason
    assert before <= decision.decided_at <= after


@pytest.mark.asyncio
async def test_a_timeout_denial_that_cannot_be_stored_still_denies_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryApprovals()
    service = ApprovalService(store, None)
    pending = approval()
    failure = ConnectionError("redis is gone")

    async def unavailable(approval_id: str, decision: Decision) -> None:
        raise failure

    store.decide = unavailable  # type: ignore[method-assign,assignment]
    with caplog.at_level(logging.WARNING, logger="luthien.approvals"):
        decision = await service.request(pending, 0.01)
    assert (decision.decision, decision.by) == (DecisionKind.DENY, "timeout")
    [record] = [record for record in caplog.records if record.name == "luthien.approvals"]
    assert record.levelno == logging.WARNING
    assert record.args == (pending.id, failure)
    assert record.getMessage()


@pytest.fixture
def receiver() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.mark.asyncio
async def test_the_webhook_gets_the_approval_and_where_to_decide(receiver: FakeProvider) -> None:
    receiver.enqueue(JSONReply({"ok": True}))
    service = ApprovalService(MemoryApprovals(), None)
    pending = approval()
    await service.request(
        pending, 0.01, f"{receiver.base_url}/v1/messages", "https://luthien.example/ui/approvals"
    )
    await service.close()
    (posted,) = receiver.requests
    assert posted.json()["approval"]["id"] == pending.id
    assert posted.json()["url"] == "https://luthien.example/ui/approvals"
    assert (service.webhook.sent, service.webhook.failed) == (1, 0)


@pytest.mark.asyncio
async def test_without_a_webhook_nothing_is_posted() -> None:
    service = ApprovalService(MemoryApprovals(), None)
    await service.request(approval(), 0.01)
    await service.close()
    assert (service.webhook.sent, service.webhook.failed) == (0, 0)
