"""The workers' relay in one process: a real hub on a Unix socket, worker buses and counter storages.

What `luthien serve` with several workers shares without Redis (`luthien.events.relay_*`,
`luthien.ratelimit.relay_storage`); the processes themselves are tested in tests/e2e/test_workers.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from limits import parse
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from pydantic import ValidationError

from luthien.events.bus import POLICY_SWITCHED, TRANSACTION_COMPLETED, LiveEvent
from luthien.events.memory import MemoryEventBus
from luthien.events.relay_bus import RelayEventBus
from luthien.events.relay_hub import RelayHub
from luthien.events.relay_wire import (
    MAX_MESSAGE_BYTES,
    RELAY_ENV,
    RelayProtocolError,
    event_fields,
    event_from,
    frame,
    read_message,
)
from luthien.ratelimit.backend import LimiterBackend, Strategies
from luthien.ratelimit.relay_storage import RelayError, RelayStorage
from luthien.settings import Settings

GUARD_S = 10.0


@pytest_asyncio.fixture
async def hub(tmp_path: Path) -> AsyncIterator[RelayHub]:
    relay = RelayHub(str(tmp_path / "relay.sock"), retention=100)
    await relay.start()
    yield relay
    await relay.close()


class Lost:
    """An `on_lost` that counts instead of signalling the test process."""

    def __init__(self) -> None:
        self.calls = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.event.set()


async def worker_bus(hub: RelayHub, lost: Lost | None = None) -> RelayEventBus:
    bus = RelayEventBus(hub.path, retention=100, on_lost=lost or Lost())
    await bus.start()
    return bus


async def next_event(events: AsyncIterator[LiveEvent]) -> LiveEvent:
    return await asyncio.wait_for(anext(events), GUARD_S)


@pytest.mark.asyncio
async def test_an_event_published_by_one_worker_reaches_the_others_with_one_id(hub: RelayHub) -> None:
    first, second = await worker_bus(hub), await worker_bus(hub)
    watching_first, watching_second = first.subscribe(), second.subscribe()
    pending = [asyncio.ensure_future(next_event(w)) for w in (watching_first, watching_second)]
    await asyncio.sleep(0)

    first.publish(TRANSACTION_COMPLETED, "call-1", {"status": "ok"})

    on_first, on_second = await asyncio.gather(*pending)
    assert on_first == on_second
    assert (on_second.type, on_second.transaction_id, on_second.data) == (
        TRANSACTION_COMPLETED,
        "call-1",
        {"status": "ok"},
    )
    assert await first.position() == on_first.id == await hub.bus.position()
    assert first.healthy
    await first.close()
    await second.close()


@pytest.mark.asyncio
async def test_a_worker_starting_later_has_the_retained_events_and_the_last_switch(hub: RelayHub) -> None:
    early = await worker_bus(hub)
    assert await early.latest_control() is None
    watching = early.subscribe()
    first = asyncio.ensure_future(next_event(watching))
    await asyncio.sleep(0)
    early.publish(POLICY_SWITCHED, "", {"policy": "shout"})
    early.publish(TRANSACTION_COMPLETED, "call-1", {})
    await first
    await next_event(watching)  # both are in the hub's ring: they came back from it

    late = await worker_bus(hub)

    switch = await late.latest_control()
    assert switch is not None
    assert switch.data == {"policy": "shout"}
    replay = late.subscribe("0-0")
    assert [(await next_event(replay)).type for _ in range(2)] == [POLICY_SWITCHED, TRANSACTION_COMPLETED]
    control = late.subscribe_control("0-0")
    assert (await next_event(control)).type == POLICY_SWITCHED
    await early.close()
    await late.close()


@pytest.mark.asyncio
async def test_a_worker_whose_parent_goes_away_is_told_and_stops_publishing(hub: RelayHub) -> None:
    lost = Lost()
    bus = await worker_bus(hub, lost)

    await hub.close()

    await asyncio.wait_for(lost.event.wait(), GUARD_S)
    assert not bus.healthy
    bus.publish(TRANSACTION_COMPLETED, "call-1", {})
    assert bus.lost == 1
    await bus.close()
    assert lost.calls == 1


@pytest.mark.asyncio
async def test_closing_a_worker_bus_is_not_a_lost_parent(hub: RelayHub) -> None:
    lost = Lost()
    bus = await worker_bus(hub, lost)
    await bus.close()
    await asyncio.sleep(0.05)
    assert lost.calls == 0


@pytest.mark.asyncio
async def test_rate_limits_are_counted_once_over_two_storages(hub: RelayHub) -> None:
    first, second = RelayStorage(hub.path), RelayStorage(hub.path)
    item = parse("3/minute")
    windows = [MovingWindowRateLimiter(first), MovingWindowRateLimiter(second)]

    hits = [await windows[i % 2].hit(item, "client") for i in range(5)]

    assert hits == [True, True, True, False, False]
    stats = await windows[1].get_window_stats(item, "client")
    assert stats.remaining == 0
    daily = [FixedWindowRateLimiter(first), FixedWindowRateLimiter(second)]
    assert await daily[0].hit(parse("2/day"), "budget")
    assert await daily[1].hit(parse("2/day"), "budget")
    assert not await daily[0].test(parse("2/day"), "budget")
    key = parse("2/day").key_for("budget")
    assert await second.get(key) == 2
    assert await second.get_expiry(key) > 0
    await first.clear(key)
    assert await second.get(key) == 0
    assert await first.check()
    await first.reset()
    await first.close()
    await second.close()


@pytest.mark.asyncio
async def test_an_operation_the_hub_refuses_or_cannot_run_is_a_storage_error(hub: RelayHub) -> None:
    storage = RelayStorage(hub.path)
    with pytest.raises(RelayError):
        await storage._call("evict_everything")  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(StorageError):
        await storage.incr("key", "not a number")  # pyright: ignore[reportArgumentType]
    await storage.close()


@pytest.mark.asyncio
async def test_a_hub_that_breaks_the_protocol_fails_the_call_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def answer_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_message(reader)
        writer.write(struct.pack(">I", 3) + b"{no")
        await writer.drain()

    path = str(tmp_path / "broken.sock")
    server = await asyncio.start_unix_server(answer_garbage, path)
    storage = RelayStorage(path)
    caplog.set_level(logging.ERROR, logger="luthien.workers")

    with pytest.raises(StorageError):
        await storage.incr("key", 60)

    broke = [r for r in caplog.records if r.name == "luthien.workers" and r.levelno == logging.ERROR]
    assert len(broke) == 1
    assert broke[0].args == ("RelayProtocolError",)
    await storage.close()
    server.close()
    await server.wait_closed()


@pytest.mark.asyncio
async def test_without_the_hub_counts_fall_back_to_the_workers_memory(
    hub: RelayHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RELAY_ENV, hub.path)
    backend = LimiterBackend(None, "test")
    assert backend.configured == "workers"
    assert await backend.check()

    async def hit(strategies: Strategies) -> bool:
        return await strategies.window.hit(parse("1/minute"), "client")

    assert await backend.run(hit)
    await hub.close()
    assert not await backend.check()
    assert await backend.run(hit)  # counted in this process's memory, which had no hit yet
    await backend.close()


@pytest.mark.asyncio
async def test_the_hub_closes_a_connection_that_breaks_the_protocol(hub: RelayHub) -> None:
    reader, writer = await asyncio.open_unix_connection(hub.path)
    writer.write(frame({"op": "subscribe"}))
    assert await read_message(reader) == {"op": "synced"}
    writer.write(frame({"op": "shutdown"}))
    assert await asyncio.wait_for(read_message(reader), GUARD_S) is None
    writer.close()


async def read_bytes(data: bytes) -> dict[str, object] | None:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await read_message(reader)


@pytest.mark.asyncio
async def test_frames_that_are_not_relay_messages_are_refused() -> None:
    assert await read_bytes(b"") is None
    with pytest.raises(asyncio.IncompleteReadError):
        await read_bytes(b"\x00\x00")
    with pytest.raises(RelayProtocolError):
        await read_bytes(struct.pack(">I", MAX_MESSAGE_BYTES + 1))
    with pytest.raises(RelayProtocolError):
        await read_bytes(struct.pack(">I", 3) + b"{no")
    with pytest.raises(RelayProtocolError):
        await read_bytes(struct.pack(">I", 2) + b"[]")
    assert await read_bytes(frame({"op": "synced"})) == {"op": "synced"}


def test_events_cross_the_relay_unchanged_and_malformed_ones_are_refused() -> None:
    event = LiveEvent("5-1", TRANSACTION_COMPLETED, "call", {"status": "ok"}, 1.5)
    assert event_from(event_fields(event)) == event
    with pytest.raises(RelayProtocolError):
        event_from({"id": "5-1"})


@pytest.mark.asyncio
async def test_a_mirror_ignores_an_event_without_an_event_id() -> None:
    bus = MemoryEventBus()
    bus.deliver(LiveEvent("not-an-id", TRANSACTION_COMPLETED, "call", {}, 1.0))
    assert await bus.position() == "0-0"
    bus.deliver(LiveEvent("7-2", TRANSACTION_COMPLETED, "call", {}, 1.0))
    assert await bus.position() == "7-2"


def test_workers_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().worker_count == 1
    assert Settings(workers="auto").worker_count == (os.cpu_count() or 1)
    assert Settings(workers=3).worker_count == 3
    with pytest.raises(ValidationError):
        Settings(workers=0)
