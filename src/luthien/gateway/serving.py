"""Running the gateway under uvicorn, with a graceful shutdown on SIGTERM and SIGINT.

On the first signal the server stops accepting connections (the listening socket closes, so new
connections are refused), closes idle keep-alive connections, ends the endless streams (activity
monitors, which reconnect elsewhere) and lets calls in flight finish for up to
`LUTHIEN_SHUTDOWN_GRACE_S`. Calls still running then have their upstream connections cut: each
ends as a failed call (the client gets its API's error, mid-stream as an error event) and is
recorded. Then the app's lifespan ends: the upstream pool closes, the record writer drains its queue
into the database and the event publishers flush. A second SIGINT (Ctrl-C twice) skips the wait.

With `LUTHIEN_WORKERS` > 1 each worker process (`luthien.gateway.workers`) runs `serve_worker`: the
same server on a listening socket of its own bound with `SO_REUSEPORT` to the shared port (the
kernel spreads connections over the workers), answering with an `x-luthien-worker` header.

A service told to stop that stopped cleanly exits 0. uvicorn on its own re-raises the signal it
caught once it has shut down, which makes the process end "killed by SIGTERM"; `GracefulServer`
does not, so supervisors (systemd, Docker, Kubernetes) see a clean exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import threading
from collections.abc import Callable, Generator

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from luthien.gateway.state import GatewayState
from luthien.settings import Settings

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
WORKER_HEADER = b"x-luthien-worker"
"""Response header naming the worker (0, 1, ...) that served a call, with more than one worker."""
LISTEN_BACKLOG = 2048
"""Pending connections each worker's socket queues (uvicorn's own default)."""
CANCEL_MARGIN_S = 5
"""Seconds after the upstream connections are cut before uvicorn cancels whatever still runs (a call
that was not waiting on its upstream, such as one writing to a client that stopped reading)."""


GC_GEN0_THRESHOLD = 10_000
"""Allocations between young-generation collections (CPython's default: 2,000 on 3.13, 700 before).

Every call allocates thousands of short-lived objects (frames, events, dicts, tasks); with the
default threshold the collector ran several times per call and cost 5-15 % of the CPU
(docs/performance.md). Reference counting frees nearly all of them anyway; the threshold only
sets how often cycles are looked for."""


def tune_gc() -> None:
    """Move what start-up built out of the collector's sight, and collect young objects less often.

    `gc.freeze()` puts every object alive now (modules, classes, the app, the policies) in a
    permanent generation the collector never scans again, so the full collections that happen
    under load only walk what calls created. Called once start-up is over.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


class GracefulServer(uvicorn.Server):
    """A uvicorn server that shuts down on SIGTERM/SIGINT and returns instead of re-raising them.

    Args:
        config: uvicorn's configuration (its `timeout_graceful_shutdown` is the last-resort cancel).
        state: the app's state: its `draining` event is set when shutdown starts, and its upstream
            client cuts the calls still running once the grace period is over.
        on_started: called once the server accepts calls (a worker tells its parent).
        tune_gc: apply `tune_gc` once started (the server owns its process: `luthien serve`; a
            server in a test's thread leaves the test process's collector alone).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        state: GatewayState,
        on_started: Callable[[], None] | None = None,
        tune_gc: bool = False,
    ) -> None:
        super().__init__(config)
        self._tune_gc = tune_gc
        self._grace_s = state.settings.shutdown_grace_s
        self._draining = state.draining
        self._cut_in_flight = state.client.cut_in_flight
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, tune the collector if asked, then call `on_started`."""
        await super().startup(sockets)
        if self.should_exit:
            return
        if self._tune_gc:
            tune_gc()
        if self._on_started is not None:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, wait for calls in flight (cut them at the grace deadline), end the lifespan."""
        self._draining.set()
        cut = asyncio.get_running_loop().create_task(self._cut_at_deadline(), name="luthien-shutdown-cut")
        try:
            await super().shutdown(sockets)
        finally:
            cut.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cut

    async def _cut_at_deadline(self) -> None:
        await asyncio.sleep(self._grace_s)
        self._cut_in_flight()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        """Route SIGINT/SIGTERM to uvicorn's shutdown while serving; restore the old handlers after."""
        if threading.current_thread() is not threading.main_thread():
            # Signals can only be handled on the main thread (a server in a test's thread).
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_s + CANCEL_MARGIN_S,
    )


def serve(app: Starlette, settings: Settings) -> None:
    """Serve `app` on `settings.host:settings.port` until SIGTERM/SIGINT, then shut down gracefully."""
    state: GatewayState = app.state.gateway
    GracefulServer(_config(app, settings), state, tune_gc=True).run()


def shared_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` with `SO_REUSEPORT`, so that every worker can bind the port.

    Raises:
        OSError: the address cannot be bound (in use by another program, not local).
    """
    family, kind, protocol, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, protocol)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class WorkerHeader:
    """ASGI wrapper adding `x-luthien-worker: <index>` to every HTTP response."""

    def __init__(self, app: ASGIApp, index: int) -> None:
        self.app = app
        self._header = (WORKER_HEADER, str(index).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the call on; tag its response's headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self._header]
            await send(message)

        await self.app(scope, receive, tagged)


def serve_worker(app: Starlette, settings: Settings, index: int, on_started: Callable[[], None]) -> None:
    """Serve `app` as worker `index` on the shared port until SIGTERM/SIGINT (see the module doc).

    Args:
        app: this worker's app.
        settings: its settings (`host`, `port`: the port the parent reserved).
        index: the worker's number, sent in `x-luthien-worker`.
        on_started: called once the worker accepts calls (it tells the parent).
    """
    sock = shared_socket(settings.host, settings.port)
    sock.listen(LISTEN_BACKLOG)
    state: GatewayState = app.state.gateway
    GracefulServer(_config(WorkerHeader(app, index), settings), state, on_started, tune_gc=True).run(
        sockets=[sock]
    )
