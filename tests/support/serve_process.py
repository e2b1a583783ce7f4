"""A real `luthien serve` process (the console script of the test's venv) on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from tests.support.ports import free_port

LUTHIEN = str(Path(sys.executable).parent / "luthien")
GUARD_S = 60.0
"""How long to wait for a process to start or stop; generous, since a loaded machine starts Python slowly."""
POLL_S = 0.05
STARTUP_POLLS = 300
"""How many times `wait_until_serving` polls before failing the test (about `GUARD_S` / 4 in all)."""
_SCRUBBED_PREFIXES = ("LUTHIEN_", "ANTHROPIC_", "OPENAI_")


def clean_env(**extra: str) -> dict[str, str]:
    """A copy of the environment without any setting Luthien or the SDKs read, plus `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(_SCRUBBED_PREFIXES)}
    return {**env, **extra}


def refuses_connections(port: int) -> bool:
    """Whether a new TCP connection to `127.0.0.1:port` is refused."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=GUARD_S):
            return False
    except ConnectionRefusedError:
        return True


class ServeProcess:
    """`luthien serve` with the given settings (environment); its stderr goes to a file in `log_dir`."""

    def __init__(self, settings: dict[str, str], log_dir: Path, name: str = "luthien") -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self._env = clean_env(LUTHIEN_HOST="127.0.0.1", LUTHIEN_PORT=str(self.port), **settings)
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        """Start the process and return once `/health` answers."""
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [LUTHIEN, "serve"], env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + GUARD_S
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"luthien exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=GUARD_S).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"luthien did not start: {self.log()}"
            time.sleep(POLL_S)

    def log(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the process."""
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self) -> int:
        """Wait for the process to exit (up to the guard) and return its exit status."""
        assert self.process is not None
        returncode = self.process.wait(timeout=GUARD_S)
        if self._log is not None:
            self._log.close()
        return returncode

    def stop(self) -> None:
        """Kill the process if it still runs (test cleanup)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=GUARD_S)
        if self._log is not None:
            self._log.close()


def wait_until_serving(process: subprocess.Popen[str], url: str) -> httpx.Response:
    """Poll `url` until it answers, a bounded number of times; fail if the process exits first."""
    for _ in range(STARTUP_POLLS):
        if process.poll() is not None:
            raise AssertionError(f"luthien exited with {process.returncode} before serving")
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(POLL_S)
    raise AssertionError(f"luthien did not answer {url} after {STARTUP_POLLS} tries")


def stop(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> tuple[int, str]:
    """Signal the server to stop and return its exit status and stderr."""
    process.send_signal(sig)
    try:
        _, stderr = process.communicate(timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return process.returncode, stderr


def start_serve(
    processes: list[subprocess.Popen[str]], args: list[str], env: dict[str, str]
) -> subprocess.Popen[str]:
    """Start `luthien serve args` with `env` (text pipes), added to `processes`; it may still be starting."""
    process = subprocess.Popen(
        [LUTHIEN, "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    return process
