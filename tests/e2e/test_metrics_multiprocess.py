"""Metrics across worker processes: two `luthien serve` processes share `PROMETHEUS_MULTIPROC_DIR`.

Each process counts its own calls in files in that directory; a scrape of either one sums them all,
and a process that stopped keeps its counted calls but no longer adds to the live gauges.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.fake_provider import FakeProvider, JSONReply, anthropic_message
from tests.support.metrics import MESSAGES_BODY, calls, scrape, scrape_until, total
from tests.support.ports import free_port
from tests.support.records import GUARD_S
from tests.support.serve_process import clean_env, start_serve, stop, wait_until_serving


def start_worker(processes: list[subprocess.Popen[str]], fake: FakeProvider, directory: Path) -> str:
    port = free_port()
    env = clean_env(
        LUTHIEN_PORT=str(port),
        LUTHIEN_RECORDS="off",
        LUTHIEN_ANTHROPIC_BASE_URL=fake.base_url,
        LUTHIEN_LOG_LEVEL="warning",
        PROMETHEUS_MULTIPROC_DIR=str(directory),
    )
    process = start_serve(processes, [], env)
    base_url = f"http://127.0.0.1:{port}"
    wait_until_serving(process, f"{base_url}/health")
    return base_url


def test_a_scrape_of_one_worker_sums_every_workers_calls(
    serve_processes: list[subprocess.Popen[str]], fake: FakeProvider, tmp_path: Path
) -> None:
    first = start_worker(serve_processes, fake, tmp_path)
    second = start_worker(serve_processes, fake, tmp_path)
    for base_url in (first, second, second):
        fake.enqueue(JSONReply(anthropic_message("hi")))
        assert httpx.post(f"{base_url}/v1/messages", json=MESSAGES_BODY, timeout=GUARD_S).status_code == 200

    samples = scrape_until(first, lambda s: calls(s) == 3)
    assert calls(samples, status="ok", endpoint="/v1/messages") == 3  # the first worker served one of them
    assert calls(scrape(second), status="ok") == 3

    _, stderr = stop(serve_processes[1])
    assert "Traceback" not in stderr
    after = scrape(first)
    assert calls(after, status="ok") == 3
    assert total(after, "luthien_calls_in_progress") == 0
