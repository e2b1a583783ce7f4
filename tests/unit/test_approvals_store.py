"""The approval stores (in-process and Redis) and the service over them: one decision wins, waits end.

Redis tests use the machine's Redis on a unique key prefix (deleted afterwards), or a private
`redis-server` that is stopped to prove a holder denies when Redis is gone.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis

from luthien.approvals.memory import DECIDED_KEPT, MemoryApprovals
from luthien.approvals.model import (
    APPROVAL_DECIDED,
    APPROVAL_PENDING,
    TIMEOUT_BY,
    UNAVAILABLE_BY,
    WITHDRAWN_BY,
    AlreadyDecided,
    Decision,
    DecisionKind,
    PendingApproval,
    UnknownApproval,
)
from luthien.approvals.redis import ORPHAN_GRACE_S, RedisApprovals
from luthien.approvals.service import ApprovalService, open_approvals
from luthien.approvals.store import ApprovalStore
from luthien.events.memory import MemoryEventBus
from luthien.settings import Settings
from tests.support.approvals import GUARD_S, approval, approve
from tests.support.redis_server import RedisServer

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"luthien-test:approvals:{uuid.uuid4()}"
    yield prefix
    with redis.Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)


@pytest_asyncio.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[ApprovalStore]:
    made: ApprovalStore = (
        MemoryApprovals() if request.param == "memory" else RedisApprovals(REDIS_URL, redis_prefix)
    )
    yield made
    await made.close()


def test_json_round_trips() -> None:
    pending = approval()
    assert PendingApproval.from_json(pending.to_json()) == pending
    plain = PendingApproval("a", "t", None, "p", "Bash", "c", "{}", 1.0, 2.0)
    assert PendingApproval.from_json(plain.to_json()) == plain
    decision = approve()
    assert Decision.from_json(decision.to_json()) == decision


@pytest.mark.asyncio
async def test_the_first_decision_wins(store: ApprovalStore) -> None:
    pending = approval()
    await store.add(pending)
    assert [item.id for item in await store.pending()] == [pending.id]
    assert await store.get(pending.id) == pending

    decided = await store.decide(pending.id, approve())
    with pytest.raises(AlreadyDecided) as raised:
        await store.decide(pending.id, Decision(DecisionKind.DENY, "no", "loopback", time.time()))

    assert decided == pending
    assert raised.value.decision is not None
    assert raised.value.decision.decision is DecisionKind.APPROVE
    assert await store.pending() == []
    assert await store.get(pending.id) is None
    assert (await store.decided(pending.id)) == (await store.wait(pending.id, GUARD_S))
    with pytest.raises(UnknownApproval):
        await store.decide("apr_nobody", approve())


@pytest.mark.asyncio
async def test_a_waiter_wakes_on_the_decision(store: ApprovalStore) -> None:
    pending = approval()
    await store.add(pending)
    waiter = asyncio.ensure_future(store.wait(pending.id, GUARD_S))
    await asyncio.sleep(0)
    await store.decide(pending.id, approve())
    decision = await asyncio.wait_for(waiter, GUARD_S)
    assert decision is not None
    assert decision.decision is DecisionKind.APPROVE


@pytest.mark.asyncio
async def test_a_wait_without_decision_ends_empty(store: ApprovalStore) -> None:
    pending = approval()
    await store.add(pending)
    assert await store.wait(pending.id, 0.01) is None


@pytest.mark.asyncio
async def test_pending_is_oldest_first(store: ApprovalStore) -> None:
    newer, older = approval(created=time.time()), approval(created=time.time() - 10)
    await store.add(newer)
    await store.add(older)
    assert [item.id for item in await store.pending()] == [older.id, newer.id]


@pytest.mark.asyncio
async def test_redis_drops_approvals_whose_holder_died(redis_prefix: str) -> None:
    store = RedisApprovals(REDIS_URL, redis_prefix)
    try:
        dead = approval(expires_in=-(ORPHAN_GRACE_S + 1))
        alive = approval()
        await store.add(dead)
        await store.add(alive)
        with redis.Redis.from_url(REDIS_URL) as client:
            client.hset(f"{redis_prefix}:pending", "garbage", b"not json")
        assert [item.id for item in await store.pending()] == [alive.id]
        with redis.Redis.from_url(REDIS_URL) as client:
            assert set(client.hkeys(f"{redis_prefix}:pending")) == {alive.id.encode()}
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_memory_forgets_old_decisions() -> None:
    store = MemoryApprovals()
    first = approval()
    await store.add(first)
    await store.decide(first.id, approve())
    for _ in range(DECIDED_KEPT):
        other = approval()
        await store.add(other)
        await store.decide(other.id, approve())
    assert await store.decided(first.id) is None


@pytest.mark.asyncio
async def test_the_service_announces_and_times_out() -> None:
    bus = MemoryEventBus()
    await bus.start()
    bus.publish("test.start", "", {})
    start = await bus.position()
    service = ApprovalService(MemoryApprovals(), bus)
    pending = approval()
    decision = await service.request(pending, 0.01)
    events = bus.subscribe(start)
    assert (decision.decision, decision.by) == (DecisionKind.DENY, TIMEOUT_BY)
    first = await asyncio.wait_for(anext(events), GUARD_S)
    second = await asyncio.wait_for(anext(events), GUARD_S)
    assert [first.type, second.type] == [APPROVAL_PENDING, APPROVAL_DECIDED]
    assert first.data == {**pending.summary(), "event_types": ["approval"]}
    assert second.data["by"] == TIMEOUT_BY
    with pytest.raises(AlreadyDecided):
        await service.decide(pending.id, approve())
    await service.close()
    await bus.close()


@pytest.mark.asyncio
async def test_a_person_cannot_decide_an_expired_approval() -> None:
    store = MemoryApprovals()
    service = ApprovalService(store, None)
    pending = approval(expires_in=-1)
    await store.add(pending)
    with pytest.raises(AlreadyDecided) as raised:
        await service.decide(pending.id, approve())
    assert raised.value.decision is None
    await service.decide(pending.id, Decision(DecisionKind.DENY, "late", TIMEOUT_BY, time.time()))


async def _until_pending(service: ApprovalService) -> None:
    """Yield to the loop until the holder has made its approval pending."""
    for _ in iter(int, 1):  # the caller's wait_for bounds it
        if await service.pending():
            return
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_cancelled_call_withdraws_its_approval() -> None:
    service = ApprovalService(MemoryApprovals(), None)
    pending = approval()
    holder = asyncio.ensure_future(service.request(pending, GUARD_S))
    await asyncio.wait_for(_until_pending(service), GUARD_S)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    await service.close()
    assert await service.pending() == []
    decided = await service.store.decided(pending.id)
    assert decided is not None
    assert decided.by == WITHDRAWN_BY


@pytest.mark.asyncio
async def test_a_timeout_loses_to_a_decision_made_at_the_same_time() -> None:
    store = MemoryApprovals()
    service = ApprovalService(store, None)
    pending = approval()

    async def wait_then_lose(approval_id: str, timeout_s: float) -> Decision | None:
        await store.decide(approval_id, approve())  # a person decided just as the wait ended
        return None

    store.wait = wait_then_lose  # type: ignore[method-assign]
    decision = await service.request(pending, 0.01)
    assert decision.decision is DecisionKind.APPROVE


@pytest.mark.asyncio
async def test_without_redis_a_holder_denies() -> None:
    server = RedisServer().start()
    service = open_approvals(Settings(redis_url=server.url, events_stream_key=f"k-{uuid.uuid4()}"), None)
    try:
        assert service.store.shared
        pending = approval()
        server.stop()
        decision = await service.request(pending, 0.05)
        assert (decision.decision, decision.by) == (DecisionKind.DENY, UNAVAILABLE_BY)
    finally:
        await service.close()


@pytest.mark.asyncio
async def test_redis_going_away_while_waiting_denies_at_the_timeout() -> None:
    server = RedisServer().start()
    store = RedisApprovals(server.url, f"k-{uuid.uuid4()}")
    try:
        pending = approval()
        await store.add(pending)
        server.stop()
        assert await store.wait(pending.id, 0.2) is None
    finally:
        await store.close()


def test_open_approvals_is_in_process_without_redis() -> None:
    assert not open_approvals(Settings(), None).store.shared
