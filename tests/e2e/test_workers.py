"""`luthien serve` with `LUTHIEN_WORKERS=2` and no Redis: one port, two processes, one server.

A real `luthien serve` process (the parent) and its two workers. Every call is made on a new
connection, so the kernel spreads the calls over the workers (`SO_REUSEPORT`); the
`x-luthien-worker` header says which one answered. The workers share the activity monitor, the
policy switch and the rate-limit counters through the parent's hub; what crosses processes arrives
asynchronously, so tests repeat a harmless action until it has (a cadence, not a threshold).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.fake_provider import (
    FakeProvider,
    Gate,
    JSONReply,
    StreamReply,
    anthropic_message,
    anthropic_stream,
)
from tests.support.admin_client import anthropic_call, transaction_id
from tests.support.polling import wait_until
from tests.support.serve_process import (
    GUARD_S,
    LUTHIEN,
    POLL_S,
    ServeProcess,
    clean_env,
    refuses_connections,
)
from tests.support.sse_reader import Frame, SSEReader

WORKER_HEADER = "x-luthien-worker"
BOTH = {"0", "1"}
ADMIN_KEY = "workers-admin-key"
AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}
CONFIG = """\
policies:
  shout: {class: all_caps}
  whisper: {class: noop}
policy: whisper
"""
RATE_LIMIT = 6
"""Calls per minute a client may make, across both workers."""
PIDS = re.compile(r"2 workers serving on .* \(pids (\d+), (\d+)\)")


class Workers:
    """A `luthien serve` parent process and the pids of its two workers."""

    def __init__(self, process: ServeProcess) -> None:
        self.process = process
        self.base_url = process.base_url
        self.pids = self._wait_for_pids()

    def _wait_for_pids(self) -> tuple[int, int]:
        deadline = time.monotonic() + GUARD_S
        while not (match := PIDS.search(self.process.log())):
            assert time.monotonic() < deadline, f"the workers never all started: {self.process.log()}"
            time.sleep(POLL_S)
        return int(match.group(1)), int(match.group(2))

    def stop(self) -> None:
        """Kill the parent and both workers if they still run (test cleanup)."""
        self.process.stop()
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def workers_factory(fake: FakeProvider, tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    """Starts servers with two workers; stops them all at the end."""
    started: list[Workers] = []
    config = tmp_path / "luthien.yaml"
    config.write_text(CONFIG)

    def start(**extra: str) -> Workers:
        settings = {
            "LUTHIEN_WORKERS": "2",
            "LUTHIEN_ANTHROPIC_BASE_URL": fake.base_url,
            "LUTHIEN_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}",
            "LUTHIEN_CONFIG": str(config),
            "LUTHIEN_ADMIN_KEY": ADMIN_KEY,
            "LUTHIEN_ACTIVITY_KEEPALIVE_S": "0.05",
            "LUTHIEN_LOG_LEVEL": "info",
            **extra,
        }
        process = ServeProcess(settings, tmp_path, name="workers")
        try:
            workers = Workers(process.start())
        except AssertionError:
            process.stop()  # SIGKILL: workers that started stop when their parent's hub closes
            raise
        started.append(workers)
        return workers

    yield start
    for workers in started:
        workers.stop()


@pytest.fixture
def start_workers(fake: FakeProvider, tmp_path: Path) -> Iterator[Callable[..., Workers]]:
    """A server of its own for a test that changes or stops it."""
    yield from workers_factory(fake, tmp_path)


@pytest.fixture(scope="module")
def shared(luthien_fake_session: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """One server for the tests that only make calls (starting three processes is slow)."""
    factory = workers_factory(luthien_fake_session, tmp_path_factory.mktemp("workers"))
    yield next(factory)()
    next(factory, None)


def calls_total(base_url: str) -> float:
    """The sum of `luthien_calls_total` in a `/metrics` scrape."""
    text = httpx.get(f"{base_url}/metrics", headers=AUTH).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("luthien_calls_total{")
    )


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_calls_spread_over_both_workers_and_metrics_count_all_of_them(shared: Workers) -> None:
    workers = shared
    before = calls_total(workers.base_url)
    served: list[str] = []

    wait_until(
        lambda: set(served) == BOTH,
        lambda: served.append(anthropic_call(workers.base_url).headers[WORKER_HEADER]),
        guard_s=GUARD_S,
        poll_s=POLL_S,
    )

    # Each scrape lands on one worker; every one reports the calls of both (the recorder counts a
    # call just after its answer is sent, so the last ones may still be on their way).
    wait_until(lambda: calls_total(workers.base_url) == before + len(served), guard_s=GUARD_S, poll_s=POLL_S)
    assert {httpx.get(f"{workers.base_url}/health").headers[WORKER_HEADER] for _ in range(40)} == BOTH
    assert len(set(workers.pids)) == 2


def test_ready_names_the_workers_relay_as_the_events_backend(shared: Workers) -> None:
    answers = [httpx.get(f"{shared.base_url}/ready") for _ in range(40)]

    assert {answer.headers[WORKER_HEADER] for answer in answers} == BOTH
    assert {answer.json()["checks"]["events"]["backend"] for answer in answers} == {"workers"}


def test_a_monitor_on_one_worker_sees_the_calls_of_both(shared: Workers, fake: FakeProvider) -> None:
    workers = shared
    monitor = SSEReader(f"{workers.base_url}/api/activity/stream", AUTH).start()
    worker_of: dict[str, str] = {}
    seen: list[Frame] = []

    def probe() -> None:
        answer = anthropic_call(workers.base_url, "watched")
        worker_of[transaction_id(answer)] = answer.headers[WORKER_HEADER]

    def both_seen() -> bool:
        try:
            while True:
                seen.append(monitor.frames.get_nowait())
        except queue.Empty:
            pass
        completed = {f.data["transaction_id"] for f in seen if f.event == "transaction.completed"}
        return {worker_of[t] for t in completed if t in worker_of} == BOTH

    wait_until(both_seen, probe, guard_s=GUARD_S, poll_s=POLL_S)
    monitor.stop()
    ids = [f.id for f in seen if f.id]
    assert len(ids) == len(set(ids)), "an event reached the monitor twice"


def test_a_policy_switch_through_the_api_applies_on_both_workers(shared: Workers, fake: FakeProvider) -> None:
    workers = shared
    fake.respond_with(lambda _: JSONReply(anthropic_message("quiet words")))
    response = httpx.put(f"{workers.base_url}/api/policy", json={"policy": "shout"}, headers=AUTH)
    assert response.status_code == 200, response.text
    shouted: set[str] = set()

    def probe() -> None:
        answer = anthropic_call(workers.base_url)
        if answer.json()["content"][0]["text"] == "QUIET WORDS":
            shouted.add(answer.headers[WORKER_HEADER])

    wait_until(lambda: shouted == BOTH, probe, guard_s=GUARD_S, poll_s=POLL_S)
    answers = [anthropic_call(workers.base_url) for _ in range(10)]
    assert {a.json()["content"][0]["text"] for a in answers} == {"QUIET WORDS"}
    listed = {
        (r.headers[WORKER_HEADER], r.json()["active"])
        for r in (httpx.get(f"{workers.base_url}/api/policies", headers=AUTH) for _ in range(40))
    }
    assert listed == {("0", "shout"), ("1", "shout")}


def test_a_rate_limit_is_counted_once_across_workers(start_workers: Callable[..., Workers]) -> None:
    workers = start_workers(LUTHIEN_RATE_LIMIT=f"{RATE_LIMIT}/minute")

    answers = [anthropic_call(workers.base_url) for _ in range(2 * RATE_LIMIT)]

    statuses = [a.status_code for a in answers]
    assert statuses == [200] * RATE_LIMIT + [429] * RATE_LIMIT
    assert {a.headers[WORKER_HEADER] for a in answers} == BOTH
    ready = httpx.get(f"{workers.base_url}/ready").json()
    assert ready["checks"]["rate_limiter"]["backend"] == "workers"


def test_sigterm_drains_the_workers_and_exits_0(
    start_workers: Callable[..., Workers], fake: FakeProvider
) -> None:
    workers = start_workers()
    gate = Gate()
    frames = anthropic_stream(text="every word of it", text_chunks=4)
    first_text = next(i for i, frame in enumerate(frames) if b"text_delta" in frame)
    fake.enqueue(StreamReply([*frames[: first_text + 1], gate, *frames[first_text + 1 :]]))
    client = anthropic.Anthropic(base_url=workers.base_url, api_key="sk-client", max_retries=0)

    with client.messages.stream(
        model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        events = iter(stream)
        next(event for event in events if event.type == "text")
        workers.process.signal(signal.SIGTERM)
        deadline = time.monotonic() + GUARD_S
        while not refuses_connections(workers.process.port):
            assert time.monotonic() < deadline, "the workers kept accepting connections after SIGTERM"
            time.sleep(POLL_S)
        gate.open()
        for _ in events:
            pass
        message = stream.get_final_message()

    assert message.content[0].type == "text"
    assert message.content[0].text == "every word of it"
    assert workers.process.wait() == 0
    assert not any(process_exists(pid) for pid in workers.pids)
    assert "Traceback" not in workers.process.log()


def test_a_worker_that_dies_stops_the_server_with_status_1(start_workers: Callable[..., Workers]) -> None:
    workers = start_workers()

    os.kill(workers.pids[1], signal.SIGKILL)

    assert workers.process.wait() == 1
    deadline = time.monotonic() + GUARD_S
    while process_exists(workers.pids[0]):
        assert time.monotonic() < deadline, "the other worker kept running"
        time.sleep(POLL_S)


def test_workers_stop_when_their_parent_is_killed(start_workers: Callable[..., Workers]) -> None:
    workers = start_workers()

    workers.process.stop()  # SIGKILL: the parent cannot tell the workers

    deadline = time.monotonic() + GUARD_S
    while any(process_exists(pid) for pid in workers.pids):
        assert time.monotonic() < deadline, "a worker outlived its parent"
        time.sleep(POLL_S)


def test_a_port_another_program_listens_on_is_refused_at_start(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = clean_env(
            LUTHIEN_HOST="127.0.0.1",
            LUTHIEN_PORT=str(taken.getsockname()[1]),
            LUTHIEN_WORKERS="2",
            LUTHIEN_DATABASE_URL=f"sqlite:///{tmp_path / 'records.db'}",
        )
        run = subprocess.run([LUTHIEN, "serve"], env=env, capture_output=True, timeout=GUARD_S, check=False)

    assert run.returncode == 1
