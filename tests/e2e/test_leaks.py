"""Nothing a call leaves behind accumulates: objects, tasks and connections are counted, never timed.

A real in-process server (its event loop runs in a thread of this process, so its objects are this
process's) serves every kind of call: non-streaming and streaming, with `noop` and with `all_caps`
(a policy that decodes and re-encodes every event), and a stream the client abandons half-way. After a
warm-up (pools filled, caches and bounded rings at their steady size), `CALLS` more calls of each kind
must not leave as many as one object per call of any of our classes (a leak of one per call would add
`CALLS` or more), nor any more asyncio tasks or open sockets than after the warm-up. A server cleans
up after a call asynchronously (the record writer, an abandoned stream), so counts are polled until
they settle, with a deadlock guard.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider
from tests.support.servers import LuthienServer

CONFIG = LuthienConfig.model_validate(
    {"policies": {"caps": {"class": "all_caps"}, "plain": {"class": "noop"}}, "policy": "plain"}
)
WARMUP = 30
"""Calls of each kind before counting: enough to fill the pools and every bounded ring below."""
CALLS = 40
"""Calls of each kind after the baseline; a per-call leak of any type adds at least this many."""
RETENTION = 10
"""Live events retained (the ring is full after the warm-up)."""
GUARD_S = 60.0
POLL_S = 0.05
HEADERS = {"x-api-key": "sk-client", "anthropic-version": "2023-06-01"}


def body(stream: bool) -> dict[str, object]:
    return {
        "model": "claude-test",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    }


def call(client: httpx.Client, base_url: str, stream: bool, policy: str) -> None:
    response = client.post(
        f"{base_url}/v1/messages", json=body(stream), headers={**HEADERS, "x-luthien-policy": policy}
    )
    assert response.status_code == 200, response.text


def abandon(base_url: str) -> None:
    """Start a stream, read its first bytes, and close the connection."""
    with (
        httpx.Client(timeout=GUARD_S) as client,
        client.stream(
            "POST",
            f"{base_url}/v1/messages",
            json=body(True),
            headers={**HEADERS, "x-luthien-policy": "caps"},
        ) as response,
    ):
        assert response.status_code == 200
        next(response.iter_raw())


def every_kind(server: LuthienServer, client: httpx.Client, count: int) -> None:
    for _ in range(count):
        for stream in (False, True):
            for policy in ("plain", "caps"):
                call(client, server.base_url, stream, policy)
        abandon(server.base_url)


def our_objects() -> Counter[str]:
    """Live objects of Luthien's classes (the test kit's own excluded), by class."""
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        module = type(obj).__dict__.get("__module__")
        if (
            isinstance(module, str)
            and module.startswith("luthien.")
            and not module.startswith("luthien.testing")
        ):
            counts[f"{module}.{type(obj).__qualname__}"] += 1
    return counts


def open_sockets() -> int:
    """Sockets this process holds open (the server's and the test's)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue
    return count


def server_tasks(server: LuthienServer) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return server.run(count(), GUARD_S)


def settle(measure: Callable[[], bool]) -> None:
    """Poll until `measure()` holds (cleanup after a call is asynchronous); deadlock guard only."""
    deadline = time.monotonic() + GUARD_S
    while not measure():
        assert time.monotonic() < deadline, "counts never came back down"
        time.sleep(POLL_S)


@pytest.mark.timeout(300)
def test_calls_of_every_kind_leave_no_objects_tasks_or_connections_behind(
    make_luthien: LuthienFactory, fake: FakeProvider, tmp_path: Path
) -> None:
    server = make_luthien(config=CONFIG, allow_policy_header=True, events_retention=RETENTION)
    with httpx.Client(timeout=GUARD_S) as client:
        every_kind(server, client, WARMUP)
        fake.reset()
        baseline_objects = our_objects()
        assert baseline_objects["luthien.gateway.state.GatewayState"] >= 1  # the server's objects are seen
        baseline_tasks = server_tasks(server)
        baseline_sockets = open_sockets()

        every_kind(server, client, CALLS)
        fake.reset()

        settle(lambda: server_tasks(server) <= baseline_tasks and open_sockets() <= baseline_sockets)
        grown: dict[str, int] = {}

        def no_type_grew_per_call() -> bool:
            grown.clear()
            after = our_objects()
            grown.update(
                {
                    name: after[name] - baseline_objects[name]
                    for name in after
                    if after[name] - baseline_objects[name] >= CALLS
                }
            )
            return not grown

        try:
            settle(no_type_grew_per_call)
        except AssertionError:
            pytest.fail(f"objects that grew by one or more per call: {grown}")
