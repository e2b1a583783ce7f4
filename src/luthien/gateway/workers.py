"""`luthien serve` with `LUTHIEN_WORKERS` > 1: a parent process and its worker processes, one port.

The parent reserves the port (a socket bound with `SO_REUSEPORT`, never listening), starts the
workers (`python -m luthien serve --worker-index N`), each with a listening socket of its own on that
port (`luthien.gateway.serving.serve_worker`): the kernel spreads new connections over them. What the
workers must share is shared:

- the live event bus and the policy switch: through Redis with `LUTHIEN_REDIS_URL`, else through
  the parent's hub on a Unix socket (`luthien.events.relay_hub`);
- rate-limit counters: the same way (Redis, else the hub's memory);
- Prometheus metrics: in `PROMETHEUS_MULTIPROC_DIR` (a private directory unless it is set), so a
  scrape of any worker gets the sums over all of them;
- records: the one database (SQLite in WAL mode with a busy timeout, or PostgreSQL). The first
  worker starts alone, so that it migrates the database before the others open it.

SIGTERM and SIGINT are forwarded to every worker, which drains as one server does; the parent exits
0 once all of them exited 0. A worker that exits when not told to is not restarted: the parent logs
it, stops the other workers gracefully and exits 1, so that the supervisor above (systemd, Docker,
Kubernetes) restarts the whole server rather than running with a worker silently missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable

from luthien.events.relay_hub import RelayHub
from luthien.events.relay_wire import RELAY_ENV
from luthien.gateway.serving import HANDLED_SIGNALS, shared_socket
from luthien.observability.metrics import MULTIPROCESS_ENV
from luthien.settings import Settings

logger = logging.getLogger("luthien.workers")

READY = b"1"
"""What a worker writes on its ready pipe once it accepts calls."""
FAILED = 1
"""The parent's exit status when a worker failed (exited when not told to)."""


def ready_callback(ready_fd: int) -> Callable[[], None]:
    """The `on_started` of a worker: tell the parent (once) on the pipe it was given."""

    def tell_parent() -> None:
        with contextlib.suppress(OSError):
            os.write(ready_fd, READY)
            os.close(ready_fd)

    return tell_parent


class Supervisor:
    """The parent process: starts the workers, forwards signals, reports a worker that failed."""

    def __init__(self, settings: Settings, count: int) -> None:
        """Prepare (nothing starts until `run`).

        Args:
            settings: the server's settings.
            count: how many workers to run (at least 2).
        """
        self.settings = settings
        self.count = count
        self.workers: list[asyncio.subprocess.Process] = []
        self._stopping = False

    async def run(self) -> int:
        """Serve until told to stop or a worker fails; return the exit status."""
        try:
            reserved = shared_socket(self.settings.host, self.settings.port)
        except OSError as error:
            logger.error("cannot bind %s:%s: %s", self.settings.host, self.settings.port, error)
            return FAILED
        port: int = reserved.getsockname()[1]
        directory = tempfile.mkdtemp(prefix="luthien-workers-")
        env = {**os.environ, "LUTHIEN_HOST": self.settings.host, "LUTHIEN_PORT": str(port)}
        if not os.environ.get(MULTIPROCESS_ENV):
            env[MULTIPROCESS_ENV] = os.path.join(directory, "metrics")
            os.mkdir(env[MULTIPROCESS_ENV])
        hub: RelayHub | None = None
        if self.settings.redis_url is None:
            hub = RelayHub(os.path.join(directory, "relay.sock"), self.settings.events_retention)
            await hub.start()
            env[RELAY_ENV] = hub.path
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, self.forward, sig)
        try:
            return await self._serve(env, port)
        finally:
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)
            if hub is not None:
                await hub.close()
            reserved.close()
            shutil.rmtree(directory, ignore_errors=True)

    async def _serve(self, env: dict[str, str], port: int) -> int:
        # The first worker migrates the database; the others start once it serves.
        if not await self._start(0, env) or not await self._start_rest(env):
            return await self._stop_all(0 if self._stopping else FAILED)
        pids = ", ".join(str(worker.pid) for worker in self.workers)
        logger.info("%d workers serving on %s:%d (pids %s)", self.count, self.settings.host, port, pids)
        waits = {asyncio.ensure_future(worker.wait()): index for index, worker in enumerate(self.workers)}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if self._stopping:
            return await self._stop_all(0)
        for finished in done:
            index = waits[finished]
            logger.error(
                "worker %d (pid %d) exited with status %s when not told to; stopping the other workers",
                index,
                self.workers[index].pid,
                finished.result(),
            )
        return await self._stop_all(FAILED)

    async def _start_rest(self, env: dict[str, str]) -> bool:
        results = await asyncio.gather(*(self._start(index, env) for index in range(1, self.count)))
        return all(results)

    async def _start(self, index: int, env: dict[str, str]) -> bool:
        """Start worker `index`; True once it serves, False if it exited or the server is stopping."""
        read_fd, write_fd = os.pipe()
        try:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "luthien",
                "serve",
                "--worker-index",
                str(index),
                "--ready-fd",
                str(write_fd),
                env=env,
                pass_fds=(write_fd,),
                # Its own process group: a Ctrl-C in a terminal reaches the parent only, which
                # forwards it; the same session, so tools that follow the server's session see it.
                process_group=0,
            )
        finally:
            os.close(write_fd)
        self.workers.append(worker)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(read_fd, readable)
        exited = asyncio.ensure_future(worker.wait())
        try:
            await asyncio.wait((ready, exited), return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_reader(read_fd)
            os.close(read_fd)
        if self._stopping:
            return False
        if exited.done():
            logger.error(
                "worker %d (pid %d) exited with status %s while starting", index, worker.pid, exited.result()
            )
            return False
        exited.cancel()
        return True

    def forward(self, sig: signal.Signals) -> None:
        """Pass a stop signal to every worker (a second SIGINT then skips their wait, as on one)."""
        self._stopping = True
        for worker in self.workers:
            if worker.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.send_signal(sig)

    async def _stop_all(self, status: int) -> int:
        """Stop the workers still running (SIGTERM: they drain), wait for them; the exit status."""
        if not self._stopping:
            # Once only: a worker that already restored its default handlers would die of another.
            self.forward(signal.SIGTERM)
        codes = [await worker.wait() for worker in self.workers]
        if status == 0 and any(codes):
            logger.error("workers exited with statuses %s", codes)
            return FAILED
        return status


def run_workers(settings: Settings, count: int) -> int:
    """Run `count` workers on `settings.host:settings.port`; the exit status (see the module doc)."""
    return asyncio.run(Supervisor(settings, count).run())
