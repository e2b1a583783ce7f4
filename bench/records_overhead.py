"""What recording costs a call, and how long a call's end takes to reach the live monitor.

`python bench/records_overhead.py` (uses the process handling, wrk runner and noise probes of
bench/processes.py, load.py and servers.py; needs `wrk`):

1. **Overhead.** Three `luthien serve` processes in front of one fake upstream: recording off
   (`LUTHIEN_RECORDS=off`), on with SQLite (a fresh file in a temporary directory), and on with
   PostgreSQL (a database created for the run and dropped after, on `LUTHIEN_BENCH_POSTGRES_URL`,
   default the local `test` server; skipped when unreachable). The same wrk scenarios run against
   each, interleaved (the order rotates every repeat), so each repeat gives on/off ratios measured
   side by side. After the load, the rows each database holds are counted against the calls served.
2. **Monitor delay.** Calls paced at `--rate` per second (aiohttp, open loop); for each, the time
   from the client having read the whole response to a subscriber receiving its
   `transaction.completed` event (matched by `X-Luthien-Transaction-Id`; one CLOCK_MONOTONIC for
   all processes). In process: the subscriber runs in Luthien's event loop on its own bus
   (bench/monitor_probe.py `serve`). Redis: `luthien serve` with `LUTHIEN_REDIS_URL` (a stream key of
   its own, deleted after) and a subscriber in another process (`monitor_probe.py subscribe`).
   Recording is on (SQLite) in both.

Results: stdout and `bench/results/records_overhead.json`. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from load import (
    Measurement,
    _percentile,
    calibration_ms,
    run_wrk,
)
from processes import (
    HOST,
    NOISY_CALIBRATION,
    NOISY_CPU,
    RESULTS_DIR,
    ROOT,
    VENV_PYTHON,
    CpuAccounting,
    CpuLayout,
    Processes,
    _raise_on_signal,
    free_port,
    wait_healthy,
)
from scenarios import (
    _messages_body,
    check_answers,
)
from servers import (
    warm_up,
)

BENCH_DIR = Path(__file__).resolve().parent
POSTGRES_ADMIN_URL = os.environ.get("LUTHIEN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LUTHIEN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
STARTUP_TIMEOUT_S = 30.0
TARGET_RPS_RATIO = 0.8
TARGET_ADDED_P50_MS = 0.1
TARGET_MONITOR_P99_MS = 50.0
# The paced load generator's connection pool: enough that a slow response never delays the next call.
PACED_CONNECTIONS = 64
# How long the stored row count must stay unchanged before the writers are taken to be done.
DRAIN_SETTLE_S = 1.0
DRAIN_TIMEOUT_S = 60.0
TRANSACTION_HEADER = "x-luthien-transaction-id"
REQUEST_HEADERS = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "x-api-key": "sk-bench",
}


def luthien_env(port: int, fake_port: int, **settings: str) -> dict[str, str]:
    """The environment of a Luthien under test: the fake upstream, no auth, no config, `settings`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LUTHIEN_") or key.startswith("LUTHIEN_BENCH_")
    }
    env.update(
        LUTHIEN_HOST=HOST,
        LUTHIEN_PORT=str(port),
        LUTHIEN_ANTHROPIC_BASE_URL=f"http://{HOST}:{fake_port}",
        LUTHIEN_OPENAI_BASE_URL=f"http://{HOST}:{fake_port}/v1",
        LUTHIEN_LOG_LEVEL="warning",
        **settings,
    )
    return env


def measure_server(
    processes: Processes,
    server: subprocess.Popen[bytes],
    url: str,
    body_file: Path,
    connections: int,
    duration: float,
) -> Measurement:
    """One wrk run, with the server's CPU per call and the noise probes (as run.py's)."""
    before = calibration_ms()
    with CpuAccounting(processes, server) as cpu:
        m = run_wrk(processes, url, body_file, connections, duration, 1, None)
    m.calibration_ms = max(before, calibration_ms())
    m.other_cpu, m.steal_cpu, m.server_cpu_s = cpu.other_cpu, cpu.steal_cpu, cpu.server_cpu_s
    m.server_cpu_us_per_request = cpu.server_cpu_s * 1e6 / m.requests if m.requests else 0.0
    return m


# -- databases ------------------------------------------------------------------------------------


async def _postgres(statement: str, url: str = POSTGRES_ADMIN_URL) -> Any:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=5)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


def create_postgres_database() -> str | None:
    """A new empty database's URL, or None when PostgreSQL is unreachable."""
    name = f"luthien_bench_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
    except OSError:
        return None
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    """Drop the database `create_postgres_database` made."""
    asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


def stored_rows(database_url: str) -> int:
    """Transactions stored in a database under test."""
    statement = "SELECT count(*) FROM transactions"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as connection:
            return int(connection.execute(statement).fetchone()[0])
    return int(asyncio.run(_postgres(statement, database_url)))


def wait_drained(database_url: str) -> int:
    """The stored row count once it stops growing (the writer has caught up)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    rows = stored_rows(database_url)
    while time.monotonic() < deadline:
        time.sleep(DRAIN_SETTLE_S)
        now = stored_rows(database_url)
        if now == rows:
            return rows
        rows = now
    return rows


# -- 1. overhead ----------------------------------------------------------------------------------


def overhead(processes: Processes, args: argparse.Namespace, fake_port: int, work: Path) -> dict[str, Any]:
    """Recording off vs on (SQLite, PostgreSQL), the same scenarios interleaved."""
    configs: dict[str, dict[str, str]] = {
        "off": {"LUTHIEN_RECORDS": "off"},
        "sqlite": {"LUTHIEN_DATABASE_URL": f"sqlite:///{work / 'records.db'}"},
    }
    postgres_url = create_postgres_database()
    if postgres_url is not None:
        configs["postgresql"] = {"LUTHIEN_DATABASE_URL": postgres_url}
    else:
        print(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: measuring SQLite only")
    if args.before_src is not None:
        # Another version's code (first on the path), recording on SQLite: a before/after in one run.
        configs["sqlite-before"] = {
            "LUTHIEN_DATABASE_URL": f"sqlite:///{work / 'records-before.db'}",
            "PYTHONPATH": str(args.before_src.resolve()),
        }
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        for name, settings in configs.items():
            port = free_port()
            env = luthien_env(port, fake_port, **settings)
            servers[name] = (
                processes.start(f"luthien-{name}", [str(VENV_PYTHON), "-m", "luthien", "serve"], env),
                f"http://{HOST}:{port}",
            )
        for name, (server, base) in servers.items():
            wait_healthy(processes, f"luthien-{name}", server, f"{base}/health", STARTUP_TIMEOUT_S)
            check_answers(base, f"luthien ({name})")
            warm_up(processes, args, base, work, CpuLayout(None, None))
        served = dict.fromkeys(servers, 2)  # check_answers' two calls; warm-up calls are added below
        scenarios = [
            ("messages_c1", 1, False),
            (f"messages_c{args.connections}", args.connections, False),
            (f"messages_stream_c{args.connections}", args.connections, True),
        ]
        runs: dict[str, list[dict[str, Measurement]]] = {name: [] for name, _, _ in scenarios}
        for repeat in range(args.repeat):
            order = list(servers)
            order = order[repeat % len(order) :] + order[: repeat % len(order)]
            for scenario, connections, stream in scenarios:
                body_file = work / f"{scenario}.json"
                body_file.write_bytes(json.dumps(_messages_body(stream)).encode())
                cells: dict[str, Measurement] = {}
                for name in order:
                    server, base = servers[name]
                    url = f"{base}/v1/messages" + (f"?deltas={args.deltas}" if stream else "")
                    print(
                        f"[run {repeat + 1}/{args.repeat}] {scenario} recording {name:10} ...",
                        end="",
                        flush=True,
                    )
                    m = measure_server(processes, server, url, body_file, connections, args.duration)
                    served[name] += m.requests
                    cells[name] = m
                    noisy = (
                        f", other processes used {m.other_cpu:.2f} CPU" if m.other_cpu >= NOISY_CPU else ""
                    )
                    errors = f", {m.errors} ERRORS ({m.error_detail})" if m.errors else ""
                    print(
                        f" {m.rps:8.0f} req/s, p50 {m.latency_ms['p50']:.3f} ms, "
                        f"{m.server_cpu_us_per_request:4.0f} µs CPU/call{errors}{noisy}"
                    )
                runs[scenario].append(cells)
        stored = {
            name: wait_drained(settings["LUTHIEN_DATABASE_URL"])
            for name, settings in configs.items()
            if "LUTHIEN_DATABASE_URL" in settings
        }
        drops = {name: processes.log_tail(f"luthien-{name}", 200).count("dropped") for name in servers}
    finally:
        for server, _ in servers.values():
            processes.stop(server)
        if postgres_url is not None:
            drop_postgres_database(postgres_url)
    return {
        "runs": _summarize_runs(runs),
        "served_at_least": served,
        "stored": stored,
        "drop_log_lines": drops,
    }


def _summarize_runs(runs: dict[str, list[dict[str, Measurement]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for scenario, repeats in runs.items():
        rows: list[dict[str, Any]] = []
        for cells in repeats:
            off = cells["off"]
            best = min(m.calibration_ms for m in cells.values())
            row: dict[str, Any] = {
                "noisy": any(
                    m.other_cpu >= NOISY_CPU or m.calibration_ms > best * NOISY_CALIBRATION
                    for m in cells.values()
                ),
            }
            for name, m in cells.items():
                row[name] = {
                    "rps": m.rps,
                    "p50_ms": m.latency_ms["p50"],
                    "p99_ms": m.latency_ms["p99"],
                    "cpu_us_per_call": m.server_cpu_us_per_request,
                    "other_cpu": m.other_cpu,
                    "calibration_ms": m.calibration_ms,
                    "errors": m.errors,
                }
                if name != "off":
                    row[name]["rps_ratio"] = m.rps / off.rps if off.rps else 0.0
                    row[name]["added_p50_ms"] = m.latency_ms["p50"] - off.latency_ms["p50"]
            rows.append(row)
        summary[scenario] = rows
    return summary


# -- 2. monitor delay -----------------------------------------------------------------------------


async def _paced(
    url: str, body: bytes, rate: float, duration: float
) -> tuple[list[tuple[str, float, float]], int]:
    """`rate` calls per second for `duration` seconds, each sent on time whatever the others do."""
    import aiohttp

    done: list[tuple[str, float, float]] = []
    errors = 0

    async def call(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        sent = time.monotonic()
        try:
            async with session.post(url, data=body, headers=REQUEST_HEADERS) as response:
                await response.read()
                ended = time.monotonic()
                if response.status != 200:
                    errors += 1
                    return
                done.append((response.headers[TRANSACTION_HEADER], sent, ended))
        except aiohttp.ClientError:
            errors += 1

    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=PACED_CONNECTIONS)) as session:
        started = time.monotonic()
        for index in range(round(rate * duration)):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(call(session))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    return done, errors


def paced(url: str, body: bytes, rate: float, duration: float) -> tuple[list[tuple[str, float, float]], int]:
    """`_paced` on uvloop (the client must not be the bottleneck)."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_paced(url, body, rate, duration))


def read_received(path: Path) -> dict[str, float]:
    """What monitor_probe.py wrote: transaction id -> when its `transaction.completed` arrived."""
    received: dict[str, float] = {}
    for line in path.read_text().splitlines():
        transaction_id, at = line.split()
        received[transaction_id] = float(at)
    return received


def delay_stats(
    calls: list[tuple[str, float, float]], received: dict[str, float], errors: int, duration: float
) -> dict[str, Any]:
    """Percentiles of (event received - response read), and of the calls' own latency."""
    delays = [(received[tx] - ended) * 1000.0 for tx, _, ended in calls if tx in received]
    latencies = [(ended - sent) * 1000.0 for _, sent, ended in calls]
    stats: dict[str, Any] = {
        "calls": len(calls),
        "rate": len(calls) / duration,
        "errors": errors,
        "events_received": len(delays),
        "call_latency_ms": {f"p{p}": _percentile(latencies, p) for p in (50, 99)} if latencies else {},
    }
    if delays:
        stats["delay_ms"] = {**{f"p{p}": _percentile(delays, p) for p in (50, 90, 99)}, "max": max(delays)}
    return stats


def _monitor_loads(
    processes: Processes, args: argparse.Namespace, server: subprocess.Popen[bytes], base: str, work: Path
) -> list[tuple[str, list[tuple[str, float, float]], int, Measurement]]:
    loads: list[tuple[str, list[tuple[str, float, float]], int, Measurement]] = []
    for stream in (False, True):
        body = json.dumps(_messages_body(stream)).encode()
        url = f"{base}/v1/messages" + (f"?deltas={args.deltas}" if stream else "")
        paced(url, body, args.rate, args.warmup)
        before = calibration_ms()
        with CpuAccounting(processes, server) as cpu:
            calls, errors = paced(url, body, args.rate, args.duration)
        noise = Measurement(len(calls), args.duration, 0.0, {}, errors, other_cpu=cpu.other_cpu)
        noise.calibration_ms = max(before, calibration_ms())
        noise.server_cpu_us_per_request = cpu.server_cpu_s * 1e6 / len(calls) if calls else 0.0
        loads.append(("streaming" if stream else "non-streaming", calls, errors, noise))
    return loads


def monitor(processes: Processes, args: argparse.Namespace, fake_port: int, work: Path) -> dict[str, Any]:
    """Monitor delay with the in-process bus and with Redis."""
    results: dict[str, Any] = {}
    python = str(VENV_PYTHON)
    probe = str(BENCH_DIR / "monitor_probe.py")
    buses = ["memory"]
    with contextlib.suppress(OSError, ValueError):
        host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
        with socket.create_connection((host, int(port)), timeout=2):
            buses.append("redis")
    if "redis" not in buses:
        print(f"Redis at {REDIS_URL} unreachable: measuring the in-process bus only")
    for bus in buses:
        port = free_port()
        out = work / f"received-{bus}.txt"
        db = {"LUTHIEN_DATABASE_URL": f"sqlite:///{work / f'monitor-{bus}.db'}"}
        subscriber: subprocess.Popen[bytes] | None = None
        stream_key = f"luthien:bench:{uuid.uuid4().hex[:10]}"
        if bus == "memory":
            server = processes.start(
                "luthien-monitor",
                [python, probe, "serve", str(port), str(out)],
                luthien_env(port, fake_port, **db),
            )
        else:
            env = luthien_env(
                port, fake_port, LUTHIEN_REDIS_URL=REDIS_URL, LUTHIEN_EVENTS_STREAM_KEY=stream_key, **db
            )
            server = processes.start("luthien-redis", [str(VENV_PYTHON), "-m", "luthien", "serve"], env)
            subscriber = processes.start(
                "redis-subscriber", [python, probe, "subscribe", REDIS_URL, stream_key, str(out)]
            )
        base = f"http://{HOST}:{port}"
        try:
            wait_healthy(processes, "luthien", server, f"{base}/health", STARTUP_TIMEOUT_S)
            print(f"monitor delay, {bus} bus, {args.rate:g} calls/s ...", flush=True)
            loads = _monitor_loads(processes, args, server, base, work)
        finally:
            # The probe writes what it received when stopped: the subscriber first, then the server.
            if subscriber is not None:
                processes.stop(subscriber)
            processes.stop(server)
            if bus == "redis":
                _delete_stream(stream_key)
        received = read_received(out)
        for kind, calls, errors, noise in loads:
            stats = delay_stats(calls, received, errors, args.duration)
            stats["cpu_us_per_call"] = noise.server_cpu_us_per_request
            # CPU seconds per second: near 1, one process's event loop is saturated and calls queue.
            stats["server_cpu_load"] = noise.server_cpu_us_per_request * stats["rate"] / 1e6
            stats["other_cpu"], stats["calibration_ms"] = noise.other_cpu, noise.calibration_ms
            results[f"{bus}/{kind}"] = stats
            d = stats.get("delay_ms", {})
            print(
                f"  {kind:14} {stats['rate']:5.0f} calls/s, "
                f"events {stats['events_received']}/{stats['calls']}, "
                f"delay p50 {d.get('p50', float('nan')):.2f} ms, p99 {d.get('p99', float('nan')):.2f} ms, "
                f"max {d.get('max', float('nan')):.2f} ms; Luthien used {stats['server_cpu_load']:.2f} CPU"
            )
    return results


def _delete_stream(stream_key: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.delete(stream_key)
    finally:
        client.close()


# -- entry point ----------------------------------------------------------------------------------


def print_overhead(result: dict[str, Any]) -> None:
    """One line per scenario and repeat: on/off throughput ratios, added p50."""
    for scenario, rows in result["runs"].items():
        for index, row in enumerate(rows, 1):
            cells = [f"off {row['off']['rps']:.0f} req/s p50 {row['off']['p50_ms']:.3f} ms"]
            for name in ("sqlite", "postgresql", "sqlite-before"):
                if name in row:
                    cell = row[name]
                    cells.append(f"{name} x{cell['rps_ratio']:.2f} p50 {cell['added_p50_ms']:+.3f} ms")
            print(f"{scenario:22} run {index}{' *' if row['noisy'] else '  '} " + "; ".join(cells))
    print(
        f"rows stored: {result['stored']} (calls served: at least {result['served_at_least']}); "
        f"'dropped' log lines: {result['drop_log_lines']}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded load (default 2)")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved overhead runs (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="connections for throughput (default 64)")
    parser.add_argument("--deltas", type=int, default=20, help="text deltas per stream (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument(
        "--rate", type=float, default=500.0, help="calls/s for the monitor delay (default 500)"
    )
    parser.add_argument("--parts", default="overhead,monitor", help="overhead, monitor or both (default)")
    parser.add_argument(
        "--before-src",
        type=Path,
        help="also measure recording on SQLite with the `luthien` package in this directory "
        "(e.g. an older commit's src/, from `git archive`), as 'sqlite-before'",
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "records_overhead.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts; returns the exit status."""
    args = parse_args(argv)
    parts = {part.strip() for part in args.parts.split(",")}
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_on_signal)
    processes = Processes(log_dir)
    result: dict[str, Any] = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": vars(args),
    }
    try:
        with tempfile.TemporaryDirectory(prefix="luthien-records-bench-") as directory:
            work = Path(directory)
            fake_port = free_port()
            fake = processes.start(
                "fake_upstream", [str(VENV_PYTHON), str(BENCH_DIR / "fake_upstream.py"), str(fake_port)]
            )
            wait_healthy(
                processes, "fake_upstream", fake, f"http://{HOST}:{fake_port}/health", STARTUP_TIMEOUT_S
            )
            if "overhead" in parts:
                result["overhead"] = overhead(processes, args, fake_port, work)
            if "monitor" in parts:
                result["monitor"] = monitor(processes, args, fake_port, work)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print()
    if "overhead" in result:
        print_overhead(result["overhead"])
    print(
        f"targets: throughput on/off >= {TARGET_RPS_RATIO}, added p50 at 1 connection <= "
        f"{TARGET_ADDED_P50_MS} ms, monitor delay p99 <= {TARGET_MONITOR_P99_MS:g} ms; * = noisy run"
    )
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(main())
