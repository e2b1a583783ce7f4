"""Luthien benchmark: the same load against the fake upstream directly and through Luthien.

`python bench/run.py` (or `make bench`) starts `bench/fake_upstream.py` and `luthien serve` on
loopback ports, drives both with `wrk` (POST bodies from `bench/post.lua`), prints a table with the
through-Luthien / direct ratios, and writes `bench/results/latest.json`. Every process it starts is
stopped on exit, including on Ctrl-C. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
RESULTS_DIR = BENCH_DIR / "results"
LUA_SCRIPT = BENCH_DIR / "post.lua"
HOST = "127.0.0.1"
MODEL = "claude-fake-1"
STARTUP_TIMEOUT_S = 30.0
# Targets for this stage (no policy).
TARGET_NONSTREAM_RPS = 2000.0
TARGET_ADDED_P50_MS = 1.0
# CPUs' worth of time used by processes outside the benchmark above which a run is flagged as noisy.
NOISY_CPU = 0.05
# Size of the CPU-speed calibration loop, and how much slower than the run's fastest calibration a
# measurement's may be before it is flagged (host contention that no in-VM counter shows).
CALIBRATION_LOOPS = 300_000
CALIBRATION_SPIN_S = 0.3
NOISY_CALIBRATION = 1.15
WRK_INSTALL_HINT = (
    "bench/run.py needs `wrk` (https://github.com/wg/wrk). Install it with:\n"
    "    Debian/Ubuntu: sudo apt-get install -y wrk\n"
    "    macOS:         brew install wrk"
)
VERSIONED_PACKAGES = ("uvicorn", "starlette", "aiohttp", "uvloop", "httptools", "orjson", "pydantic")


# ---------------------------------------------------------------------------------------------
# Process management


class Processes:
    """Every subprocess the benchmark started, each in its own session so it can be stopped as a group.

    Children do not share the terminal's process group, so Ctrl-C reaches only this script, which
    then stops them itself (SIGTERM, then SIGKILL after a grace period).
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a long-running process whose output goes to `<log_dir>/<name>.log`."""
        log = (self.log_dir / f"{name}.log").open("wb")
        try:
            process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=ROOT
            )
        finally:
            log.close()
        self._running.append((name, process))
        return process

    def run(self, argv: Sequence[str], timeout: float) -> str:
        """Run a command to completion and return its stdout; it is killed if this script is interrupted."""
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=ROOT
        )
        self._running.append((argv[0], process))
        try:
            out, err = process.communicate(timeout=timeout)
        finally:
            self.stop(process)
        if process.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} failed ({process.returncode}): {err.decode().strip()}")
        return out.decode()

    def session_ids(self) -> set[int]:
        """Session ids of the running processes (each was started as its own session leader)."""
        return {process.pid for _, process in self._running}

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The end of a started process's log."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Stop one process and everything in its session."""
        self._running = [(name, p) for name, p in self._running if p is not process]
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        else:
            # The leader is gone; workers it forked may still be in the group.
            _signal_group(process, signal.SIGKILL)

    def stop_all(self) -> None:
        """Stop every process still running, newest first."""
        for _, process in reversed(list(self._running)):
            self.stop(process)


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _raise_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(
    processes: Processes, name: str, process: subprocess.Popen[bytes], url: str, timeout: float
) -> None:
    """Poll `url` until it answers 200.

    Raises:
        RuntimeError: the process exited or did not become healthy in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{processes.log_tail(name)}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s:\n{processes.log_tail(name)}")


# ---------------------------------------------------------------------------------------------
# CPU pinning


@dataclass(frozen=True)
class CpuLayout:
    """Which CPUs the server under test and the rest (wrk, the fake when it is not under test) use.

    With `pin=off` both are None and the scheduler decides.
    """

    server: list[int] | None
    load: list[int] | None

    def describe(self) -> str:
        """One line for the report."""
        if self.server is None or self.load is None:
            return "not pinned"
        return (
            f"server under test on CPU {_cpus(self.server)}; "
            f"wrk, the other server and this script on CPU {_cpus(self.load)}"
        )


def _cpus(cpus: list[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def cpu_layout(pin: str) -> CpuLayout:
    """Give the server under test one CPU of its own (the last one) and everything else the rest."""
    available = sorted(os.sched_getaffinity(0))
    if pin == "off" or len(available) < 2 or shutil.which("taskset") is None:
        return CpuLayout(None, None)
    return CpuLayout(server=available[-1:], load=available[:-1])


def taskset(cpus: list[int] | None, argv: list[str]) -> list[str]:
    """`argv` prefixed with `taskset -c CPUS` when pinning."""
    if cpus is None:
        return argv
    return ["taskset", "-c", _cpus(cpus), *argv]


def pin_process(pid: int, cpus: list[int] | None) -> None:
    """Move every thread of a running process to `cpus`."""
    if cpus is None:
        return
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


# ---------------------------------------------------------------------------------------------
# CPU used by processes that are not part of the benchmark (other work on the machine = noise)

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _system_ticks() -> tuple[int, int]:
    """(user + nice + system, steal) ticks of all CPUs together, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = fields
    return user + nice + system, steal


def _session_ticks(sessions: set[int]) -> dict[int, int]:
    """CPU ticks used so far by the processes of each session (threads included)."""
    ticks = dict.fromkeys(sessions, 0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp session ... utime stime (14th, 15th).
        rest = text[text.rindex(")") + 2 :].split()
        session = int(rest[3])
        if session in ticks:
            ticks[session] += int(rest[11]) + int(rest[12])
    return ticks


def _self_ticks() -> int:
    """CPU ticks of this process and its reaped children (the finished wrk runs)."""
    own = os.times()
    return round((own.user + own.system + own.children_user + own.children_system) * _TICKS_PER_S)


class CpuAccounting:
    """Over a `with` block: CPU seconds of the server under test, and CPUs' worth used by other processes.

    Everything the benchmark started runs in sessions it knows, so whatever else the kernel counts as
    busy is other work on the machine, i.e. noise.
    """

    def __init__(self, processes: Processes, server: subprocess.Popen[bytes]) -> None:
        self._processes = processes
        self._server = server.pid
        self.server_cpu_s = 0.0
        self.other_cpu = 0.0
        self.steal_cpu = 0.0

    def __enter__(self) -> CpuAccounting:
        self._sessions = self._processes.session_ids()
        self._start = time.monotonic()
        self._busy, self._steal = _system_ticks()
        self._ticks = _session_ticks(self._sessions)
        self._self = _self_ticks()
        return self

    def __exit__(self, *exc_info: object) -> None:
        busy, steal = _system_ticks()
        ticks = _session_ticks(self._sessions)
        own = sum(ticks.values()) - sum(self._ticks.values()) + _self_ticks() - self._self
        elapsed = (time.monotonic() - self._start) * _TICKS_PER_S
        self.server_cpu_s = (ticks.get(self._server, 0) - self._ticks.get(self._server, 0)) / _TICKS_PER_S
        self.other_cpu = max(0.0, ((busy - self._busy) - own) / elapsed)
        self.steal_cpu = (steal - self._steal) / elapsed


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


async def _ttft(url: str, body: bytes, duration: float) -> Measurement:
    import aiohttp

    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "sk-bench"}
    first: list[float] = []
    total: list[float] = []
    errors = 0
    marker = b"content_block_delta"
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


def run_ttft(url: str, body: bytes, duration: float) -> Measurement:
    """Sequential streams on one connection; time to the first text delta and to the end of the stream."""
    return asyncio.run(_ttft(url, body, duration))


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Scenario:
    """One kind of load, run against both targets."""

    name: str
    description: str
    path: str
    body: dict[str, Any]
    connections: int
    query: str = ""
    ttft: bool = False


@dataclass
class Comparison:
    """A scenario's results: direct, through Luthien, and how they compare."""

    scenario: str
    description: str
    connections: int
    direct: Measurement
    luthien: Measurement
    rps_ratio: float = 0.0
    added_p50_ms: float = 0.0
    added_p99_ms: float = 0.0
    added_ttft_p50_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        self.rps_ratio = self.luthien.rps / self.direct.rps if self.direct.rps else 0.0
        self.added_p50_ms = self.luthien.latency_ms["p50"] - self.direct.latency_ms["p50"]
        self.added_p99_ms = self.luthien.latency_ms["p99"] - self.direct.latency_ms["p99"]
        if self.luthien.ttft_ms is not None and self.direct.ttft_ms is not None:
            self.added_ttft_p50_ms = self.luthien.ttft_ms["p50"] - self.direct.ttft_ms["p50"]


def _messages_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    }
    if stream:
        body["stream"] = True
    return body


def _chat_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-fake-1",
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    }
    if stream:
        body["stream"] = True
    return body


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    """The scenarios selected on the command line, in run order."""
    c = args.connections
    deltas = f"deltas={args.deltas}"
    every = [
        Scenario(
            "messages_c1",
            "POST /v1/messages, non-streaming, 1 connection (latency)",
            "/v1/messages",
            _messages_body(False),
            1,
        ),
        Scenario(
            f"messages_c{c}",
            f"POST /v1/messages, non-streaming, {c} connections (throughput)",
            "/v1/messages",
            _messages_body(False),
            c,
        ),
        Scenario(
            f"messages_stream_c{c}",
            f"POST /v1/messages, streaming ({args.deltas} deltas, no pauses), {c} connections",
            "/v1/messages",
            _messages_body(True),
            c,
            deltas,
        ),
        Scenario(
            "messages_stream_ttft",
            f"POST /v1/messages, streaming, 1 connection, {args.ttft_deltas} deltas each after "
            f"{args.ttft_delay_ms:g} ms (time to first token)",
            "/v1/messages",
            _messages_body(True),
            1,
            f"deltas={args.ttft_deltas}&delta_delay_ms={args.ttft_delay_ms:g}",
            ttft=True,
        ),
        Scenario(
            f"chat_c{c}",
            f"POST /v1/chat/completions, non-streaming, {c} connections",
            "/v1/chat/completions",
            _chat_body(False),
            c,
        ),
        Scenario(
            f"chat_stream_c{c}",
            f"POST /v1/chat/completions, streaming ({args.deltas} deltas), {c} connections",
            "/v1/chat/completions",
            _chat_body(True),
            c,
            deltas,
        ),
    ]
    if args.scenarios == "all":
        return every
    if args.scenarios == "default":
        return [s for s in every if not s.name.startswith("chat")]
    wanted = {name.strip() for name in args.scenarios.split(",")}
    chosen = [s for s in every if s.name in wanted]
    unknown = wanted - {s.name for s in chosen}
    if unknown:
        raise SystemExit(f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in every]}")
    return chosen


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Targets:
    """Base URLs of the two targets and the pids to pin."""

    direct: str
    luthien: str
    fake_pid: int


def check_answers(base: str, label: str) -> None:
    """One streaming and one non-streaming call must succeed before anything is measured.

    Raises:
        RuntimeError: a call failed or returned something unexpected.
    """
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "sk-bench"}
    for stream, expected in ((False, b'"type":"message"'), (True, b"event: message_stop")):
        request = urllib.request.Request(
            f"{base}/v1/messages?deltas=3",
            data=json.dumps(_messages_body(stream)).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{label}: HTTP {error.code}: {error.read()[:500]!r}") from error
        if expected not in body:
            raise RuntimeError(f"{label}: unexpected answer to stream={stream}: {body[:500]!r}")


def measure(
    processes: Processes,
    args: argparse.Namespace,
    scenario: Scenario,
    base: str,
    body_file: Path,
    load_cpus: list[int] | None,
) -> Measurement:
    """Run one scenario against one base URL."""
    url = f"{base}{scenario.path}" + (f"?{scenario.query}" if scenario.query else "")
    if scenario.ttft:
        return run_ttft(url, body_file.read_bytes(), args.duration)
    return run_wrk(processes, url, body_file, scenario.connections, args.duration, args.threads, load_cpus)


def measure_accounted(
    processes: Processes,
    args: argparse.Namespace,
    scenario: Scenario,
    base: str,
    body_file: Path,
    load_cpus: list[int] | None,
    fake: subprocess.Popen[bytes],
    luthien: subprocess.Popen[bytes],
    target: str,
) -> Measurement:
    """`measure`, plus the server's CPU time, other processes' CPU use and CPU-speed probes."""
    before = calibration_ms()
    with CpuAccounting(processes, fake if target == "direct" else luthien) as cpu:
        m = measure(processes, args, scenario, base, body_file, load_cpus)
    m.calibration_ms = max(before, calibration_ms())
    m.other_cpu, m.steal_cpu = cpu.other_cpu, cpu.steal_cpu
    m.server_cpu_s = cpu.server_cpu_s
    m.server_cpu_us_per_request = cpu.server_cpu_s * 1e6 / m.requests if m.requests else 0.0
    return m


def median(measurements: list[Measurement]) -> Measurement:
    """The run with the median throughput (the lower middle one for an even count)."""
    ordered = sorted(measurements, key=lambda m: m.rps)
    return ordered[(len(ordered) - 1) // 2]


def warm_up(
    processes: Processes, args: argparse.Namespace, base: str, body_dir: Path, layout: CpuLayout
) -> None:
    """Short discarded runs so connection pools are full and code paths are warm."""
    if args.warmup <= 0:
        return
    for stream in (False, True):
        body_file = body_dir / f"warmup-{stream}.json"
        body_file.write_bytes(json.dumps(_messages_body(stream)).encode())
        url = f"{base}/v1/messages?deltas={args.deltas}"
        run_wrk(processes, url, body_file, args.connections, args.warmup, args.threads, layout.load)


def run_all(
    processes: Processes, args: argparse.Namespace, layout: CpuLayout, body_dir: Path
) -> dict[str, Any]:
    """Start both servers, run every scenario against each, return the report."""
    fake_port, luthien_port = free_port(), free_port()
    python = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
    # The fake starts on the load CPUs (while Luthien is under test); it is moved for direct runs.
    fake = processes.start(
        "fake_upstream", taskset(layout.load, [python, str(BENCH_DIR / "fake_upstream.py"), str(fake_port)])
    )
    env = {
        **os.environ,
        "LUTHIEN_HOST": HOST,
        "LUTHIEN_PORT": str(luthien_port),
        "LUTHIEN_ANTHROPIC_BASE_URL": f"http://{HOST}:{fake_port}",
        "LUTHIEN_OPENAI_BASE_URL": f"http://{HOST}:{fake_port}/v1",
        "LUTHIEN_LOG_LEVEL": "warning",
    }
    for name in ("LUTHIEN_API_KEY", "LUTHIEN_AUTH_MODE", "LUTHIEN_CONFIG"):
        env.pop(name, None)
    proxy_argv = shlex.split(args.proxy_cmd.format(port=luthien_port, host=HOST, python=python))
    luthien = processes.start("luthien", taskset(layout.server, proxy_argv), env)
    direct, through = f"http://{HOST}:{fake_port}", f"http://{HOST}:{luthien_port}"
    wait_healthy(processes, "fake_upstream", fake, f"{direct}/health", STARTUP_TIMEOUT_S)
    wait_healthy(processes, "luthien", luthien, f"{through}/health", STARTUP_TIMEOUT_S)
    check_answers(direct, "fake upstream")
    check_answers(through, "luthien")

    comparisons: list[Comparison] = []
    chosen = scenarios(args)
    for index, scenario in enumerate(chosen, 1):
        body_file = body_dir / f"{scenario.name}.json"
        body_file.write_bytes(json.dumps(scenario.body).encode())
        runs: dict[str, list[Measurement]] = {"direct": [], "luthien": []}
        for repeat in range(args.repeat):
            for target, base in (("direct", direct), ("luthien", through)):
                # The server under test gets the server CPU; the fake stays off it while Luthien is tested.
                pin_process(fake.pid, layout.server if target == "direct" else layout.load)
                if index == 1 and repeat == 0:
                    warm_up(processes, args, base, body_dir, layout)
                label = f"[{index}/{len(chosen)}]" + (
                    f" run {repeat + 1}/{args.repeat}" if args.repeat > 1 else ""
                )
                print(f"{label} {scenario.name} {target:8} ...", end="", flush=True)
                m = measure_accounted(
                    processes, args, scenario, base, body_file, layout.load, fake, luthien, target
                )
                runs[target].append(m)
                ttft = f", TTFT p50 {m.ttft_ms['p50']:.3f} ms" if m.ttft_ms else ""
                errors = f", {m.errors} ERRORS ({m.error_detail})" if m.errors else ""
                noise = f", other processes used {m.other_cpu:.2f} CPU" if m.other_cpu >= NOISY_CPU else ""
                print(f" {m.rps:9.1f} req/s, p50 {m.latency_ms['p50']:.3f} ms{ttft}{errors}{noise}")
        comparison = Comparison(
            scenario.name,
            scenario.description,
            scenario.connections,
            median(runs["direct"]),
            median(runs["luthien"]),
        )
        if args.repeat > 1:
            comparison.extra["runs"] = {
                target: [{"rps": m.rps, "p50_ms": m.latency_ms["p50"]} for m in measured]
                for target, measured in runs.items()
            }
        comparisons.append(comparison)
    return report(args, layout, proxy_argv, comparisons)


# ---------------------------------------------------------------------------------------------
# Report


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's best guess)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    versions: dict[str, str] = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    with contextlib.suppress(OSError, subprocess.SubprocessError, IndexError):
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        versions["wrk"] = wrk.stdout.split()[1]
    return versions


def _git(*args: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=10)
        if done.returncode == 0:
            return done.stdout.strip()
    return None


def source_info() -> dict[str, Any]:
    """Which Luthien code was measured: the git commit, whether src/ differs from it, the package path."""
    status = _git("status", "--porcelain", "--", "src")
    package = subprocess.run(
        [
            str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable),
            "-c",
            "import luthien; print(luthien.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    in_tree = bool(package) and Path(package).resolve().is_relative_to(ROOT / "src")
    return {
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "src_modified": bool(status) if status is not None and in_tree else None,
        "luthien_package": package or None,
    }


def noise(comparisons: list[Comparison]) -> dict[str, list[str]]:
    """Why each noisy scenario's numbers are suspect: other processes busy, or the CPU running slow."""
    best = min(m.calibration_ms for c in comparisons for m in (c.direct, c.luthien))
    reasons: dict[str, list[str]] = {}
    for c in comparisons:
        found: list[str] = []
        other = max(c.direct.other_cpu, c.luthien.other_cpu)
        if other >= NOISY_CPU:
            found.append(f"other processes used {other:.2f} CPU")
        slowest = max(c.direct.calibration_ms, c.luthien.calibration_ms)
        if best > 0 and slowest > best * NOISY_CALIBRATION:
            found.append(f"CPU {slowest / best:.2f}x slower than at best (host contention)")
        if found:
            reasons[c.scenario] = found
    return reasons


def report(
    args: argparse.Namespace, layout: CpuLayout, proxy_argv: list[str], comparisons: list[Comparison]
) -> dict[str, Any]:
    """The JSON document written to results/latest.json."""
    by_name = {c.scenario: c for c in comparisons}
    checks: dict[str, Any] = {}
    if throughput := by_name.get(f"messages_c{args.connections}"):
        checks["nonstream_rps"] = {
            "value": throughput.luthien.rps,
            "target_min": TARGET_NONSTREAM_RPS,
            "met": throughput.luthien.rps >= TARGET_NONSTREAM_RPS,
        }
    if latency := by_name.get("messages_c1"):
        checks["added_p50_ms_c1"] = {
            "value": latency.added_p50_ms,
            "target_max": TARGET_ADDED_P50_MS,
            "met": latency.added_p50_ms <= TARGET_ADDED_P50_MS,
        }
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "nproc": os.cpu_count(),
            "cpus_available": len(os.sched_getaffinity(0)),
            "cpu_model": cpu_model(),
            "kernel": platform.release(),
        },
        "versions": _versions(),
        "source": source_info(),
        "config": {
            "duration_s": args.duration,
            "repeat": args.repeat,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "deltas": args.deltas,
            "ttft_deltas": args.ttft_deltas,
            "ttft_delay_ms": args.ttft_delay_ms,
            "pinning": layout.describe(),
            "proxy_cmd": shlex.join(proxy_argv),
        },
        "targets": checks,
        "noise": noise(comparisons),
        "scenarios": [asdict(c) for c in comparisons],
    }


def print_table(result: dict[str, Any]) -> None:
    """The human-readable summary."""
    rows: list[tuple[str, str, str, str, str]] = []
    for c in result["scenarios"]:
        direct, luthien = c["direct"], c["luthien"]
        name = c["scenario"] + (" *" if c["scenario"] in result["noise"] else "")
        rows.append(
            (
                name,
                "req/s",
                f"{direct['rps']:.0f}",
                f"{luthien['rps']:.0f}",
                f"x{c['rps_ratio']:.2f}",
            )
        )
        for key in ("p50", "p99"):
            added = c[f"added_{key}_ms"]
            rows.append(
                (
                    "",
                    f"{key} ms",
                    f"{direct['latency_ms'][key]:.3f}",
                    f"{luthien['latency_ms'][key]:.3f}",
                    f"+{added:.3f} ms" if added >= 0 else f"{added:.3f} ms",
                )
            )
        direct_cpu, luthien_cpu = direct["server_cpu_us_per_request"], luthien["server_cpu_us_per_request"]
        rows.append(
            (
                "",
                "server CPU µs/req",
                f"{direct_cpu:.0f}",
                f"{luthien_cpu:.0f}",
                f"x{luthien_cpu / direct_cpu:.2f}" if direct_cpu else "",
            )
        )
        if c["added_ttft_p50_ms"] is not None:
            rows.append(
                (
                    "",
                    "TTFT p50 ms",
                    f"{direct['ttft_ms']['p50']:.3f}",
                    f"{luthien['ttft_ms']['p50']:.3f}",
                    f"+{c['added_ttft_p50_ms']:.3f} ms",
                )
            )
        for label, m in (("direct", direct), ("luthien", luthien)):
            if m["errors"]:
                rows.append(("", f"ERRORS {label}", str(m["errors"]), m["error_detail"], ""))
    header = ("scenario", "metric", "direct", "via Luthien", "Luthien/direct")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        )
    print()
    m = result["machine"]
    print(f"machine: {m['nproc']} CPUs, {m['cpu_model']}; pinning: {result['config']['pinning']}")
    source = result["source"]
    modified = ", src/ modified" if source["src_modified"] else ""
    print(f"luthien: {source['luthien_package']} (commit {source['git_commit']}{modified})")
    if result["noise"]:
        print("WARNING: scenarios marked * ran on a busy machine; re-run them when it is quiet:")
        for scenario, reasons in result["noise"].items():
            print(f"  {scenario}: {'; '.join(reasons)}")
    for name, check in result["targets"].items():
        bound = f">= {check['target_min']:g}" if "target_min" in check else f"<= {check['target_max']:g}"
        print(f"target {name}: {check['value']:.3f} (want {bound}) -> {'met' if check['met'] else 'MISSED'}")


# ---------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per scenario and target, interleaved; the median run is reported (default 1)",
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of discarded load per target (default 2)"
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="connections for throughput runs (default 64)"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--deltas", type=int, default=20, help="text deltas per stream (default 20)")
    parser.add_argument("--ttft-deltas", type=int, default=5, help="text deltas per TTFT stream (default 5)")
    parser.add_argument(
        "--ttft-delay-ms", type=float, default=5.0, help="pause before each delta in the TTFT run (default 5)"
    )
    parser.add_argument(
        "--pin",
        choices=("auto", "off"),
        default="off",
        help="off: the scheduler places processes (default); auto: the server under test gets the "
        "last CPU, wrk and everything else the others",
    )
    parser.add_argument(
        "--scenarios",
        default="default",
        help="'default', 'all', or a comma-separated list of scenario names",
    )
    parser.add_argument(
        "--proxy-cmd",
        default=f"{ROOT / '.venv' / 'bin' / 'luthien'} serve",
        help="command that serves Luthien; {port}, {host} and {python} are substituted "
        "(default: .venv/bin/luthien serve, port from LUTHIEN_PORT)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_DIR / "latest.json",
        help="JSON results file (default results/latest.json)",
    )
    return parser.parse_args(argv)


def _reexec_in_venv() -> None:
    """Re-run under the project's virtualenv, whose packages the fake, the client and the report use."""
    venv = ROOT / ".venv"
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the process exit status."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_INSTALL_HINT, file=sys.stderr)
        return 2
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(exist_ok=True)
    layout = cpu_layout(args.pin)
    if layout.load is not None:
        # This script (the TTFT client) runs with the load generator.
        os.sched_setaffinity(0, layout.load)
    # Ctrl-C raises KeyboardInterrupt even when a parent started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_on_signal)
    processes = Processes(log_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="luthien-bench-") as body_dir:
            result = run_all(processes, args, layout, Path(body_dir))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping servers", file=sys.stderr)
        return 130
    except RuntimeError as error:
        print(f"\nbenchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        processes.stop_all()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"results written to {_display(args.output)}; server logs in {_display(log_dir)}")
    return 0


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


if __name__ == "__main__":
    _reexec_in_venv()
    sys.exit(main())
