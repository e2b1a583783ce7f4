"""Micro-benchmarks behind two of Luthien's library choices: the JSON library and the upstream client.

`python bench/micro.py` prints, and writes to `bench/results/micro.json`:

- json: orjson vs the standard library parsing a real Claude Code request body
  (tests/e2e/data/claude_code_request.json, 84 KB), parsing one streaming event payload, and
  serializing the request body again.
- client: aiohttp vs httpx as the proxy's upstream client: POSTs at a fixed concurrency against
  bench/fake_upstream.py, measured in requests per second of the client process (one core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import timeit
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import uvloop

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "micro.json"
REQUEST_FILE = ROOT / "tests" / "e2e" / "data" / "claude_code_request.json"
EVENT = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" streamed answer"}}'
SMALL_BODY = orjson.dumps(
    {"model": "claude-fake-1", "max_tokens": 256, "messages": [{"role": "user", "content": "Say hello."}]}
)
HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "sk-bench"}


def per_call_us(function: Callable[[], object]) -> float:
    """Best-of-5 microseconds per call."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def json_results() -> dict[str, dict[str, float]]:
    """Microseconds per operation for orjson and json."""
    body = REQUEST_FILE.read_bytes()
    parsed: Any = orjson.loads(body)
    cases: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        f"loads request body ({len(body) // 1024} KB)": (
            lambda: orjson.loads(body),
            lambda: json.loads(body),
        ),
        "loads one stream event": (lambda: orjson.loads(EVENT), lambda: json.loads(EVENT)),
        "dumps request body to bytes": (
            lambda: orjson.dumps(parsed),
            lambda: json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode(),
        ),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (fast, standard) in cases.items():
        orjson_us, json_us = per_call_us(fast), per_call_us(standard)
        results[name] = {"orjson_us": orjson_us, "json_us": json_us, "speedup": json_us / orjson_us}
    return results


async def _drive(call: Callable[[], Awaitable[None]], concurrency: int, duration: float) -> float:
    """Run `call` from `concurrency` workers for `duration` seconds; return calls per second."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def _aiohttp_rps(url: str, concurrency: int, duration: float) -> float:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> None:
            async with session.post(url, data=SMALL_BODY, headers=HEADERS) as response:
                await response.read()

        await _drive(call, concurrency, 1.0)
        return await _drive(call, concurrency, duration)


async def _httpx_rps(url: str, concurrency: int, duration: float) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def call() -> None:
            response = await client.post(url, content=SMALL_BODY, headers=HEADERS)
            await response.aread()

        await _drive(call, concurrency, 1.0)
        return await _drive(call, concurrency, duration)


def client_results(concurrency: int, duration: float) -> dict[str, float]:
    """Requests per second each client reaches against the fake upstream."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    fake = subprocess.Popen(
        [sys.executable, str(BENCH_DIR / "fake_upstream.py"), str(port)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/messages"
        return {
            "aiohttp_rps": uvloop.run(_aiohttp_rps(url, concurrency, duration)),
            "httpx_rps": uvloop.run(_httpx_rps(url, concurrency, duration)),
        }
    finally:
        fake.terminate()
        fake.wait(timeout=5)


def main() -> int:
    """Run both micro-benchmarks and print the results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per client run (default 5)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent client requests (default 64)")
    args = parser.parse_args()
    results: dict[str, Any] = {"json": json_results()}
    print(f"{'JSON operation':34} {'orjson µs':>10} {'json µs':>10} {'speedup':>8}")
    for name, row in results["json"].items():
        print(f"{name:34} {row['orjson_us']:10.2f} {row['json_us']:10.2f} {row['speedup']:7.1f}x")
    results["client"] = client_results(args.concurrency, args.duration)
    results["client"]["concurrency"] = args.concurrency
    client = results["client"]
    print(
        f"\nupstream client, {args.concurrency} concurrent POSTs: aiohttp {client['aiohttp_rps']:.0f} req/s, "
        f"httpx {client['httpx_rps']:.0f} req/s (x{client['aiohttp_rps'] / client['httpx_rps']:.1f})"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {os.path.relpath(RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
