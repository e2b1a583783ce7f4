"""The issues' performance targets, checked against one run's comparisons.

Issue 11 (noop and `string_replace` against the bare relay, latency, workers) and issue 10 (a
translated call's proxy CPU time against a same-API `string_replace` call). Every target is a ratio or a
difference between targets measured in the same run, so none depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from load import Measurement
from scenarios import Comparison

TARGET_NOOP_RELAY_RATIO = 0.8
"""noop, one worker, every endpoint streaming and not, at 32 connections: throughput / the relay's (#11)."""
TARGET_STRING_REPLACE_RELAY_RATIO = 0.5
"""`string_replace` streaming: throughput / the relay's (#11)."""
TARGET_TRANSLATED_CPU_RATIO = 1.5
"""A translated streaming call's proxy CPU time / a same-API `string_replace` call's (#10)."""
TARGET_ADDED_P50_MS = 0.5
"""noop at one connection: added p50 latency over a direct call (#11)."""
TARGET_ADDED_TTFT_MS = 0.5
"""noop: added time to first token (#11)."""
TARGET_WORKERS_RATIO = 1.4
"""2 workers: throughput / one worker's (#11)."""
TARGET_NONSTREAM_RPS = 2000.0
"""noop non-streaming Messages at `--connections`: requests per second (the gateway core's target)."""


def _at_least(value: float, bound: float) -> dict[str, Any]:
    return {"value": value, "target_min": bound, "met": value >= bound}


def _at_most(value: float, bound: float) -> dict[str, Any]:
    return {"value": value, "target_max": bound, "met": value <= bound}


def _ratio(
    by_target: dict[str, Measurement], over: str, under: str, figure: Callable[[Measurement], float]
) -> float | None:
    """`figure(over) / figure(under)`, or None when either was not measured (or is zero)."""
    if over not in by_target or under not in by_target:
        return None
    denominator = figure(by_target[under])
    return figure(by_target[over]) / denominator if denominator else None


def _rps(m: Measurement) -> float:
    return m.rps


def _cpu(m: Measurement) -> float:
    return m.server_cpu_us_per_request


def evaluate(comparisons: list[Comparison], connections: int, workers: int) -> dict[str, Any]:
    """Every target this run measured, by name: its value, bound and whether it was met."""
    checks: dict[str, Any] = {}
    for c in comparisons:
        by_target = {"direct": c.direct, "luthien": c.luthien, **c.others}
        name, stream = c.scenario, "_stream_" in c.scenario
        throughput = c.connections > 1 and c.luthien.ttft_ms is None
        if throughput:
            if (value := _ratio(by_target, "luthien", "relay", _rps)) is not None:
                checks[f"noop/relay req/s {name}"] = _at_least(value, TARGET_NOOP_RELAY_RATIO)
            if stream and (value := _ratio(by_target, "string_replace", "relay", _rps)) is not None:
                checks[f"string_replace/relay req/s {name}"] = _at_least(
                    value, TARGET_STRING_REPLACE_RELAY_RATIO
                )
            if stream and (value := _ratio(by_target, "translated", "string_replace", _cpu)) is not None:
                checks[f"translated/string_replace CPU per call {name}"] = _at_most(
                    value, TARGET_TRANSLATED_CPU_RATIO
                )
            if (
                workers > 1
                and (value := _ratio(by_target, f"luthien_w{workers}", "luthien", _rps)) is not None
            ):
                checks[f"w{workers}/w1 req/s {name}"] = _at_least(value, TARGET_WORKERS_RATIO)
        if name == f"messages_c{connections}":
            checks[f"noop req/s {name}"] = _at_least(c.luthien.rps, TARGET_NONSTREAM_RPS)
        if c.connections == 1 and c.added_ttft_p50_ms is None:
            checks[f"noop added p50 ms {name}"] = _at_most(c.added_p50_ms, TARGET_ADDED_P50_MS)
        if c.added_ttft_p50_ms is not None:
            checks[f"noop added TTFT p50 ms {name}"] = _at_most(c.added_ttft_p50_ms, TARGET_ADDED_TTFT_MS)
    return checks
