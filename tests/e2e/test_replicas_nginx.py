"""Two `luthien serve` replicas behind Debian's nginx, on one PostgreSQL database and one Redis.

nginx runs the shipped deploy/nginx.conf (loopback upstreams and port swapped in, see
`tests.support.nginx`), plus one header for the test: `X-Test-Upstream`, the replica nginx chose.
The replicas are real processes (the `luthien` console script) with a dedicated PostgreSQL database
and a Redis stream key of their own; the fake provider is the upstream of both.
"""

from __future__ import annotations

import itertools
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.fake_provider import (
    FakeProvider,
    Gate,
    JSONReply,
    StreamReply,
    anthropic_message,
    anthropic_stream,
)
from tests.support.admin_client import anthropic_call, transaction_id, wait_for_record
from tests.support.nginx import loopback_config, nginx_binary, nginx_command
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.serve_process import GUARD_S, POLL_S, ServeProcess
from tests.support.sse_reader import SSEReader

REDIS_URL = "redis://127.0.0.1:6379/0"
ADMIN_KEY = "nginx-replicas-admin-key"
AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}
UPSTREAM_HEADER = "x-test-upstream"
CONFIG = """\
policy: quiet
policies:
  quiet: {class: noop}
  shout: {class: all_caps}
"""
CALLS = 6


@dataclass
class Cluster:
    """nginx at `url` in front of `replicas` (by the address nginx reports for each)."""

    url: str
    replicas: dict[str, ServeProcess]

    def replica_of(self, response: httpx.Response) -> ServeProcess:
        """The replica that answered `response` (through nginx).

        When nginx tried more than one (a replica refused the connection), it lists them all: the
        last one answered.
        """
        return self.replicas[response.headers[UPSTREAM_HEADER].split(", ")[-1]]

    def other(self, replica: ServeProcess) -> ServeProcess:
        (other,) = (candidate for candidate in self.replicas.values() if candidate is not replica)
        return other


ClusterFactory = Callable[..., Cluster]


def start_nginx(workdir: Path, upstreams: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    binary = nginx_binary()
    workdir.mkdir()
    port = free_port()
    config = loopback_config(
        workdir, upstreams, port, "            add_header X-Test-Upstream $upstream_addr always;\n"
    )
    with (workdir / "stdout.log").open("wb") as log:
        process = subprocess.Popen(nginx_command(binary, config), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        assert process.poll() is None, (workdir / "stdout.log").read_text(encoding="utf-8", errors="replace")
        try:
            return httpx.get(f"{url}/nginx-health").status_code == 200
        except httpx.TransportError:
            return False

    wait_until(serving, what="nginx serves", guard_s=GUARD_S, poll_s=POLL_S)
    return process, url


@pytest.fixture
def make_cluster(fake: FakeProvider, postgres_url: str, tmp_path: Path) -> Iterator[ClusterFactory]:
    """Start two replicas (with optional extra settings) and nginx; everything is stopped after."""
    replicas: list[ServeProcess] = []
    nginx: list[subprocess.Popen[bytes]] = []
    stream_key = f"luthien-test:nginx-replicas:{uuid.uuid4()}"
    config = tmp_path / "luthien.yaml"
    config.write_text(CONFIG, encoding="utf-8")

    def start(**extra: str) -> Cluster:
        settings = {
            "LUTHIEN_ANTHROPIC_BASE_URL": fake.base_url,
            "LUTHIEN_DATABASE_URL": postgres_url,
            "LUTHIEN_REDIS_URL": REDIS_URL,
            "LUTHIEN_EVENTS_STREAM_KEY": stream_key,
            "LUTHIEN_ADMIN_KEY": ADMIN_KEY,
            "LUTHIEN_CONFIG": str(config),
            "LUTHIEN_LOG_LEVEL": "warning",
            **extra,
        }
        for name in ("replica-a", "replica-b"):
            replicas.append(ServeProcess(settings, tmp_path, name).start())
        process, url = start_nginx(tmp_path / "nginx", [f"127.0.0.1:{replica.port}" for replica in replicas])
        nginx.append(process)
        return Cluster(url, {f"127.0.0.1:{replica.port}": replica for replica in replicas})

    yield start
    for process in nginx:
        process.terminate()
        process.wait(timeout=GUARD_S)
    for replica in replicas:
        replica.stop()
    with redis.Redis.from_url(REDIS_URL) as client:
        client.delete(stream_key)


def calls_through(cluster: Cluster, count: int) -> list[httpx.Response]:
    responses = [anthropic_call(cluster.url, f"call {n}") for n in range(count)]
    assert [response.status_code for response in responses] == [200] * count
    return responses


def test_calls_alternate_between_replicas_and_a_monitor_on_either_sees_them_all(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster()
    # The monitor reaches one replica through nginx: its stream passes the proxy unbuffered.
    monitor = SSEReader(f"{cluster.url}/api/activity/stream", AUTH).start()

    responses = calls_through(cluster, CALLS)

    served_by = [cluster.replica_of(response) for response in responses]
    assert set(served_by) == set(cluster.replicas.values())
    assert all(first is not second for first, second in itertools.pairwise(served_by))
    expected = {transaction_id(response) for response in responses}
    seen: set[str] = set()
    while seen != expected:
        frame = monitor.next_matching(lambda f: f.event == "transaction.completed")
        seen.add(frame.data["transaction_id"])
    monitor.stop()
    assert monitor.status == 200
    assert monitor.content_type.startswith("text/event-stream")


def active_policy(replica: ServeProcess) -> str:
    return str(httpx.get(f"{replica.base_url}/api/policies", headers=AUTH).json()["active"])


def test_a_policy_switched_through_one_replica_is_active_on_both(
    make_cluster: ClusterFactory, fake: FakeProvider
) -> None:
    cluster = make_cluster()
    first, second = cluster.replicas.values()

    def switch() -> None:
        answer = httpx.put(f"{first.base_url}/api/policy", json={"policy": "shout"}, headers=AUTH)
        assert answer.status_code == 200, answer.text

    # The other replica's Redis subscription goes live asynchronously after it starts: the switch
    # is repeated (harmlessly) until it arrives.
    wait_until(
        lambda: active_policy(second) == "shout",
        switch,
        what="the switch reached the other replica",
        guard_s=GUARD_S,
        poll_s=POLL_S,
    )
    assert active_policy(first) == "shout"
    fake.enqueue(*(JSONReply(anthropic_message("quiet words")) for _ in range(2)))

    responses = calls_through(cluster, 2)

    assert {cluster.replica_of(response) for response in responses} == {first, second}
    assert [response.json()["content"][0]["text"] for response in responses] == ["QUIET WORDS"] * 2


def test_killing_a_replica_mid_run_loses_no_record_and_nginx_serves_through_the_other(
    make_cluster: ClusterFactory, fake: FakeProvider
) -> None:
    cluster = make_cluster()
    before = calls_through(cluster, CALLS)
    survivor_of = {replica: cluster.other(replica) for replica in cluster.replicas.values()}
    # A completed call's record is written by its replica's writer in the background: once stored in
    # the shared database, no replica's death can take it away (SIGKILL drops only a writer's queue).
    for response in before:
        wait_for_record(survivor_of[cluster.replica_of(response)].base_url, transaction_id(response), AUTH)
    gate = Gate()
    fake.enqueue(StreamReply([*anthropic_stream("held")[:4], gate]))

    with httpx.stream(
        "POST",
        f"{cluster.url}/v1/messages",
        json={
            "model": "claude-test",
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-api-key": "sk-client-key", "anthropic-version": "2023-06-01"},
        timeout=GUARD_S,
    ) as held:
        victim = cluster.replica_of(held)
        survivor = survivor_of[victim]
        chunks = held.iter_raw()
        assert next(chunks)  # the call is in flight on the victim
        assert victim.process is not None
        victim.process.kill()
        victim.wait()
        with pytest.raises(httpx.RemoteProtocolError):  # the call in flight is cut, not hung
            for _ in chunks:
                pass

    after = calls_through(cluster, CALLS)

    assert {cluster.replica_of(response) for response in after} == {survivor}
    for response in [*before, *after]:
        record = wait_for_record(survivor.base_url, transaction_id(response), AUTH)
        assert (record["status"], record["http_status"]) == ("ok", 200)


# -- The shared rate limit ---------------------------------------------------------------------------

RATE_LIMIT = 4


def test_the_rate_limit_is_counted_once_across_replicas(make_cluster: ClusterFactory) -> None:
    cluster = make_cluster(
        LUTHIEN_RATE_LIMIT=f"{RATE_LIMIT}/minute",
        LUTHIEN_RATE_LIMIT_KEY_PREFIX=f"luthien-test:nginx-limits:{uuid.uuid4()}",
    )

    responses = [anthropic_call(cluster.url, f"call {n}") for n in range(RATE_LIMIT + 2)]

    # The same client key through either replica: one count, so the refusals start at the limit
    # (two replicas counting alone would each allow it, twice as many in all).
    statuses = [response.status_code for response in responses]
    assert statuses == [200] * RATE_LIMIT + [429, 429]
    allowed = {cluster.replica_of(response) for response in responses[:RATE_LIMIT]}
    assert allowed == set(cluster.replicas.values())
    refused = responses[RATE_LIMIT]
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert int(refused.headers["retry-after"]) > 0
