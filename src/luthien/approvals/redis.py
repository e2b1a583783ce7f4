"""`RedisApprovals`: approvals shared by every replica through Redis (`LUTHIEN_REDIS_URL`).

Keys (under `<prefix>`, the live event stream's key + `:approvals`):

- `<prefix>:pending`: a hash, approval id → the pending approval's JSON. Any replica lists it.
- `<prefix>:decision:<id>`: the decision's JSON, kept `DECISION_TTL_S` (a repeated decision is a 409).
- `<prefix>:wake:<id>`: a list the decider pushes to; the holding replica waits on it (`BLPOP`).

Deciding is one Lua script (check decided, check pending, store the decision, remove the pending
entry, wake the holder), so two replicas deciding at once cannot both win. A pending entry whose
holder died is never decided by it: listing drops entries `ORPHAN_GRACE_S` past their expiry.
While Redis is unreachable the holder keeps retrying until its timeout, then denies (fail-secure):
its own timeout denial cannot be stored either, and it is not needed to end the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from luthien.approvals.model import AlreadyDecided, Decision, PendingApproval, UnknownApproval

logger = logging.getLogger("luthien.approvals")

KEY_SUFFIX = ":approvals"
DECISION_TTL_S = 24 * 3600
"""How long a decision is kept (answering a repeated decision with 409, not 404)."""
WAIT_SLICE_S = 5
"""Longest single `BLPOP`: the holder re-checks the decision key (and Redis) this often."""
SOCKET_TIMEOUT_S = WAIT_SLICE_S + 5.0
CONNECT_TIMEOUT_S = 2.0
MIN_BLOCK_S = 0.01
"""Shortest `BLPOP` (0 would block forever)."""
RETRY_S = 0.5
"""Pause before retrying after Redis failed while waiting."""
ORPHAN_GRACE_S = 60.0
"""A pending entry this long past its expiry lost its holder (it would have denied): it is dropped."""
_CONNECTION_ERRORS = (RedisError, OSError, TimeoutError)

_DECIDE = """
local earlier = redis.call('GET', KEYS[2])
if earlier then return {1, earlier} end
local pending = redis.call('HGET', KEYS[1], ARGV[1])
if not pending then return {0, ''} end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('RPUSH', KEYS[3], '1')
redis.call('EXPIRE', KEYS[3], ARGV[3])
return {2, pending}
"""
_EARLIER = 1
_DECIDED = 2


class RedisApprovals:
    """Approvals in Redis, visible to and decidable from every replica."""

    shared = True

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: aioredis.Redis = aioredis.Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
            url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=CONNECT_TIMEOUT_S
        )
        self._pending_key = prefix + ":pending"
        self._prefix = prefix
        self._decide = self._redis.register_script(_DECIDE)

    def _decision_key(self, approval_id: str) -> str:
        return f"{self._prefix}:decision:{approval_id}"

    def _wake_key(self, approval_id: str) -> str:
        return f"{self._prefix}:wake:{approval_id}"

    async def add(self, approval: PendingApproval) -> None:
        """See `ApprovalStore.add`."""
        await self._redis.hset(self._pending_key, approval.id, orjson.dumps(approval.to_json()))  # pyright: ignore[reportGeneralTypeIssues, reportUnknownMemberType]

    async def pending(self) -> list[PendingApproval]:
        """See `ApprovalStore.pending` (entries whose holder died are dropped)."""
        raw = cast(dict[bytes, bytes], await self._redis.hgetall(self._pending_key))  # pyright: ignore[reportGeneralTypeIssues, reportUnknownMemberType]
        now = time.time()
        approvals: list[PendingApproval] = []
        orphans: list[bytes] = []
        for key, value in raw.items():
            approval = _approval(value)
            if approval is None or approval.expires_at + ORPHAN_GRACE_S < now:
                orphans.append(key)
            else:
                approvals.append(approval)
        if orphans:
            await self._redis.hdel(self._pending_key, *orphans)  # pyright: ignore[reportGeneralTypeIssues, reportUnknownMemberType]
        return sorted(approvals, key=lambda approval: approval.created_at)

    async def get(self, approval_id: str) -> PendingApproval | None:
        """See `ApprovalStore.get`."""
        raw = await self._redis.hget(self._pending_key, approval_id)  # pyright: ignore[reportGeneralTypeIssues, reportUnknownMemberType, reportUnknownVariableType]
        return None if raw is None else _approval(cast(bytes, raw))

    async def decided(self, approval_id: str) -> Decision | None:
        """See `ApprovalStore.decided`."""
        raw = await self._redis.get(self._decision_key(approval_id))
        return None if raw is None else Decision.from_json(orjson.loads(cast(bytes, raw)))

    async def decide(self, approval_id: str, decision: Decision) -> PendingApproval:
        """See `ApprovalStore.decide`."""
        keys = [self._pending_key, self._decision_key(approval_id), self._wake_key(approval_id)]
        args = [approval_id, orjson.dumps(decision.to_json()), DECISION_TTL_S]
        outcome, payload = cast(list[Any], await self._decide(keys=keys, args=args))
        if outcome == _EARLIER:
            raise AlreadyDecided(approval_id, Decision.from_json(orjson.loads(cast(bytes, payload))))
        approval = _approval(cast(bytes, payload)) if outcome == _DECIDED else None
        if approval is None:
            raise UnknownApproval(approval_id)
        return approval

    async def wait(self, approval_id: str, timeout_s: float) -> Decision | None:
        """See `ApprovalStore.wait`: `BLPOP` in slices, re-reading the decision; retries on failures."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            try:
                decision = await self.decided(approval_id)
                if decision is not None:
                    return decision
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                await self._redis.blpop(
                    [self._wake_key(approval_id)], timeout=max(min(remaining, WAIT_SLICE_S), MIN_BLOCK_S)
                )  # pyright: ignore[reportGeneralTypeIssues, reportUnknownMemberType]
            except _CONNECTION_ERRORS as error:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                logger.warning("approval %s: Redis failed while waiting (%s); retrying", approval_id, error)
                await asyncio.sleep(min(RETRY_S, remaining))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def _approval(raw: bytes) -> PendingApproval | None:
    try:
        return PendingApproval.from_json(orjson.loads(raw))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
