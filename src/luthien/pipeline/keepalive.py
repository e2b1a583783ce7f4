"""Keep-alive while a policy holds: a started stream that goes quiet gets the API's keep-alive frame.

A judge deciding a tool call (later, a person) can keep a stream silent for longer than clients and
load balancers wait. `with_keepalive` wraps the bytes for the client after the first frame: when
nothing was sent for `interval_s` and the stage is holding content at that moment, it sends the
API's keep-alive (`WireApi.keepalive`: Anthropic `event: ping`, an SSE comment for the OpenAI APIs),
then waits again. The wrapped iterator yields whole SSE frames (`pipeline/run.py`), so a keep-alive
always falls between two frames. Silence that is not the policy's doing (the upstream thinking) is
passed on as it is: the upstream's own keep-alives cover it, and the idle timeout bounds it.

```
waiting --next frame ready--> frame sent --> waiting
waiting --interval_s silent, holding--> keep-alive sent --> waiting
waiting --interval_s silent, not holding--> waiting
```

The next frame is produced in a task of its own, so waiting for it can time out without cancelling
it; however the wrapper ends, that task is cancelled and awaited, and the wrapped iterator closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable


async def _next(chunks: AsyncIterator[bytes]) -> bytes | None:
    return await anext(chunks, None)


async def with_keepalive(
    chunks: AsyncGenerator[bytes], frame: bytes, interval_s: float, holding: Callable[[], bool]
) -> AsyncIterator[bytes]:
    """`chunks`, with `frame` sent after every `interval_s` of silence during which `holding()`.

    Args:
        chunks: whole SSE frames for the client (the stream has already started).
        frame: the API's keep-alive frame.
        interval_s: seconds of silence before a keep-alive; 0 turns keep-alives off.
        holding: whether the policy holds content right now.
    """
    if interval_s <= 0:
        async for chunk in chunks:
            yield chunk
        return
    pending: asyncio.Task[bytes | None] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next(chunks))
            done, _ = await asyncio.wait((pending,), timeout=interval_s)
            if not done:
                if holding():
                    yield frame
                continue
            chunk = pending.result()
            pending = None
            if chunk is None:
                return
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait((pending,))
            if not pending.cancelled():
                pending.exception()  # retrieved: the error, if any, already ended the stream
        await chunks.aclose()
