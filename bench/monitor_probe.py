"""A stand-in for the live monitor (bench/records_overhead.py): when each call's completion arrives.

It notes the time each `transaction.completed` event is received.

Two modes, each writing `<transaction_id> <time.monotonic()>` lines to OUT when stopped (SIGTERM):

- `serve PORT OUT`: Luthien itself (as `luthien serve`: uvicorn, uvloop, httptools, settings from
  the `LUTHIEN_*` environment) with a subscriber on its own event bus (`app.state.gateway.bus`),
  in its event loop, where the admin API's activity stream will read it. With the in-process bus
  this is the only place the events can be seen.
- `subscribe REDIS_URL STREAM_KEY OUT`: another process reading the Redis stream through
  `RedisEventBus.subscribe` (XREAD BLOCK), as a monitor on another replica does.

`time.monotonic()` is CLOCK_MONOTONIC, one clock for every process on the machine, so these times
compare with the load generator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path

import uvicorn
import uvloop

from luthien.events.bus import TRANSACTION_COMPLETED, EventBus
from luthien.events.redis import RedisEventBus
from luthien.gateway.app import create_app
from luthien.gateway.state import GatewayState

HOST = "127.0.0.1"


async def _collect(bus: EventBus, received: dict[str, float]) -> None:
    async for event in bus.subscribe():
        if event.type == TRANSACTION_COMPLETED:
            received[event.transaction_id] = time.monotonic()


def _write(out: Path, received: dict[str, float]) -> None:
    out.write_text("".join(f"{tx} {at!r}\n" for tx, at in received.items()))


async def serve(port: int, out: Path) -> None:
    """Luthien on `port` with a subscriber on its bus; stops on SIGTERM (uvicorn's handler)."""
    app = create_app()
    gateway: GatewayState = app.state.gateway
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=HOST, port=port, http="httptools", log_level="warning", access_log=False, lifespan="on"
        )
    )
    received: dict[str, float] = {}
    # uvicorn re-raises the SIGTERM it caught once it has shut down, under the handler that was
    # there before it: make that one harmless so the results get written.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    serving = asyncio.create_task(server.serve())
    # uvicorn has no "started" event to wait on; the bus is started by the app's lifespan.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    collector = asyncio.create_task(_collect(gateway.bus, received))
    try:
        await serving
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        _write(out, received)


async def subscribe(redis_url: str, stream_key: str, out: Path) -> None:
    """Read the Redis stream until SIGTERM."""
    bus = RedisEventBus(redis_url, stream_key=stream_key)
    await bus.start()
    received: dict[str, float] = {}
    collector = asyncio.create_task(_collect(bus, received))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("subscribed", flush=True)
    await stop.wait()
    collector.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await collector
    await bus.close()
    _write(out, received)


def main(argv: list[str]) -> int:
    """Entry point: `serve PORT OUT` or `subscribe REDIS_URL STREAM_KEY OUT`."""
    if len(argv) == 3 and argv[0] == "serve":
        coroutine = serve(int(argv[1]), Path(argv[2]))
    elif len(argv) == 4 and argv[0] == "subscribe":
        coroutine = subscribe(argv[1], argv[2], Path(argv[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coroutine)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
