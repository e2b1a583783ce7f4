"""Load generators: `wrk`, a Python client for time to first token, a Python load for `--smoke`.

`wrk` measures throughput and whole-response latency; the Python load generator needs no `wrk` (it
checks that a run works, its figures mean little); the CPU-speed probe flags a contended host.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path

from processes import CALIBRATION_LOOPS, CALIBRATION_SPIN_S, LUA_SCRIPT, Processes, taskset
from variants import CLIENT_KEY


def calibration_ms() -> float:
    """Milliseconds for a fixed pure-Python workload: rises when the host (not this VM) is contended."""
    # A virtual CPU that was idle runs slowly for a moment; spin first so only contention shows.
    spin_until = time.perf_counter() + CALIBRATION_SPIN_S
    while time.perf_counter() < spin_until:
        pass
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for value in range(CALIBRATION_LOOPS):
            total += value * value % 7
        best = min(best, (time.perf_counter() - started) * 1000.0)
    return best


# ---------------------------------------------------------------------------------------------
# wrk


@dataclass
class Measurement:
    """One load run against one target. Latencies in milliseconds.

    `server_cpu_s` is the CPU time of the server under test (the fake upstream for direct runs, Luthien
    otherwise); `other_cpu` the CPUs' worth used meanwhile by processes outside the benchmark;
    `calibration_ms` the slower of two CPU-speed probes taken just before and after the run.
    """

    requests: int
    duration_s: float
    rps: float
    latency_ms: dict[str, float]
    errors: int
    error_detail: str = ""
    ttft_ms: dict[str, float] | None = None
    server_cpu_s: float = 0.0
    server_cpu_us_per_request: float = 0.0
    other_cpu: float = 0.0
    steal_cpu: float = 0.0
    calibration_ms: float = 0.0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Measurement:
    """Read requests, req/s, latency percentiles (from `--latency`) and errors out of wrk's report.

    Raises:
        ValueError: the report lacks a field this function needs.
    """

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no match for {pattern!r}:\n{output}")
        return match

    totals = find(rf"^\s*(\d+) requests in {_DURATION}")
    latency = find(rf"^\s*Latency\s+{_DURATION}\s+{_DURATION}\s+{_DURATION}")
    latency_ms = {
        "avg": _ms(latency[1], latency[2]),
        "stdev": _ms(latency[3], latency[4]),
        "max": _ms(latency[5], latency[6]),
    }
    for percent, value, unit in re.findall(rf"^\s*(\d+)%\s+{_DURATION}\s*$", output, re.MULTILINE):
        latency_ms[f"p{percent}"] = _ms(value, unit)
    if "p50" not in latency_ms:
        raise ValueError(f"wrk output has no latency distribution (was --latency given?):\n{output}")
    errors = 0
    details: list[str] = []
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match[1])
        details.append(f"{match[1]} non-2xx responses")
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(count) for count in match.groups())
        details.append(match[0])
    return Measurement(
        requests=int(totals[1]),
        duration_s=_ms(totals[2], totals[3]) / 1000.0,
        rps=float(find(r"^Requests/sec:\s+([\d.]+)")[1]),
        latency_ms=latency_ms,
        errors=errors,
        error_detail="; ".join(details),
    )


def run_wrk(
    processes: Processes,
    url: str,
    body_file: Path,
    connections: int,
    duration: float,
    threads: int,
    cpus: list[int] | None,
) -> Measurement:
    """One wrk run; `duration` in seconds."""
    argv = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
        "--",
        str(body_file),
    ]
    return parse_wrk(processes.run(taskset(cpus, argv), timeout=duration + 60))


# ---------------------------------------------------------------------------------------------
# Time to first token (wrk only sees whole responses)


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


async def _ttft(url: str, body: bytes, duration: float, marker: bytes) -> Measurement:
    import aiohttp

    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": CLIENT_KEY}
    first: list[float] = []
    total: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        while time.perf_counter() - started < duration:
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 200:
                    errors += 1
                    await response.read()
                    continue
                seen = b""
                got_first = False
                async for chunk in response.content.iter_any():
                    if not got_first:
                        seen += chunk
                        if marker in seen:
                            first.append((time.perf_counter() - sent) * 1000.0)
                            got_first = True
                total.append((time.perf_counter() - sent) * 1000.0)
                if not got_first:
                    errors += 1
        elapsed = time.perf_counter() - started
    if not first:
        raise RuntimeError(f"no successful streams from {url}")
    return Measurement(
        requests=len(total),
        duration_s=elapsed,
        rps=len(total) / elapsed,
        latency_ms={"p50": _percentile(total, 50), "p99": _percentile(total, 99), "max": max(total)},
        errors=errors,
        ttft_ms={"p50": _percentile(first, 50), "p90": _percentile(first, 90), "p99": _percentile(first, 99)},
    )


def run_ttft(url: str, body: bytes, duration: float, marker: bytes = b"content_block_delta") -> Measurement:
    """Sequential streams on one connection; time to the first text delta and to the end of the stream.

    `marker` is in the first text delta's frame and in none before it (the endpoint's `first_token`).
    """
    return asyncio.run(_ttft(url, body, duration, marker))


# ---------------------------------------------------------------------------------------------
# Scenarios


async def _python_load(url: str, body: bytes, connections: int, duration: float) -> Measurement:
    import aiohttp

    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": CLIENT_KEY}
    latencies: list[float] = []
    errors = 0

    async def client(session: aiohttp.ClientSession, until: float) -> None:
        nonlocal errors
        while time.perf_counter() < until:
            sent = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
                    continue
            latencies.append((time.perf_counter() - sent) * 1000.0)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, started + duration) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    if not latencies:
        raise RuntimeError(f"no successful calls to {url}")
    return Measurement(
        requests=len(latencies),
        duration_s=elapsed,
        rps=len(latencies) / elapsed,
        latency_ms={
            "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99),
            "max": max(latencies),
        },
        errors=errors,
    )


def run_python_load(url: str, body: bytes, connections: int, duration: float) -> Measurement:
    """`connections` clients posting `body` back to back for `duration` s (`--smoke`: no `wrk` needed).

    Much slower than `wrk` (the client shares the CPUs and is Python), so only for checking that a run
    works, never for the figures.
    """
    return asyncio.run(_python_load(url, body, connections, duration))
