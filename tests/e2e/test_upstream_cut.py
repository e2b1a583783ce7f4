"""`UpstreamClient.cut_in_flight`, which ends a shutdown's grace period, against the fake provider.

Every exchange still running fails with `SHUTTING_DOWN` where it stands: a stream being read, a
request waiting for headers, and any request made afterwards (a judge's call, say).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from multidict import CIMultiDict

from luthien.settings import Settings
from luthien.upstream.client import UpstreamClient, UpstreamStreamError
from luthien.wire.errors import ErrorKind, GatewayError
from tests.fake_provider import (
    FakeProvider,
    Gate,
    HangReply,
    ReceivedRequest,
    Reply,
    StreamReply,
    anthropic_stream,
)
from tests.support.serve_process import GUARD_S

BODY = b'{"model": "claude-test", "max_tokens": 10, "stream": true, "messages": []}'


@pytest_asyncio.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    upstream = UpstreamClient(Settings())
    await upstream.start()
    yield upstream
    await upstream.close()


async def drain(chunks: AsyncIterator[bytes]) -> None:
    async for _ in chunks:
        pass


def url(fake: FakeProvider) -> str:
    return f"{fake.base_url}/v1/messages"


@pytest.mark.asyncio
async def test_a_stream_being_read_fails_with_shutting_down(
    client: UpstreamClient, fake: FakeProvider
) -> None:
    fake.enqueue(StreamReply([*anthropic_stream("held")[:2], Gate()]))

    async with client.request("POST", url(fake), CIMultiDict(), BODY) as response:
        chunks = response.chunks()
        assert await anext(chunks)
        client.cut_in_flight()
        with pytest.raises(UpstreamStreamError) as cut:
            await asyncio.wait_for(drain(chunks), GUARD_S)

    assert cut.value.kind is ErrorKind.SHUTTING_DOWN


@pytest.mark.asyncio
async def test_a_request_waiting_for_headers_fails_with_shutting_down(
    client: UpstreamClient, fake: FakeProvider
) -> None:
    arrived = threading.Event()

    def hang(received: ReceivedRequest) -> Reply:
        arrived.set()
        return HangReply()

    fake.respond_with(hang)

    async def call() -> None:
        async with client.request("POST", url(fake), CIMultiDict(), BODY):
            pass

    waiting = asyncio.ensure_future(call())
    assert await asyncio.to_thread(arrived.wait, GUARD_S)
    client.cut_in_flight()

    with pytest.raises(GatewayError) as cut:
        await asyncio.wait_for(waiting, GUARD_S)
    assert cut.value.kind is ErrorKind.SHUTTING_DOWN


@pytest.mark.asyncio
async def test_a_request_after_the_cut_is_refused(client: UpstreamClient, fake: FakeProvider) -> None:
    client.cut_in_flight()

    with pytest.raises(GatewayError) as cut:
        async with client.request("POST", url(fake), CIMultiDict(), BODY):
            pass

    assert cut.value.kind is ErrorKind.SHUTTING_DOWN
    assert fake.requests == []
