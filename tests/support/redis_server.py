"""A private `redis-server` on a loopback port, started and stopped by a test.

The machine's Redis (6379) is shared with other test runs and must never be stopped; a test that
needs Redis to go away, or to appear on a port where nothing listened, uses one of these.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.ports import free_port

START_TIMEOUT_S = 10.0
"""Deadlock guard for the server to answer `PING`; never reached on a working machine."""
POLL_S = 0.02


class RedisServer:
    """`redis-server` without persistence on `port` (a free one by default)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = Path(tempfile.mkdtemp(prefix="luthien-redis-"))
        self._pidfile = self._folder / "redis.pid"

    def start(self) -> RedisServer:
        """Start it and return once it answers `PING`."""
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self._pidfile),
                "--dir",
                str(self._folder),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        with redis.Redis(port=self.port, socket_connect_timeout=1.0) as client:
            while True:
                try:
                    if client.ping():
                        return self
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(POLL_S)

    def stop(self) -> None:
        """Stop the server this object started (by its pid), and wait until it is gone."""
        try:
            pid = int(self._pidfile.read_text())
        except (OSError, ValueError):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(POLL_S)
        self._pidfile.unlink(missing_ok=True)

    def keys(self, pattern: str) -> list[bytes]:
        """The keys matching `pattern` on this server."""
        with redis.Redis(port=self.port) as client:
            found: list[bytes] = client.keys(pattern)  # pyright: ignore[reportAssignmentType]
            return found
