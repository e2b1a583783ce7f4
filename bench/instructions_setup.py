"""What `bench/instructions.py` measures with: its scenarios, its fake upstream, its servers and its load.

The fake upstream (`bench/instructions.py upstream PORT`) answers the three APIs with replies built by
`luthien.testing.streams` and precomputed at start-up: `TEXT_WORDS` text deltas per stream, one write
per SSE frame. `luthien serve` runs with recording off, in front of it, with the `LUTHIEN_*` settings
of a variant (`bench/variants.py`) when one is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from variants import CLIENT_KEY

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
INSTRUCTIONS_SCRIPT = BENCH_DIR / "instructions.py"
HOST = "127.0.0.1"
TEXT_WORDS = 20
"""Text deltas per stream (as `bench/run.py`'s default)."""
TEXT = " ".join(["This", "is", "a", "fake", "answer"] * (TEXT_WORDS // 5))
API_KEY = CLIENT_KEY
STARTUP_TIMEOUT_S = 600.0
"""Seconds to wait for a server to answer `/health` (start-up under valgrind is slow)."""
SLOW_HOST_TIMEOUT_S = 120
RETRIES = 3


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
            [python, str(INSTRUCTIONS_SCRIPT), "upstream", str(port)],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    wait_healthy(process, f"http://{HOST}:{port}/health", STARTUP_TIMEOUT_S)
    return process


def luthien_env(port: int, upstream_port: int, src: Path | None, variant: dict[str, str]) -> dict[str, str]:
    """The environment of a `luthien serve` in front of the fake upstream, with a variant's settings."""
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
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    env.update(variant)
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
