"""Scale and leak benchmarks: many slow streams at once, a long soak, the live event bus.

`python bench/scale.py` (part of `make bench`) runs three measurements and writes
`bench/results/scale.json`:

- **slow streams**: `--streams` (1,000) streams open at once through one `luthien serve`, each
  `--stream-deltas` deltas `--stream-delay-ms` apart; Luthien's RSS sampled meanwhile. Reports
  whether all completed and the RSS per open stream (peak minus the warmed-up idle RSS, divided by
  the streams).
- **soak**: `--soak-calls` (50,000) calls, `--soak-concurrency` at a time, mixing non-streaming and
  streaming calls, half of them under `all_caps` (a policy that decodes and re-encodes every event,
  chosen with `X-Luthien-Policy`); Luthien's RSS sampled every 5 % of the calls. Flat after the warm-up
  (the first 10 %) means no leak.
- **event bus**: events published back to back to one subscriber, in process (`MemoryEventBus`),
  through the workers' relay (`RelayHub`) and through Redis (`RedisEventBus`, skipped when Redis does
  not answer): events per second and the delay from `publish` to the subscriber (p50, p99).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from load import _percentile
from processes import (
    BENCH_DIR,
    HOST,
    RESULTS_DIR,
    ROOT,
    STARTUP_TIMEOUT_S,
    VENV_PYTHON,
    Processes,
    _raise_on_signal,
    free_port,
    wait_healthy,
)
from servers import luthien_env

sys.path.insert(0, str(ROOT / "src"))


from luthien.events.bus import EVENTS_DROPPED, EventBus
from luthien.events.memory import MemoryEventBus
from luthien.events.redis import RedisEventBus
from luthien.events.relay_bus import RelayEventBus
from luthien.events.relay_hub import RelayHub

REDIS_URL = os.environ.get("LUTHIEN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "sk-bench"}
CONFIG = "policies:\n  caps: {class: all_caps}\n  plain: {class: noop}\npolicy: plain\n"
STREAM_END = b"message_stop"
RSS_SAMPLE_S = 0.1
SOAK_SAMPLES = 20
"""RSS samples over the soak (one every 5 % of the calls)."""
SOAK_WARMUP_SAMPLES = 2
"""Samples in the warm-up (10 %): pools fill, caches and the records database grow to steady state."""
BUS_EVENTS = 20_000
BUS_BATCH = 200
"""Events published between two yields to the loop (a burst of calls ending together)."""
BUS_TIMEOUT_S = 60.0
"""How long the subscriber may take to receive every event before the run reports what it got."""


def rss_kb(pid: int) -> int:
    """Resident set size of a process, in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_fd_limit() -> None:
    """Open files: 1,000 streams need ~2,000 sockets in Luthien (client and upstream side)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def body(stream: bool) -> bytes:
    return json.dumps(
        {
            "model": "claude-fake-1",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
        }
    ).encode()


async def one_call(session: aiohttp.ClientSession, url: str, stream: bool, policy: str | None) -> bool:
    """One call read to the end; True when it answered 200 (and, streaming, ended with message_stop)."""
    headers = HEADERS if policy is None else {**HEADERS, "x-luthien-policy": policy}
    async with session.post(url, data=body(stream), headers=headers) as response:
        data = await response.read()
        return response.status == 200 and (not stream or STREAM_END in data)


async def slow_streams(base: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    url = f"{base}/v1/messages?deltas={args.stream_deltas}&delta_delay_ms={args.stream_delay_ms:g}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        warm = f"{base}/v1/messages?deltas=3"
        await asyncio.gather(*(one_call(session, warm, True, None) for _ in range(min(100, args.streams))))
        await asyncio.sleep(1.0)
        idle = rss_kb(pid)
        peak = idle
        calls = [asyncio.ensure_future(one_call(session, url, True, None)) for _ in range(args.streams)]
        started = time.perf_counter()
        while not all(call.done() for call in calls):
            peak = max(peak, rss_kb(pid))
            await asyncio.sleep(RSS_SAMPLE_S)
        elapsed = time.perf_counter() - started
        completed = sum(1 for call in calls if not call.exception() and call.result())
    after = rss_kb(pid)
    return {
        "streams": args.streams,
        "completed": completed,
        "stream_s": args.stream_deltas * args.stream_delay_ms / 1000,
        "elapsed_s": round(elapsed, 2),
        "rss_idle_kb": idle,
        "rss_peak_kb": peak,
        "rss_after_kb": after,
        "rss_per_stream_kb": round((peak - idle) / args.streams, 1),
    }


async def soak(base: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    kinds = [(False, None), (True, None), (False, "caps"), (True, "caps")]
    url = f"{base}/v1/messages?deltas=10"
    per_sample = args.soak_calls // SOAK_SAMPLES
    samples: list[dict[str, Any]] = [{"calls": 0, "rss_kb": rss_kb(pid)}]
    failed = 0
    done = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.soak_concurrency)) as session:

        async def client(offset: int, count: int) -> None:
            nonlocal failed, done
            for index in range(count):
                stream, policy = kinds[(offset + index) % len(kinds)]
                if not await one_call(session, url, stream, policy):
                    failed += 1
                done += 1

        for _ in range(SOAK_SAMPLES):
            share = per_sample // args.soak_concurrency
            await asyncio.gather(*(client(i, share) for i in range(args.soak_concurrency)))
            samples.append(
                {"calls": done, "rss_kb": rss_kb(pid), "s": round(time.perf_counter() - started, 1)}
            )
            print(f"  soak: {done} calls, RSS {samples[-1]['rss_kb'] / 1024:.1f} MB", flush=True)
    steady = [s["rss_kb"] for s in samples[SOAK_WARMUP_SAMPLES:]]
    return {
        "calls": done,
        "failed": failed,
        "concurrency": args.soak_concurrency,
        "calls_per_s": round(done / (time.perf_counter() - started), 1),
        "samples": samples,
        "rss_after_warmup_kb": steady[0],
        "rss_end_kb": steady[-1],
        "growth_after_warmup_kb": steady[-1] - steady[0],
        "max_growth_after_warmup_kb": max(steady) - steady[0],
    }


async def bus_rate(bus: EventBus, events: int) -> dict[str, Any]:
    """Publish `events` in bursts to one subscriber; events per second and publish → receive delay."""
    delays: list[float] = []
    last_received = 0.0
    # From the current position: nothing published after it is missed, however late the first read.
    subscription = bus.subscribe(await bus.position())

    async def receive() -> None:
        nonlocal last_received
        async for event in subscription:
            if event.type == EVENTS_DROPPED:
                continue
            delays.append(time.time() - event.timestamp)
            last_received = time.perf_counter()
            if len(delays) >= events:
                return

    receiver = asyncio.ensure_future(receive())
    await asyncio.sleep(0.2)  # the subscription is live (Redis: its first read is waiting)
    started = time.perf_counter()
    for index in range(events):
        bus.publish("transaction.completed", f"call-{index}", {"status": "ok", "model": "claude-fake-1"})
        if index % BUS_BATCH == BUS_BATCH - 1:
            await asyncio.sleep(0)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(receiver), BUS_TIMEOUT_S)
    elapsed = max(last_received - started, 1e-9)
    receiver.cancel()
    milliseconds = [d * 1000 for d in delays] or [0.0]
    return {
        "published": events,
        "received": len(delays),
        "events_per_s": round(len(delays) / elapsed),
        "delay_p50_ms": round(_percentile(milliseconds, 50), 2),
        "delay_p99_ms": round(_percentile(milliseconds, 99), 2),
    }


async def event_bus(events: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    results["memory"] = await bus_rate(MemoryEventBus(retention=events, subscriber_queue=events), events)
    with tempfile.TemporaryDirectory(prefix="luthien-bench-relay-") as directory:
        hub = RelayHub(os.path.join(directory, "relay.sock"), retention=events)
        await hub.start()
        relay = RelayEventBus(hub.path, retention=events, on_lost=lambda: None)
        await relay.start()
        try:
            results["workers_relay"] = await bus_rate(relay, events)
        finally:
            await relay.close()
            await hub.close()
    key = f"luthien-bench:{uuid.uuid4()}"
    redis_bus = RedisEventBus(REDIS_URL, stream_key=key, retention=events, queue_size=events)
    try:
        await asyncio.wait_for(redis_bus.start(), 5)
        results["redis"] = await bus_rate(redis_bus, events)
    except (OSError, TimeoutError) as error:
        results["redis"] = {"skipped": f"Redis at {REDIS_URL} unreachable ({type(error).__name__})"}
    finally:
        await redis_bus.close()
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(REDIS_URL)  # pyright: ignore[reportUnknownMemberType]
        try:
            await client.delete(key, key + ":control")
        except OSError:
            pass
        finally:
            await client.aclose()
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=1000, help="concurrent slow streams (default 1000)")
    parser.add_argument("--stream-deltas", type=int, default=100, help="deltas per slow stream (default 100)")
    parser.add_argument("--stream-delay-ms", type=float, default=100.0, help="pause before each delta (100)")
    parser.add_argument("--soak-calls", type=int, default=50_000, help="calls in the soak (default 50000)")
    parser.add_argument("--soak-concurrency", type=int, default=16, help="calls at once in the soak (16)")
    parser.add_argument(
        "--bus-events", type=int, default=BUS_EVENTS, help=f"events per bus (default {BUS_EVENTS})"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "scale.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    import signal

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_on_signal)
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = Processes(log_dir)
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    result: dict[str, Any] = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        with tempfile.TemporaryDirectory(prefix="luthien-bench-scale-") as directory:
            fake_port, port = free_port(), free_port()
            fake = processes.start(
                "fake_upstream", [python, str(BENCH_DIR / "fake_upstream.py"), str(fake_port)]
            )
            config = Path(directory) / "luthien.yaml"
            config.write_text(CONFIG)
            env = {
                **luthien_env(port, fake_port, 1, Path(directory)),
                "LUTHIEN_CONFIG": str(config),
                "LUTHIEN_ALLOW_POLICY_HEADER": "true",
                "LUTHIEN_DATABASE_URL": f"sqlite:///{directory}/records.db",
            }
            luthien = processes.start(
                "luthien_scale", [str(ROOT / ".venv" / "bin" / "luthien"), "serve"], env
            )
            base = f"http://{HOST}:{port}"
            wait_healthy(
                processes, "fake_upstream", fake, f"http://{HOST}:{fake_port}/health", STARTUP_TIMEOUT_S
            )
            wait_healthy(processes, "luthien_scale", luthien, f"{base}/health", STARTUP_TIMEOUT_S)
            print(f"slow streams: {args.streams} at once ...", flush=True)
            result["slow_streams"] = asyncio.run(slow_streams(base, luthien.pid, args))
            print(f"  {json.dumps(result['slow_streams'])}", flush=True)
            print(f"soak: {args.soak_calls} calls ...", flush=True)
            result["soak"] = asyncio.run(soak(base, luthien.pid, args))
        print("event bus ...", flush=True)
        result["event_bus"] = asyncio.run(event_bus(args.bus_events))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers", file=sys.stderr)
        return 130
    finally:
        processes.stop_all()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    streams, soaked = result["slow_streams"], result["soak"]
    print(
        f"slow streams: {streams['completed']}/{streams['streams']} completed, "
        f"{streams['rss_per_stream_kb']} KB RSS per open stream "
        f"(idle {streams['rss_idle_kb'] / 1024:.1f} MB, "
        f"peak {streams['rss_peak_kb'] / 1024:.1f} MB)"
    )
    print(
        f"soak: {soaked['calls']} calls ({soaked['failed']} failed), RSS after warm-up "
        f"{soaked['rss_after_warmup_kb'] / 1024:.1f} MB, at the end {soaked['rss_end_kb'] / 1024:.1f} MB "
        f"(growth {soaked['growth_after_warmup_kb']} KB)"
    )
    for name, figures in result["event_bus"].items():
        print(f"event bus {name}: {figures}")
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit(main())
