"""Both live event buses, for real: the in-process one and Redis Streams (127.0.0.1:6379).

Each Redis test uses a stream key of its own, deleted afterwards. Shared behaviour: fan-out to every
subscriber, resuming after a last event id, bounded retention (a resume from before it is told of
the gap), a slow subscriber that loses events is told and never holds up publishers. Redis only:
two bus instances on one stream see each other's events (two replicas); an unreachable Redis never
blocks or fails a publisher.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import redis

from luthien.events.bus import (
    DROPPED_RETENTION,
    DROPPED_SLOW_SUBSCRIBER,
    EVENTS_DROPPED,
    POLICY_SWITCHED,
    EventBus,
    LiveEvent,
    parse_event_id,
)
from luthien.events.factory import open_bus
from luthien.events.memory import MemoryEventBus
from luthien.events.redis import BATCH as REDIS_WRITE_BATCH
from luthien.events.redis import CONTROL_SUFFIX, RedisEventBus
from luthien.settings import Settings
from tests.support.ports import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
GUARD_S = 30.0
"""Deadlock guard; never reached when the code under test works."""
PING = "test.ping"
MARKER = "test.marker"
PING_EVERY_S = 0.02
"""How often `live` re-publishes its ping while waiting for a subscription to go live."""

BusFactory = Callable[..., EventBus]


@pytest.fixture
def stream_key() -> Iterator[str]:
    key = f"luthien-test:bus:{uuid.uuid4()}"
    yield key
    with redis.Redis.from_url(REDIS_URL) as client:
        client.delete(key, key + CONTROL_SUFFIX)


@pytest_asyncio.fixture
async def make_bus(request: pytest.FixtureRequest, stream_key: str) -> AsyncIterator[BusFactory]:
    """Make buses of the parametrized kind (all Redis ones on this test's stream); closed afterwards."""
    kind: str = request.param
    buses: list[EventBus] = []

    def make(**options: Any) -> EventBus:
        bus: EventBus
        if kind == "memory":
            bus = MemoryEventBus(**options)
        else:
            bus = RedisEventBus(REDIS_URL, stream_key=stream_key, **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.close()


BOTH = pytest.mark.parametrize("make_bus", ["memory", "redis"], indirect=True)
REDIS_ONLY = pytest.mark.parametrize("make_bus", ["redis"], indirect=True)


async def started(bus: EventBus) -> EventBus:
    await bus.start()
    return bus


async def live(bus: EventBus, last_event_id: str | None = None) -> AsyncIterator[LiveEvent]:
    """A subscription from now that is known to be receiving: pings are published until one arrives."""
    subscription = bus.subscribe(last_event_id)
    first = asyncio.ensure_future(anext(subscription))
    while not first.done():
        bus.publish(PING, "", {})
        await asyncio.wait({first}, timeout=PING_EVERY_S)
    assert first.result().type == PING
    return subscription


async def take(
    subscription: AsyncIterator[LiveEvent], count: int, skip_pings: bool = True
) -> list[LiveEvent]:
    """The next `count` events (pings left out)."""

    async def collect() -> list[LiveEvent]:
        events: list[LiveEvent] = []
        async for event in subscription:
            if skip_pings and event.type == PING:
                continue
            events.append(event)
            if len(events) == count:
                break
        return events

    return await asyncio.wait_for(collect(), GUARD_S)


async def until_marker(subscription: AsyncIterator[LiveEvent]) -> list[LiveEvent]:
    """Events up to and including the next `MARKER` (pings left out)."""

    async def collect() -> list[LiveEvent]:
        events: list[LiveEvent] = []
        async for event in subscription:
            if event.type != PING:
                events.append(event)
            if event.type == MARKER:
                break
        return events

    return await asyncio.wait_for(collect(), GUARD_S)


def publish_numbered(bus: EventBus, count: int, start: int = 0) -> None:
    for number in range(start, start + count):
        bus.publish("test.event", f"tx-{number}", {"n": number})


def numbers(events: list[LiveEvent]) -> list[int]:
    return [event.data["n"] for event in events]


@BOTH
@pytest.mark.asyncio
async def test_every_subscriber_gets_every_event_in_order(make_bus: BusFactory) -> None:
    bus = await started(make_bus())
    first, second = await live(bus), await live(bus)

    publish_numbered(bus, 20)

    one, two = await take(first, 20), await take(second, 20)
    assert numbers(one) == numbers(two) == list(range(20))
    assert [event.transaction_id for event in one] == [f"tx-{n}" for n in range(20)]
    ids = [parse_event_id(event.id) for event in one]
    assert None not in ids
    assert ids == sorted(ids)
    assert len(set(ids)) == 20


@BOTH
@pytest.mark.asyncio
async def test_a_burst_larger_than_a_write_batch_arrives_whole(make_bus: BusFactory) -> None:
    # Published in one go while the Redis writer waits on an empty queue: it wakes with one event
    # in hand and more than a batch queued behind it (a burst of calls ending together).
    bus = await started(make_bus())
    feed = await live(bus)
    burst = 2 * REDIS_WRITE_BATCH + 1

    publish_numbered(bus, burst)

    assert numbers(await take(feed, burst)) == list(range(burst))


@BOTH
@pytest.mark.asyncio
async def test_a_subscriber_resumes_after_its_last_event_id(make_bus: BusFactory) -> None:
    bus = await started(make_bus())
    watcher = await live(bus)
    publish_numbered(bus, 10)
    seen = await take(watcher, 10)

    resumed = bus.subscribe(last_event_id=seen[3].id)
    replay = await take(resumed, 6)
    publish_numbered(bus, 2, start=10)
    after = await take(resumed, 2)

    assert numbers(replay) == list(range(4, 10))
    assert numbers(after) == [10, 11]


@BOTH
@pytest.mark.asyncio
async def test_retention_is_bounded_and_an_older_resume_is_told(make_bus: BusFactory) -> None:
    retention = 10
    total = 600
    bus = await started(make_bus(retention=retention))
    watcher = await live(bus)
    publish_numbered(bus, 1)
    (early,) = await take(watcher, 1)
    publish_numbered(bus, total - 1, start=1)

    bus.publish(MARKER, "", {})
    await until_marker(watcher)  # everything is published (and, in Redis, trimmed)
    resumed = bus.subscribe(last_event_id=early.id)
    gap, *kept_events, marker = await until_marker(resumed)

    assert gap.type == EVENTS_DROPPED
    assert gap.data["reason"] == DROPPED_RETENTION
    assert marker.type == MARKER
    # What is retained is the newest events (the marker among them), far fewer than were published.
    kept = numbers(kept_events)
    assert kept == list(range(total - len(kept), total))
    assert retention - 1 <= len(kept) < total // 2


@BOTH
@pytest.mark.asyncio
async def test_resuming_from_a_malformed_id_replays_nothing(make_bus: BusFactory) -> None:
    bus = await started(make_bus())
    publish_numbered(bus, 3)

    subscription = await live(bus, last_event_id="not-an-id")  # its first event is a ping, not a replay
    publish_numbered(bus, 1, start=3)

    assert numbers(await take(subscription, 1)) == [3]


@pytest.mark.asyncio
async def test_a_slow_subscriber_is_told_what_it_lost_and_publishers_never_wait() -> None:
    bus = MemoryEventBus(subscriber_queue=3)
    slow, fast = bus.subscribe(), bus.subscribe()
    everything: list[LiveEvent] = []

    async def read_fast() -> None:
        async for event in fast:
            everything.append(event)
            if len(everything) == 10:
                return

    slow_first = asyncio.ensure_future(anext(slow))
    fast_reader = asyncio.ensure_future(read_fast())
    await asyncio.sleep(0)  # both subscriptions start and wait for events

    for number in range(10):
        publish_numbered(bus, 1, start=number)  # returns at once: nothing waits for the slow subscriber
        await asyncio.sleep(0)  # the fast reader keeps up; the slow one takes its first event only
    await asyncio.wait_for(fast_reader, GUARD_S)
    kept = [await slow_first, *await take(slow, 4, skip_pings=False)]
    publish_numbered(bus, 1, start=10)
    after = await take(slow, 1)

    assert numbers(everything) == list(range(10))
    assert numbers(kept[:4]) == [0, 1, 2, 3]  # the first, then what its queue held
    gap = kept[4]
    assert gap.type == EVENTS_DROPPED
    assert gap.data == {"reason": DROPPED_SLOW_SUBSCRIBER, "dropped": 6}
    assert gap.id == kept[3].id  # resuming from it would replay what was lost, while retained
    assert numbers(after) == [10]
    assert bus.dropped == 6


@REDIS_ONLY
@pytest.mark.asyncio
async def test_a_redis_subscriber_that_falls_behind_the_retention_is_told(make_bus: BusFactory) -> None:
    bus = await started(make_bus(retention=10))
    slow = await live(bus)

    publish_numbered(bus, 600)
    events = await take(slow, 2, skip_pings=False)

    assert events[0].type == EVENTS_DROPPED
    assert events[0].data["reason"] == DROPPED_RETENTION
    assert events[1].type == "test.event"
    assert events[1].data["n"] > 0


@REDIS_ONLY
@pytest.mark.asyncio
async def test_two_replicas_see_each_others_events(make_bus: BusFactory) -> None:
    replica_a, replica_b = await started(make_bus()), await started(make_bus())
    watch_a, watch_b = await live(replica_a), await live(replica_b)

    replica_a.publish("test.event", "from-a", {"n": 1})
    replica_b.publish("test.event", "from-b", {"n": 2})

    seen_by_a, seen_by_b = await take(watch_a, 2), await take(watch_b, 2)
    assert sorted(event.transaction_id for event in seen_by_a) == ["from-a", "from-b"]
    assert [event.id for event in seen_by_a] == [event.id for event in seen_by_b]
    assert replica_a.healthy
    assert replica_b.healthy


@pytest.mark.asyncio
async def test_an_unreachable_redis_never_blocks_or_fails_a_publisher() -> None:
    bus = RedisEventBus(f"redis://127.0.0.1:{free_port()}/0", queue_size=100)
    await bus.start()

    for number in range(1_000):
        bus.publish("test.event", f"tx-{number}", {"n": number})
    bus.publish("test.event", "tx-bad", {"not json": object()})

    assert bus.healthy is False
    assert bus.dropped >= 1_000 - 100
    await asyncio.wait_for(bus.close(), GUARD_S)
    assert bus.dropped == 1_001


def test_open_bus_chooses_by_the_redis_url() -> None:
    memory_bus = open_bus(Settings())
    assert isinstance(memory_bus, MemoryEventBus)
    assert memory_bus.backend == "memory"
    redis_bus = open_bus(Settings(redis_url=REDIS_URL, events_stream_key="k", events_retention=5))
    assert isinstance(redis_bus, RedisEventBus)
    assert redis_bus.stream_key == "k"
    assert redis_bus.backend == "redis"


class TcpRelay:
    """A TCP relay to Redis that a test can take down (connections cut, new ones refused) and bring back."""

    def __init__(self, target_port: int = 6379) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.update((client_writer, redis_writer))
        await asyncio.gather(self._pipe(client_reader, redis_writer), self._pipe(redis_reader, client_writer))

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()


async def until(
    condition: Callable[[], bool], bus: EventBus, publish: Callable[[], None] | None = None
) -> None:
    """Publish (a ping by default) until `condition` holds: the bus notices outages by its traffic."""

    async def poll() -> None:
        while not condition():
            if publish is None:
                bus.publish(PING, "", {})
            else:
                publish()
            await asyncio.sleep(PING_EVERY_S)

    await asyncio.wait_for(poll(), GUARD_S)


@pytest.mark.asyncio
async def test_publishing_and_subscribing_survive_a_redis_outage(stream_key: str) -> None:
    relay = TcpRelay()
    await relay.up()
    bus = RedisEventBus(f"redis://127.0.0.1:{relay.port}/0", stream_key=stream_key)
    await bus.start()
    try:
        subscription = await live(bus)
        publish_numbered(bus, 1)
        assert numbers(await take(subscription, 1)) == [0]

        await relay.down()
        await until(lambda: not bus.healthy, bus)
        dropped_while_down = bus.dropped
        reader = asyncio.ensure_future(take(subscription, 1))
        await relay.up()
        await until(lambda: bus.healthy, bus)
        # Events published after the outage reach the subscriber, which came back on its own.
        await until(reader.done, bus, publish=lambda: publish_numbered(bus, 1, start=1))

        assert dropped_while_down >= 1
        assert numbers(reader.result()) == [1]
    finally:
        await bus.close()
        await relay.down()


@BOTH
@pytest.mark.asyncio
async def test_a_control_subscription_gets_policy_switches_only_and_the_feed_gets_them_too(
    make_bus: BusFactory,
) -> None:
    bus = await started(make_bus())
    feed = await live(bus)
    control = bus.subscribe_control()
    first = asyncio.ensure_future(anext(control))
    # Until the control subscription is live, switches to a throw-away name are repeated.
    while not first.done():
        bus.publish(POLICY_SWITCHED, "", {"policy": "warm-up"})
        await asyncio.wait({first}, timeout=PING_EVERY_S)
    assert first.result().type == POLICY_SWITCHED

    publish_numbered(bus, 3)
    bus.publish(POLICY_SWITCHED, "", {"policy": "judge", "by": "admin-key"})
    bus.publish(MARKER, "", {})

    switch = await asyncio.wait_for(_next_switch_to(control, "judge"), GUARD_S)
    assert switch.data == {"policy": "judge", "by": "admin-key"}
    on_feed = await until_marker(feed)
    assert [event.type for event in on_feed if event.data.get("policy") != "warm-up"] == [
        "test.event",
        "test.event",
        "test.event",
        POLICY_SWITCHED,
        MARKER,
    ]


async def _next_switch_to(subscription: AsyncIterator[LiveEvent], policy: str) -> LiveEvent:
    async for event in subscription:
        # Nothing but switches ever reaches a control subscription.
        assert event.type == POLICY_SWITCHED
        if event.data["policy"] == policy:
            return event
    raise AssertionError("the control subscription ended")


@REDIS_ONLY
@pytest.mark.asyncio
async def test_control_events_have_a_redis_stream_of_their_own(make_bus: BusFactory, stream_key: str) -> None:
    bus = await started(make_bus())
    publish_numbered(bus, 5)
    bus.publish(POLICY_SWITCHED, "", {"policy": "judge"})
    await bus.close()

    with redis.Redis.from_url(REDIS_URL) as client:
        control = client.xrange(stream_key + CONTROL_SUFFIX)
        assert [fields[b"type"] for _, fields in control] == [POLICY_SWITCHED.encode()]
        assert client.xlen(stream_key) == 6


@BOTH
@pytest.mark.asyncio
async def test_a_subscription_from_the_position_gets_what_was_published_before_it_started_reading(
    make_bus: BusFactory,
) -> None:
    bus = await started(make_bus())
    feed = await live(bus)
    publish_numbered(bus, 2)
    assert numbers(await take(feed, 2)) == [0, 1]  # stored: the position is after them

    position = await bus.position()
    publish_numbered(bus, 3, start=2)  # after the position, before the subscription reads anything
    subscription = bus.subscribe(position)

    assert numbers(await take(subscription, 3)) == [2, 3, 4]
    # A subscription from "now" instead would start after them: the monitor's stream asks for the
    # position before its client hears anything, so nothing published after that is lost.


@pytest.mark.asyncio
async def test_the_position_is_unknown_while_redis_is_unreachable() -> None:
    bus = RedisEventBus(f"redis://127.0.0.1:{free_port()}/0", stream_key=f"luthien-test:{uuid.uuid4()}")
    await bus.start()
    try:
        assert await bus.position() is None
    finally:
        await bus.close()


@BOTH
@pytest.mark.asyncio
async def test_the_latest_control_event_is_the_last_switch_published(make_bus: BusFactory) -> None:
    bus = await started(make_bus())
    assert await bus.latest_control() is None
    control = bus.subscribe_control("0-0")

    bus.publish(POLICY_SWITCHED, "", {"policy": "first"})
    publish_numbered(bus, 2)
    bus.publish(POLICY_SWITCHED, "", {"policy": "second"})
    publish_numbered(bus, 2)
    # Following from the start sees both switches; once it has, the second is the latest.
    await asyncio.wait_for(_next_switch_to(control, "second"), GUARD_S)

    latest = await bus.latest_control()
    assert latest is not None
    assert (latest.type, latest.data) == (POLICY_SWITCHED, {"policy": "second"})
    bus.publish(POLICY_SWITCHED, "", {"policy": "third"})
    after = await asyncio.wait_for(anext(bus.subscribe_control(latest.id)), GUARD_S)
    assert after.data == {"policy": "third"}
