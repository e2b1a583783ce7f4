"""Benchmark processes: constants, servers in sessions of their own, CPU placement and accounting.

CPU accounting: what the server under test used, and what other processes used meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
RESULTS_DIR = BENCH_DIR / "results"
# `make bench-peers` installs the peers in a virtualenv of their own (never Luthien's dependencies).
PEERS_VENV = ROOT / ".cache" / "bench-peers"
LITELLM = PEERS_VENV / "bin" / "litellm"
LUA_SCRIPT = BENCH_DIR / "post.lua"
HOST = "127.0.0.1"
MODEL = "claude-fake-1"
STARTUP_TIMEOUT_S = 30.0
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


@dataclass
class Target:
    """One server the load is run against: the fake itself (`direct`), or a proxy in front of it.

    Attributes:
        name: its column in the report.
        base: its base URL.
        process: the server (its CPU time is the server CPU of the report).
        ttft: whether time-to-first-token scenarios run on it.
        latency: whether the 1-connection latency scenarios run on it.
        skipped_paths: endpoints it does not serve (a peer's), whose scenarios skip it.
        expect: bytes every answer of its must hold (checked before measuring).
    """

    name: str
    base: str
    process: subprocess.Popen[bytes]
    ttft: bool = True
    latency: bool = True
    skipped_paths: set[str] = field(default_factory=set[str])
    expect: bytes | None = None


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
