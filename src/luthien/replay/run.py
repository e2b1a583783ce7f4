"""One replay run, from its parameters to its stored result (shared by `luthien replay` and the server).

`ReplaySpec` holds what the user asked for: the policy, the filters as written (the admin API's
filter parameters, parsed by `luthien.admin.filters`, so a replay and a history page with the same
filters select the same calls), a limit and a concurrency. `run_replay` reads the selected records
oldest first, replays them (`luthien.replay.runner`), and stores the run and its items as they finish
(`luthien.replay.store`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from luthien.admin.filters import FILTER_PARAMS, parse_filter
from luthien.policy.base import Policy
from luthien.records.model import TransactionRecord
from luthien.records.query import InvalidQuery, RecordStore, TransactionFilter
from luthien.replay.runner import DEFAULT_CONCURRENCY, ReplayOutcome, replay_records
from luthien.replay.store import SqlReplayStore, Totals, new_run_id
from luthien.upstream.caller import ModelCaller

MAX_CONCURRENCY = 64
"""Most calls replayed at once (each may make judge calls)."""
FLUSH_ITEMS = 20
"""Finished items written to the database together (the run's progress moves in these steps)."""
REPLAY_FILTERS = FILTER_PARAMS - {"q"}
"""Filters a replay takes: those of `/api/transactions` except free text."""

Progress = Callable[[int, int | None], None]
"""Told (calls done, calls selected) after each call."""


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """What to replay, validated.

    Attributes:
        policy: the policy name.
        filters: the filters as given (parameter → value), stored with the run.
        filter: the same, parsed.
        limit: at most this many calls (oldest first), or None for all.
        concurrency: calls replayed at once.
    """

    policy: str
    filters: dict[str, str]
    filter: TransactionFilter
    limit: int | None = None
    concurrency: int = DEFAULT_CONCURRENCY

    def described(self) -> dict[str, Any]:
        """The filters and limit, as stored with the run."""
        return {**self.filters, **({"limit": self.limit} if self.limit is not None else {})}


def parse_spec(
    policy: str,
    filters: Mapping[str, str],
    limit: int | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ReplaySpec:
    """A validated spec.

    Raises:
        InvalidQuery: naming the field at fault (an unknown filter, a malformed time or status, a
            limit or concurrency out of range).
    """
    for name in filters:
        if name not in REPLAY_FILTERS:
            known = ", ".join(sorted(REPLAY_FILTERS))
            raise InvalidQuery(name, f"{name}: unknown filter (known: {known})")
    given = {name: value for name, value in filters.items() if value}
    parsed = parse_filter(QueryParams(list(given.items())))
    if limit is not None and limit < 1:
        raise InvalidQuery("limit", "limit: must be at least 1")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidQuery("concurrency", f"concurrency: must be between 1 and {MAX_CONCURRENCY}")
    return ReplaySpec(policy, given, parsed, limit, concurrency)


@dataclass(slots=True)
class ReplayResult:
    """A finished run: its id, its outcomes in record order, and its counters."""

    run_id: str
    outcomes: list[ReplayOutcome] = field(default_factory=list[ReplayOutcome])
    totals: Totals = field(default_factory=Totals)


def lean(outcome: ReplayOutcome) -> ReplayOutcome:
    """The outcome without its responses."""
    return dataclasses.replace(outcome, recorded_response=None, replayed_response=None)


async def _limited(
    records: AsyncIterator[TransactionRecord], limit: int | None
) -> AsyncIterator[TransactionRecord]:
    count = 0
    async for record in records:
        if limit is not None and count >= limit:
            return
        count += 1
        yield record


async def run_replay(
    spec: ReplaySpec,
    policy: Policy[Any],
    records: RecordStore,
    replays: SqlReplayStore,
    models: ModelCaller | None,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay what `spec` selects through `policy`, storing the run as it goes.

    The run row is created here unless the caller already created it under `run_id` (the server
    does, to answer with the id at once). A failure marks the run failed and is raised again.
    """
    if run_id is None:
        run_id = new_run_id()
        total = await replays.count(spec.filter, spec.limit)
        await replays.create_run(run_id, spec.policy, spec.described(), total)
    else:
        run = await replays.get_run(run_id)
        total = None if run is None else run.total
    result = ReplayResult(run_id)
    pending: list[tuple[int, ReplayOutcome]] = []

    async def finished(seq: int, outcome: ReplayOutcome) -> ReplayOutcome:
        result.totals.add(outcome)
        pending.append((seq, outcome))
        if progress is not None:
            progress(result.totals.done, total)
        if len(pending) >= FLUSH_ITEMS:
            batch = pending[:]
            pending.clear()
            await replays.add_items(run_id, batch, result.totals)
        # Only disagreements keep their responses: a long run's agreeing calls cost no memory.
        return outcome if outcome.disagrees else lean(outcome)

    try:
        selected = _limited(records.export(spec.filter), spec.limit)
        result.outcomes = await replay_records(
            policy, spec.policy, selected, models, spec.concurrency, finished
        )
        await replays.add_items(run_id, pending, result.totals)
    except BaseException as error:
        await replays.finish_run(run_id, result.totals, f"{type(error).__name__}: {error}")
        raise
    await replays.finish_run(run_id, result.totals)
    return result
