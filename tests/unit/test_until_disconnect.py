"""`until_disconnect`: the work runs in the caller's task and is cancelled when the client leaves."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from luthien.gateway.asgi import until_disconnect

pytestmark = pytest.mark.asyncio


class Client:
    """An ASGI `receive` whose messages the test releases one by one."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Message] = asyncio.Queue()

    async def receive(self) -> Message:
        return await self.messages.get()


async def test_work_that_finishes_is_awaited_in_the_callers_task() -> None:
    client = Client()
    ran_in: list[asyncio.Task[object] | None] = []

    async def work() -> None:
        ran_in.append(asyncio.current_task())

    await until_disconnect(client.receive, work())
    assert ran_in == [asyncio.current_task()]


async def test_a_disconnect_cancels_the_work_and_the_caller_goes_on() -> None:
    client = Client()
    events: list[str] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    client.messages.put_nowait({"type": "http.request", "body": b"", "more_body": False})  # ignored
    client.messages.put_nowait({"type": "http.disconnect"})
    await until_disconnect(client.receive, work())
    assert events == ["cancelled"]
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0)  # the caller can still await: nothing pending is delivered to it


async def test_work_that_swallows_the_cancellation_leaves_the_caller_uncancelled() -> None:
    client = Client()

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return  # e.g. cleaning up and finishing quietly

    client.messages.put_nowait({"type": "http.disconnect"})
    await until_disconnect(client.receive, work())
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_a_cancellation_from_elsewhere_is_passed_on() -> None:
    client = Client()
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()

    caller = asyncio.create_task(until_disconnect(client.receive, work()))
    await started.wait()
    caller.cancel()  # the server shutting down, not the client leaving
    with pytest.raises(asyncio.CancelledError):
        await caller
