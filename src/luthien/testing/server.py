"""A real Luthien server (uvicorn) on a loopback port, running in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
import uvloop

from luthien.config import LuthienConfig
from luthien.gateway.app import create_app
from luthien.gateway.serving import GracefulServer
from luthien.settings import Settings

STARTUP_TIMEOUT_S = 10.0

T = TypeVar("T")


class LuthienServer:
    """Start with `start()`, stop with `stop()`; `base_url` is `http://127.0.0.1:<port>`."""

    def __init__(self, settings: Settings, config: LuthienConfig | None = None) -> None:
        self.settings = settings
        self.app = create_app(settings, config or LuthienConfig())
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        # The server class of `luthien serve`: stopping it shuts down the way SIGTERM does.
        self._server = GracefulServer(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on", http="httptools"),
            self.app.state.gateway,
        )
        self._thread = threading.Thread(target=self._run, name=f"luthien-{self.port}", daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None

    def _run(self) -> None:
        # The same event loop as `luthien serve` (uvloop): it sets TCP_NODELAY on accepted sockets,
        # without which a reused keep-alive connection stalls small stream writes (Nagle).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            self.loop = runner.get_loop()
            runner.run(self._server.serve(sockets=[self._socket]))

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coroutine` on the server's event loop (e.g. to read its event bus); return its result."""
        assert self.loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> LuthienServer:
        """Serve in the background thread; return once listening (RuntimeError if it cannot start)."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("Luthien server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and release the port."""
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT_S)
        self._socket.close()
