"""Luthien's cost per call as instructions (callgrind) or CPU time: a figure a busy host cannot move.

On a machine shared with other work, requests per second swing by a factor of 2 between runs of the same
build; the number of instructions one server process executes to serve a fixed set of requests does
not (runs repeat within about 1 %). This script serves a fixed number of calls through one
`luthien serve` and divides what that process executed by the number of calls:

```sh
.venv/bin/python bench/instructions.py                                 # every scenario, noop
.venv/bin/python bench/instructions.py --policies noop,string_replace --scenarios messages_stream
.venv/bin/python bench/instructions.py --src /tmp/before/src           # another source tree (A/B)
.venv/bin/python bench/instructions.py --tool cpu                      # CPU µs per call, no valgrind
.venv/bin/python bench/instructions.py --records sqlite                # recording on (or postgresql)
.venv/bin/python bench/instructions.py --wrk-ab /tmp/before/src        # interleaved wrk A/B runs
.venv/bin/python bench/instructions.py upstream 8990                   # the fake upstream alone
```

- `--tool callgrind` (default): Luthien starts under `valgrind --tool=callgrind` uninstrumented (a
  start-up at nearly native speed); `callgrind_control` then turns instrumentation on, and after
  each scenario's warm-up zeroes the counters, and dumps them after the measured calls. The dump
  files are kept (`--out`), so `callgrind_annotate` shows where the instructions went (C functions;
  use py-spy for Python).
- `--tool cpu`: the server's user + system CPU time over the measured calls (from `/proc`).
- `--wrk-ab DIR`: two servers (this tree and the tree at DIR) in front of one fake upstream; `wrk`
  alternates between them (`--rounds` times per scenario) and the medians are compared.

The upstream is this file's own fake (`upstream` subcommand: aiohttp on uvloop), which answers the
three APIs (`/v1/messages`, `/v1/chat/completions`, `/v1/responses`) with replies built by
`luthien.testing.streams` and precomputed at start-up: 20 text deltas per stream, one write per
SSE frame. Under callgrind, Luthien runs ~50 times slower than the upstream, so a stream's frames tend to
arrive together in one read: the counts are those of a loaded server (where the same happens), and
changes that pay per read (one write per read) look their best here. `--delay-ms` paces the frames.

`string_replace` replaces the word `fake` (twice in each reply), so its streams are decoded,
changed and re-encoded. Calls go without recording (`LUTHIEN_RECORDS=off`), as in
docs/performance.md's non-streaming regression figures, unless `--records sqlite` (a fresh file in
`--out`) or `--records postgresql` (a database created for the run on `LUTHIEN_BENCH_POSTGRES_URL`'s
server, dropped after): then each count also waits for the writer to have stored every call served
so far (before zeroing and before dumping), so a call's record is written in its own window.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
HOST = "127.0.0.1"
TEXT_WORDS = 20
"""Text deltas per stream (as `bench/run.py`'s default)."""
TEXT = " ".join(["This", "is", "a", "fake", "answer"] * (TEXT_WORDS // 5))
API_KEY = "sk-bench-not-a-real-key"
STARTUP_TIMEOUT_S = 600.0
"""Seconds to wait for a server to answer `/health` (start-up under valgrind is slow)."""
CONTROL_TIMEOUT_S = 120.0
POSTGRES_ADMIN_URL = os.environ.get("LUTHIEN_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
DRAIN_TIMEOUT_S = 600.0
"""Seconds to wait for the record writer to store the calls served (slow under valgrind)."""
SLOW_HOST_TIMEOUT_S = 120
RETRIES = 3
STRING_REPLACE_CONFIG = """\
policy: bench_replace
policies:
  bench_replace:
    class: string_replace
    config:
      replacements:
        - {find: "fake", replace: "mock"}
"""


@dataclass(frozen=True)
class Scenario:
    """One kind of call: an endpoint, streaming or not."""

    name: str
    path: str
    api: str
    stream: bool


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario("messages", "/v1/messages", "anthropic", False),
        Scenario("messages_stream", "/v1/messages", "anthropic", True),
        Scenario("chat", "/v1/chat/completions", "openai_chat", False),
        Scenario("chat_stream", "/v1/chat/completions", "openai_chat", True),
        Scenario("responses", "/v1/responses", "openai_responses", False),
        Scenario("responses_stream", "/v1/responses", "openai_responses", True),
    )
}


def request_body(scenario: Scenario) -> bytes:
    """A small request body of the scenario's API (like `bench/run.py`'s)."""
    message = {"role": "user", "content": "Say hello."}
    body: dict[str, Any]
    if scenario.api == "anthropic":
        body = {"model": "claude-bench-1", "max_tokens": 64, "messages": [message]}
    elif scenario.api == "openai_chat":
        body = {"model": "gpt-bench-1", "messages": [message]}
    else:
        body = {"model": "gpt-bench-1", "input": "Say hello."}
    if scenario.stream:
        body["stream"] = True
    return json.dumps(body).encode()


def request_headers(scenario: Scenario) -> dict[str, str]:
    """What an SDK sends that matters to the proxy."""
    if scenario.api == "anthropic":
        return {"content-type": "application/json", "x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
    return {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}


# -- the fake upstream --------------------------------------------------------------------------------


def serve_upstream(port: int) -> None:
    """Serve the three APIs on `port` until killed."""
    import orjson
    import uvloop
    from aiohttp import web

    from luthien.testing.streams import model_reply

    replies = {
        (api, stream): model_reply(api, TEXT, text_chunks=TEXT_WORDS, stream=stream)  # type: ignore[arg-type]
        for api in ("anthropic", "openai_chat", "openai_responses")
        for stream in (False, True)
    }
    stream_headers = {"content-type": "text/event-stream", "cache-control": "no-cache", "request-id": "req_b"}
    json_headers = {"content-type": "application/json", "request-id": "req_b"}

    def handler(api: str) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            parsed = orjson.loads(await request.read())
            reply = replies[(api, parsed.get("stream") is True)]
            if reply.body is not None:
                return web.Response(body=reply.body, headers=json_headers)
            delay = float(request.query.get("delay_ms", "0")) / 1000
            response = web.StreamResponse(headers=stream_headers)
            await response.prepare(request)
            for frame in reply.frames:
                if delay:
                    await asyncio.sleep(delay)
                await response.write(frame)
            await response.write_eof()
            return response

        return handle

    async def health(_: web.Request) -> web.Response:
        return web.Response(body=b"{}", headers=json_headers)

    async def run() -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", handler("anthropic"))
        app.router.add_post("/v1/chat/completions", handler("openai_chat"))
        app.router.add_post("/v1/responses", handler("openai_responses"))
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, HOST, port, backlog=1024).start()
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(run())


# -- processes ----------------------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_healthy(process: subprocess.Popen[bytes], url: str, timeout_s: float) -> None:
    """Wait until `url` answers 200; fail if the process exits first."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args!r} exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=5) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    sys.exit(f"{url} did not answer within {timeout_s:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL, the process group started for `process`."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_upstream(port: int, log: Path) -> subprocess.Popen[bytes]:
    """This file's fake upstream on `port`."""
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [python, __file__, "upstream", str(port)], stdout=out, stderr=out, start_new_session=True
        )
    wait_healthy(process, f"http://{HOST}:{port}/health", STARTUP_TIMEOUT_S)
    return process


def luthien_env(
    port: int, upstream_port: int, src: Path | None, config: Path | None, database_url: str | None = None
) -> dict[str, str]:
    """The environment of a `luthien serve` in front of the fake upstream (recording to `database_url`)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("LUTHIEN_") and key != "PYTHONPATH"
    }
    env.update(
        LUTHIEN_HOST=HOST,
        LUTHIEN_PORT=str(port),
        LUTHIEN_ANTHROPIC_BASE_URL=f"http://{HOST}:{upstream_port}",
        LUTHIEN_OPENAI_BASE_URL=f"http://{HOST}:{upstream_port}/v1",
        LUTHIEN_LOG_LEVEL="warning",
        LUTHIEN_RECORDS="off",
        # Under valgrind on a busy host, connecting can take longer than the default allows.
        LUTHIEN_UPSTREAM_CONNECT_TIMEOUT_S=str(SLOW_HOST_TIMEOUT_S),
    )
    if database_url is not None:
        del env["LUTHIEN_RECORDS"]
        env["LUTHIEN_DATABASE_URL"] = database_url
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    if config is not None:
        env["LUTHIEN_CONFIG"] = str(config)
    return env


def start_luthien(port: int, env: dict[str, str], log: Path, wrapper: list[str]) -> subprocess.Popen[bytes]:
    """`luthien serve` (under `wrapper`, e.g. valgrind), answering `/health`."""
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    argv = [*wrapper, python, "-c", "import sys; from luthien.cli import main; sys.exit(main(['serve']))"]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=out, env=env, start_new_session=True)
    wait_healthy(process, f"http://{HOST}:{port}/health", STARTUP_TIMEOUT_S)
    return process


# -- load ---------------------------------------------------------------------------------------------


async def load(base: str, scenario: Scenario, requests: int, concurrency: int, delay_ms: float) -> None:
    """Send `requests` calls, `concurrency` at a time, reading each answer whole; fail on a non-200."""
    import aiohttp

    body, headers = request_body(scenario), request_headers(scenario)
    url = f"{base}{scenario.path}" + (f"?delay_ms={delay_ms:g}" if delay_ms else "")
    remaining = requests

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            for attempt in range(RETRIES + 1):
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        answer = await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{scenario.name}: HTTP {response.status}: {answer[:300]!r}")
                    break
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                    # Under valgrind one event-loop turn can outlast uvicorn's 5 s keep-alive timer
                    # (its clock is read once per turn): a reused connection may be closed under a
                    # request. Sent again on a fresh one, as HTTP clients do.
                    if attempt == RETRIES:
                        raise

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


def run_load(base: str, scenario: Scenario, requests: int, concurrency: int, delay_ms: float) -> None:
    """`load`, in its own event loop."""
    asyncio.run(load(base, scenario, requests, concurrency, delay_ms))


# -- records databases --------------------------------------------------------------------------------


async def _postgres(statement: str, url: str = POSTGRES_ADMIN_URL) -> Any:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


def records_database(records: str, out_dir: Path, policy: str) -> str | None:
    """A fresh database for `--records` (None: off)."""
    if records == "sqlite":
        path = out_dir / f"records-{policy}.db"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    if records == "postgresql":
        name = f"luthien_instructions_{os.getpid()}_{policy}"
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_postgres(f'CREATE DATABASE "{name}"'))
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    return None


def drop_records_database(database_url: str | None) -> None:
    """Drop a database `records_database` created on PostgreSQL."""
    if database_url is not None and database_url.startswith("postgresql"):
        asyncio.run(_postgres(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)'))


def stored_calls(database_url: str) -> int:
    """Transactions stored so far."""
    import sqlite3

    statement = "SELECT count(*) FROM transactions"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as connection:
            return int(connection.execute(statement).fetchone()[0])
    return int(asyncio.run(_postgres(statement, database_url)))


def wait_stored(database_url: str | None, served: int) -> None:
    """Wait until the writer stored `served` calls (nothing to wait for when recording is off)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while database_url is not None and stored_calls(database_url) < served:
        if time.monotonic() > deadline:
            sys.exit(f"the writer stored {stored_calls(database_url)} of {served} calls")
        time.sleep(0.2)


# -- counting -----------------------------------------------------------------------------------------


def callgrind_control(*args: str) -> None:
    """Run `callgrind_control` (it waits until the server acknowledged the command)."""
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=CONTROL_TIMEOUT_S)


_TOTALS = re.compile(rb"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def dumped_instructions(out_dir: Path, before: set[Path]) -> tuple[int, Path]:
    """The instruction total of the dump file that appeared since `before`."""
    deadline = time.monotonic() + CONTROL_TIMEOUT_S
    while time.monotonic() < deadline:
        new = sorted(set(out_dir.glob("callgrind.out*")) - before)
        for path in new:
            match = _TOTALS.search(path.read_bytes())
            if match:
                return int(match.group(1)), path
        time.sleep(0.2)
    sys.exit("callgrind wrote no dump")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(args: argparse.Namespace, policy: str, out_dir: Path) -> list[dict[str, Any]]:
    """Every chosen scenario through one server running `policy`."""
    upstream_port, port = free_port(), free_port()
    config = None
    if policy == "string_replace":
        config = out_dir / "string_replace.yaml"
        config.write_text(STRING_REPLACE_CONFIG)
    wrapper: list[str] = []
    if args.tool == "callgrind":
        wrapper = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out_dir}/callgrind.out.%p",
        ]
    upstream = start_upstream(upstream_port, out_dir / "upstream.log")
    results: list[dict[str, Any]] = []
    database_url = records_database(args.records, out_dir, policy)
    served = 0
    try:
        env = luthien_env(port, upstream_port, args.src, config, database_url)
        luthien = start_luthien(port, env, out_dir / f"luthien-{policy}.log", wrapper)
        try:
            base = f"http://{HOST}:{port}"
            if args.tool == "callgrind":
                callgrind_control("--instr=on", str(luthien.pid))
            for name in args.scenarios:
                scenario = SCENARIOS[name]
                run_load(base, scenario, args.warmup, args.concurrency, args.delay_ms)
                served += args.warmup
                wait_stored(database_url, served)
                if args.tool == "callgrind":
                    before = set(out_dir.glob("callgrind.out*"))
                    callgrind_control("--zero", str(luthien.pid))
                    run_load(base, scenario, args.requests, args.concurrency, args.delay_ms)
                    served += args.requests
                    wait_stored(database_url, served)
                    callgrind_control("--dump", str(luthien.pid))
                    total, path = dumped_instructions(out_dir, before)
                    target = out_dir / f"callgrind.{policy}.{name}"
                    path.rename(target)
                    cost, unit = total / args.requests, "instructions/call"
                else:
                    start = cpu_seconds(luthien.pid)
                    run_load(base, scenario, args.requests, args.concurrency, args.delay_ms)
                    served += args.requests
                    wait_stored(database_url, served)
                    cost, unit = (cpu_seconds(luthien.pid) - start) / args.requests * 1e6, "CPU µs/call"
                results.append(
                    {
                        "policy": policy,
                        "records": args.records,
                        "scenario": name,
                        "per_call": cost,
                        "unit": unit,
                    }
                )
                print(f"{policy:15} {args.records:10} {name:18} {cost:12,.0f} {unit}", flush=True)
        finally:
            stop(luthien)
    finally:
        stop(upstream)
        drop_records_database(database_url)
    return results


# -- interleaved wrk A/B ------------------------------------------------------------------------------

_WRK_SCRIPT = f"""
function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["anthropic-version"] = "2023-06-01"
   wrk.headers["x-api-key"] = "{API_KEY}"
   wrk.headers["Authorization"] = "Bearer {API_KEY}"
end
"""


def wrk(url: str, body_file: Path, script: Path, connections: int, duration: int) -> float:
    """Requests per second `wrk` measured (non-200 answers fail the run)."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url, "--", str(body_file)]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in output:
        sys.exit(f"wrk saw errors:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        sys.exit(f"no figure in wrk's output:\n{output}")
    return float(match.group(1))


def wrk_ab(args: argparse.Namespace, policy: str, out_dir: Path) -> list[dict[str, Any]]:
    """This tree (B) against `args.wrk_ab` (A), wrk alternating between them."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    script = out_dir / "post.lua"
    script.write_text(_WRK_SCRIPT)
    config = None
    if policy == "string_replace":
        config = out_dir / "string_replace.yaml"
        config.write_text(STRING_REPLACE_CONFIG)
    upstream_port = free_port()
    upstream = start_upstream(upstream_port, out_dir / "upstream.log")
    servers: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    try:
        for label, src in (("before", args.wrk_ab), ("after", args.src)):
            ports[label] = free_port()
            env = luthien_env(ports[label], upstream_port, src, config)
            servers[label] = start_luthien(ports[label], env, out_dir / f"luthien-{label}.log", [])
        for name in args.scenarios:
            scenario = SCENARIOS[name]
            body_file = out_dir / f"{name}.json"
            body_file.write_bytes(request_body(scenario))
            figures: dict[str, list[float]] = {"before": [], "after": []}
            for round_ in range(args.rounds):
                order = ("before", "after") if round_ % 2 == 0 else ("after", "before")
                for label in order:
                    url = f"http://{HOST}:{ports[label]}{scenario.path}"
                    wrk(url, body_file, script, args.connections, 1)  # warm-up
                    figures[label].append(wrk(url, body_file, script, args.connections, args.duration))
            before, after = statistics.median(figures["before"]), statistics.median(figures["after"])
            results.append(
                {"policy": policy, "scenario": name, "before": figures["before"], "after": figures["after"]}
            )
            print(
                f"{policy:15} {name:18} before {before:8,.0f} req/s  after {after:8,.0f} req/s  "
                f"ratio {after / before:.2f}  (rounds: {figures})",
                flush=True,
            )
    finally:
        for server in servers.values():
            stop(server)
        stop(upstream)
    return results


def main() -> None:
    """Entry point."""
    if len(sys.argv) == 3 and sys.argv[1] == "upstream":
        serve_upstream(int(sys.argv[2]))
        return
    if VENV_PYTHON.exists() and Path(sys.executable).resolve() != VENV_PYTHON.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the source tree to measure")
    parser.add_argument("--policies", default="noop", help="comma-separated: noop, string_replace")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--requests", type=int, default=1000, help="measured calls per scenario")
    parser.add_argument("--warmup", type=int, default=100, help="calls before measuring")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause before each upstream frame")
    parser.add_argument("--tool", choices=("callgrind", "cpu"), default="callgrind")
    parser.add_argument(
        "--records", choices=("off", "sqlite", "postgresql"), default="off", help="where calls are recorded"
    )
    parser.add_argument("--wrk-ab", type=Path, help="source tree to compare against with wrk, interleaved")
    parser.add_argument("--rounds", type=int, default=4, help="wrk runs of each server per scenario")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--out", type=Path, help="where dumps and logs go (default: a temporary directory)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    args.scenarios = [name for name in args.scenarios.split(",") if name]
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        sys.exit(f"unknown scenarios: {unknown}; known: {list(SCENARIOS)}")
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="luthien-instructions-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for policy in args.policies.split(","):
        if args.wrk_ab is not None:
            results.extend(wrk_ab(args, policy, out_dir))
        else:
            results.extend(measure(args, policy, out_dir))
    print(f"dumps and logs: {out_dir}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
