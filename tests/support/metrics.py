"""Reading Luthien's `GET /metrics` as a scraper does: samples by name and labels, polled until ready.

Metrics are fed when a call's recorder finishes, just after the client has its answer, so a test
scrapes until the expected value appears (`scrape_until`, bounded by `GUARD_S`, never reached when
it works).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.records import GUARD_S
from tests.support.servers import LuthienServer

POLL_S = 0.01
MODEL = "claude-sonnet-4-6"
MESSAGES_BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "hi"}],
}
"""A small Messages call."""


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """The samples of a metrics page."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample with exactly these labels; 0 when it is absent (nothing counted yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        v for (sample, sample_labels), v in samples.items() if sample == name and wanted <= sample_labels
    )


def scrape(server: LuthienServer | str, key: str | None = None) -> Samples:
    """The metrics of `server` (a server, or a base URL)."""
    base_url = server if isinstance(server, str) else server.base_url
    headers = {"authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{base_url}/metrics", headers=headers, timeout=GUARD_S)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def scrape_until(
    server: LuthienServer | str, done: Callable[[Samples], bool], key: str | None = None
) -> Samples:
    """Scrape until `done` holds (or `GUARD_S` passed); the last samples."""
    deadline = time.monotonic() + GUARD_S
    while True:
        samples = scrape(server, key)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(POLL_S)


def calls(samples: Samples, **labels: str) -> float:
    """The calls counted with these labels."""
    return total(samples, "luthien_calls_total", **labels)
