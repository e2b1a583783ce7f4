"""Replay runs in the records database: `replay_runs` and `replay_items` (see `storage/schema.py`).

A run is inserted when it starts (status `running`), its items are added in batches as calls finish
(the run's counters move with them, so its progress is visible to every replica), and it is marked
`completed` or `failed` at the end. Both final responses are stored only for the items that
disagree with what happened at the time; agreeing items keep their verdict only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.records.query import TransactionFilter
from luthien.replay.runner import ReplayOutcome
from luthien.storage.engine import writer_engine
from luthien.storage.queries import filter_conditions
from luthien.storage.schema import replay_items, replay_runs, transactions

MAX_RUNS_LISTED = 100
"""Runs `list_runs` returns, newest first."""
TOKENS_PER_MILLION = 1_000_000
r = replay_runs.c
i = replay_items.c


class RunStatus(StrEnum):
    """Where a run is."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Prices:
    """Judge token prices for the cost estimate, US dollars per million tokens."""

    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The estimated cost of that many judge tokens."""
        return (
            input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok
        ) / TOKENS_PER_MILLION


@dataclass(slots=True)
class Totals:
    """A run's counters: calls done and what they showed."""

    done: int = 0
    skipped: int = 0
    changed: int = 0
    newly_blocked: int = 0
    newly_allowed: int = 0
    errors: int = 0
    judge_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, outcome: ReplayOutcome) -> None:
        """Count one outcome."""
        self.done += 1
        self.skipped += outcome.skipped is not None
        self.changed += outcome.changed
        self.newly_blocked += len(outcome.newly_blocked)
        self.newly_allowed += len(outcome.newly_allowed)
        self.errors += outcome.error is not None
        self.judge_calls += outcome.judge_calls
        self.input_tokens += outcome.input_tokens
        self.output_tokens += outcome.output_tokens

    @property
    def replayed(self) -> int:
        """Calls that went through the policy (done, less skipped)."""
        return self.done - self.skipped


@dataclass(frozen=True, slots=True)
class ReplayRun:
    """One run as stored.

    Attributes:
        id: the run id (hex UUID).
        policy: the policy replayed.
        filters: the filters as given (strings), plus `limit`.
        status: running, completed or failed.
        started_at: seconds since the epoch.
        finished_at: when it ended, or None while running.
        total: calls selected (None until counted).
        totals: the counters.
        cost_usd: estimated judge cost.
        error: why a failed run failed.
    """

    id: str
    policy: str
    filters: dict[str, Any]
    status: RunStatus
    started_at: float
    finished_at: float | None
    total: int | None
    totals: Totals = field(default_factory=Totals)
    cost_usd: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayItem:
    """One stored item: a call's outcome (responses only for disagreements)."""

    seq: int
    outcome: ReplayOutcome


def new_run_id() -> str:
    """A fresh run id."""
    return uuid.uuid4().hex


def _run_from_row(row: Any) -> ReplayRun:
    totals = Totals(
        done=row.done,
        skipped=row.skipped,
        changed=row.changed,
        newly_blocked=row.newly_blocked,
        newly_allowed=row.newly_allowed,
        errors=row.errors,
        judge_calls=row.judge_calls,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
    )
    return ReplayRun(
        id=row.id,
        policy=row.policy,
        filters=orjson.loads(row.filters),
        status=RunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        total=row.total,
        totals=totals,
        cost_usd=row.cost_usd,
        error=row.error,
    )


def _item_row(run_id: str, seq: int, outcome: ReplayOutcome) -> dict[str, Any]:
    keep = outcome.disagrees
    return {
        "run_id": run_id,
        "seq": seq,
        "transaction_id": outcome.transaction_id,
        "client_api": outcome.client_api,
        "model": outcome.model,
        "streaming": outcome.streaming,
        "received_at": outcome.received_at,
        "policy_then": outcome.policy_then,
        "skipped": outcome.skipped,
        "changed": outcome.changed,
        "disagrees": keep,
        "newly_blocked": orjson.dumps(list(outcome.newly_blocked)).decode(),
        "newly_allowed": orjson.dumps(list(outcome.newly_allowed)).decode(),
        "error": outcome.error,
        "judge_calls": outcome.judge_calls,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "events": orjson.dumps([[type, data] for type, data in outcome.events]).decode(),
        "recorded_response": outcome.recorded_response if keep else None,
        "replayed_response": outcome.replayed_response if keep else None,
    }


def _item_from_row(row: Any) -> ReplayItem:
    events: list[list[Any]] = orjson.loads(row.events)
    outcome = ReplayOutcome(
        transaction_id=row.transaction_id,
        client_api=row.client_api,
        model=row.model,
        streaming=row.streaming,
        received_at=row.received_at,
        policy_then=row.policy_then,
        skipped=row.skipped,
        changed=row.changed,
        newly_blocked=tuple(orjson.loads(row.newly_blocked)),
        newly_allowed=tuple(orjson.loads(row.newly_allowed)),
        error=row.error,
        recorded_response=row.recorded_response,
        replayed_response=row.replayed_response,
        events=tuple((str(type), dict(data)) for type, data in events),
        judge_calls=row.judge_calls,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
    )
    return ReplayItem(row.seq, outcome)


class SqlReplayStore:
    """Replay runs and items over the records engine."""

    def __init__(self, engine: AsyncEngine, prices: Prices | None = None) -> None:
        self._engine = engine
        self.prices = prices or Prices()

    async def count(self, filter: TransactionFilter, limit: int | None) -> int:
        """How many recorded calls `filter` selects (at most `limit`)."""
        statement = select(func.count()).select_from(transactions).where(*filter_conditions(filter))
        async with self._engine.connect() as conn:
            total = int((await conn.execute(statement)).scalar_one())
        return total if limit is None else min(total, limit)

    async def create_run(self, run_id: str, policy: str, filters: dict[str, Any], total: int | None) -> None:
        """Insert a run that starts now."""
        row = {
            "id": run_id,
            "policy": policy,
            "filters": orjson.dumps(filters).decode(),
            "status": RunStatus.RUNNING.value,
            "started_at": time.time(),
            "total": total,
            "cost_usd": 0.0,
            **{name: 0 for name in Totals.__dataclass_fields__},
        }
        async with writer_engine(self._engine).begin() as conn:
            await conn.execute(insert(replay_runs).values(row))

    async def add_items(
        self, run_id: str, items: Sequence[tuple[int, ReplayOutcome]], totals: Totals
    ) -> None:
        """Store finished items and the run's counters after them."""
        async with writer_engine(self._engine).begin() as conn:
            if items:
                await conn.execute(insert(replay_items), [_item_row(run_id, seq, o) for seq, o in items])
            await conn.execute(update(replay_runs).where(r.id == run_id).values(self._counters(totals)))

    def _counters(self, totals: Totals) -> dict[str, Any]:
        return {
            **{name: getattr(totals, name) for name in Totals.__dataclass_fields__},
            "cost_usd": self.prices.cost(totals.input_tokens, totals.output_tokens),
        }

    async def finish_run(self, run_id: str, totals: Totals, error: str | None = None) -> None:
        """Mark a run completed (or failed, with `error`)."""
        status = RunStatus.COMPLETED if error is None else RunStatus.FAILED
        values = {
            **self._counters(totals),
            "status": status.value,
            "finished_at": time.time(),
            "error": error,
        }
        async with writer_engine(self._engine).begin() as conn:
            await conn.execute(update(replay_runs).where(r.id == run_id).values(values))

    async def list_runs(self, limit: int = MAX_RUNS_LISTED) -> list[ReplayRun]:
        """The most recent runs, newest first."""
        statement = select(replay_runs).order_by(r.started_at.desc(), r.id).limit(limit)
        async with self._engine.connect() as conn:
            return [_run_from_row(row) for row in await conn.execute(statement)]

    async def get_run(self, run_id: str) -> ReplayRun | None:
        """One run, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(replay_runs).where(r.id == run_id))).first()
        return None if row is None else _run_from_row(row)

    async def items(self, run_id: str, disagreements_only: bool = False) -> list[ReplayItem]:
        """A run's items in record order (only those that disagree, when asked)."""
        statement = select(replay_items).where(i.run_id == run_id)
        if disagreements_only:
            statement = statement.where(i.disagrees.is_(True))
        async with self._engine.connect() as conn:
            rows = await conn.execute(statement.order_by(i.seq))
            return [_item_from_row(row) for row in rows]
