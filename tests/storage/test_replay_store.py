"""Replay runs stored on SQLite and PostgreSQL: progress in batches, totals, disagreements, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from luthien.gateway.selection import PolicySelector
from luthien.records.model import TransactionRecord, TransactionStatus
from luthien.replay.run import FLUSH_ITEMS, parse_spec, run_replay
from luthien.replay.service import ReplayService
from luthien.replay.store import Prices, RunStatus, SqlReplayStore
from luthien.storage.queries import SqlRecordStore
from luthien.testing.run import load_policy
from tests.storage.records import anthropic_response, make_record, write_records

RECORDS = FLUSH_ITEMS + 5
"""More than one batch of items."""


class DiskGone(Exception):
    """What the broken record store raises."""


def _records() -> list[TransactionRecord]:
    """Every third call runs `rm -rf /`; one has no response; all were served by noop."""
    records: list[TransactionRecord] = []
    for index in range(RECORDS):
        command = "rm -rf /" if index % 3 == 0 else "ls"
        response = anthropic_response(f"answer {index}", tool="Bash", arguments={"command": command})
        records.append(
            make_record(
                index,
                streaming=index % 2 == 0,
                original_response=None if index == 1 else response,
                status=TransactionStatus.ERROR if index == 1 else TransactionStatus.OK,
                events=(),
            )
        )
    return records


@pytest.mark.asyncio
async def test_a_run_stores_its_items_totals_and_disagreements(engine: AsyncEngine) -> None:
    records = _records()
    await write_records(engine, records)
    replays = SqlReplayStore(engine, Prices(3.0, 15.0))
    spec = parse_spec("commands", {"model": "claude-test"}, limit=RECORDS, concurrency=3)
    seen: list[tuple[int, int | None]] = []

    result = await run_replay(
        spec,
        load_policy("block_commands", name="commands"),
        SqlRecordStore(engine),
        replays,
        None,
        progress=lambda done, total: seen.append((done, total)),
    )

    dangerous = [r for i, r in enumerate(records) if i % 3 == 0 and i != 1]
    run = await replays.get_run(result.run_id)
    assert run is not None
    assert run.status is RunStatus.COMPLETED
    assert run.total == RECORDS
    assert run.filters == {"model": "claude-test", "limit": RECORDS}
    assert run.totals.done == RECORDS
    assert run.totals.skipped == 1
    assert run.totals.newly_blocked == run.totals.changed == len(dangerous)
    assert (run.totals.newly_allowed, run.totals.errors, run.cost_usd) == (0, 0, 0.0)
    assert seen[-1] == (RECORDS, RECORDS)
    assert [done for done, _ in seen] == list(range(1, RECORDS + 1))

    everything = await replays.items(result.run_id)
    assert [item.seq for item in everything] == list(range(RECORDS))
    assert [item.outcome.transaction_id for item in everything] == [r.transaction_id for r in records]
    assert everything[1].outcome.skipped == "no response was recorded"
    disagreements = await replays.items(result.run_id, disagreements_only=True)
    assert [item.outcome.transaction_id for item in disagreements] == [r.transaction_id for r in dangerous]
    for item in disagreements:
        assert item.outcome.newly_blocked == ("Bash#toolu_1",)
        assert item.outcome.recorded_response is not None
        replayed = orjson.loads(item.outcome.replayed_response or b"{}")
        assert [block["type"] for block in replayed["content"]] == ["text", "text"]
        blocked = [data for type, data in item.outcome.events if type == "policy.blocked"]
        assert [data["tool_call_id"] for data in blocked] == ["toolu_1"]
    agreeing = [item for item in everything if not item.outcome.disagrees]
    assert all(item.outcome.replayed_response is None for item in agreeing)
    assert [r.id for r in await replays.list_runs()] == [result.run_id]
    assert await replays.get_run("nope") is None


@pytest.mark.asyncio
async def test_a_run_that_fails_is_stored_as_failed(engine: AsyncEngine) -> None:
    await write_records(engine, _records()[:3])
    replays = SqlReplayStore(engine)

    class Broken(SqlRecordStore):
        async def export(self, filter: Any) -> AsyncIterator[TransactionRecord]:  # type: ignore[override]
            async for record in super().export(filter):
                yield record
                raise DiskGone("the disk went away")

    spec = parse_spec("commands", {})
    with pytest.raises(DiskGone):
        await run_replay(spec, load_policy("block_commands"), Broken(engine), replays, None)

    (run,) = await replays.list_runs()
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(DiskGone.__name__)
    assert run.finished_at is not None


@pytest.mark.asyncio
async def test_the_service_cancels_runs_still_going_when_the_server_stops(engine: AsyncEngine) -> None:
    await write_records(engine, _records()[:2])
    replays = SqlReplayStore(engine)
    started = asyncio.Event()

    class Slow(SqlRecordStore):
        async def export(self, filter: Any) -> AsyncIterator[TransactionRecord]:  # type: ignore[override]
            started.set()
            await asyncio.Event().wait()  # never set: the run waits until it is cancelled
            async for record in super().export(filter):
                yield record

    policy = load_policy("block_commands", name="commands")
    service = ReplayService(
        replays, Slow(engine), PolicySelector({"commands": policy}, "commands", False), None
    )
    async with service.running():
        run_id = await service.start(parse_spec("commands", {}))
        await started.wait()

    run = await replays.get_run(run_id)
    assert run is not None
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(asyncio.CancelledError.__name__)


@pytest.mark.asyncio
async def test_a_finished_server_run_is_completed(engine: AsyncEngine) -> None:
    await write_records(engine, _records()[:4])
    replays = SqlReplayStore(engine)
    policy = load_policy("block_commands", name="commands")
    service = ReplayService(
        replays, SqlRecordStore(engine), PolicySelector({"commands": policy}, "commands", False), None
    )

    run_id = await service.start(parse_spec("commands", {}, limit=2))
    await service.wait()

    run = await replays.get_run(run_id)
    assert run is not None
    assert (run.status, run.total, run.totals.done) == (RunStatus.COMPLETED, 2, 2)
    assert run.filters == {"limit": 2}
