"""Keep-alive while a policy holds: a started stream that goes quiet gets the API's keep-alive frame.

A judge deciding a tool call (later, a person) can keep a stream silent for longer than clients and
load balancers wait. `KeepAlive` wraps the ASGI `send` of a streaming answer: once the first body
frame went out, a timer ticks every `interval_s`; a tick that finds the client silent for
`interval_s` and the stage holding content sends the API's keep-alive (`WireApi.keepalive`:
Anthropic `event: ping`, an SSE comment for the OpenAI APIs). Silence that is not the policy's doing
(the upstream thinking) is passed on as it is: the upstream's own keep-alives cover it, and the idle
timeout bounds it.

```
silent --frame sent--> silent (the clock restarts)
silent --tick: silent >= interval_s, holding--> keep-alive sent --> silent
silent --tick: otherwise--> silent
silent --last body message sent, or close()--> done (timer cancelled, no keep-alive after)
```

Each body message is one or more whole SSE frames (`pipeline/run.py`), and a keep-alive is one
message of its own, sent only while no frame is being sent (a frame that comes meanwhile waits for
it), so it always falls between two frames, never inside one. Per frame this costs a flag and a
clock read (no lock, task or timer); the timer is one per stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Message, Send


class KeepAlive:
    """A `send` for one streaming answer that adds keep-alives while the stage holds content.

    Call `close()` when the answer is over (or abandoned): it stops the timer and waits for a
    keep-alive being sent.
    """

    def __init__(self, send: Send, frame: bytes, interval_s: float, holding: Callable[[], bool]) -> None:
        """Wrap `send`.

        Args:
            send: the ASGI send of the answer.
            frame: the API's keep-alive frame.
            interval_s: seconds of silence before a keep-alive; 0 turns keep-alives off.
            holding: whether the policy holds content right now.
        """
        self._send = send
        self._frame = frame
        self._interval_s = interval_s
        self._holding = holding
        self._loop = asyncio.get_running_loop()
        self._sending = False
        self._last_sent = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._ping: asyncio.Task[None] | None = None
        self._done = False
        self.sent = 0
        """Keep-alives sent so far."""

    async def send(self, message: Message) -> None:
        """Send `message`; the first body message starts the clock, the last one stops it."""
        ping = self._ping
        if ping is not None and not ping.done():
            await asyncio.wait((ping,))  # a keep-alive is going out: the frame follows it
        self._sending = True
        try:
            await self._send(message)
        finally:
            self._sending = False
        if message["type"] != "http.response.body":
            return
        self._last_sent = self._loop.time()
        if not message.get("more_body", False):
            self._stop()
        elif self._timer is None and not self._done and self._interval_s > 0:
            self._timer = self._loop.call_later(self._interval_s, self._tick)

    def _tick(self) -> None:
        self._timer = self._loop.call_later(self._interval_s, self._tick)
        if self._sending or (self._ping is not None and not self._ping.done()):
            return
        if self._loop.time() - self._last_sent >= self._interval_s and self._holding():
            self._ping = self._loop.create_task(self._send_keepalive())

    async def _send_keepalive(self) -> None:
        if self._done:
            return
        await self._send({"type": "http.response.body", "body": self._frame, "more_body": True})
        self._last_sent = self._loop.time()
        self.sent += 1

    def _stop(self) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def close(self) -> None:
        """Stop: no keep-alive after this; one being sent is cancelled and awaited."""
        self._stop()
        ping = self._ping
        if ping is not None and not ping.done():
            ping.cancel()
            await asyncio.wait((ping,))
        if ping is not None and not ping.cancelled():
            ping.exception()  # retrieved: a failed send means the client is gone, which ends the call
