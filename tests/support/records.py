"""Calls through a real Luthien server and what it recorded of them: records and live events.

The official SDKs make the calls (`open_sdks`, `ask`); `call_and_record` makes one and reads back
its stored record, the setup most record, shadow and policy tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import anthropic
import httpx2
import openai
import pytest
from sqlalchemy.exc import DBAPIError

from luthien.events.bus import TRANSACTION_COMPLETED, LiveEvent
from luthien.records.model import TransactionRecord
from luthien.records.query import RecordStore, TransactionFilter, TransactionSummary
from luthien.storage import open_storage
from tests.conftest import LuthienFactory
from tests.support.servers import LuthienServer

GUARD_S = 30.0
"""Deadlock guard for waiting on a record or an event; never reached when the code under test works."""
TRANSACTION_HEADER = "x-luthien-transaction-id"
FROM_THE_START = "0-0"
"""A last event id before every event: resuming from it replays everything the bus still holds."""


Api = Literal["anthropic", "chat", "responses"]
"""The client APIs, by the SDK surface that speaks them."""
ALL_CALLS = pytest.mark.parametrize(
    ("api", "streaming"),
    [(api, streaming) for api in ("anthropic", "chat", "responses") for streaming in (True, False)],
    ids=lambda value: str(value),
)
"""Every API, streaming and not."""
USER_TEXT = "Please tidy up the repository."
"""What `ask` asks."""

RECORD_POLL_S = 0.01
"""How often `record_of` looks for a record that is still on its way to the database."""


def _store(server: LuthienServer) -> RecordStore:
    store = server.app.state.gateway.store
    assert store is not None, "recording is off on this server"
    return store


async def _stored_record(server: LuthienServer, transaction_id: str) -> TransactionRecord:
    store = _store(server)
    while True:
        try:
            record = await store.get_transaction(transaction_id)
        except DBAPIError:
            record = None  # the database is not reachable or not migrated yet: the test brings it back
        if record is not None:
            return record
        await asyncio.sleep(RECORD_POLL_S)


def record_of(server: LuthienServer, transaction_id: str) -> TransactionRecord:
    """The stored record of one call, read back from the database through the server's `RecordStore`.

    The recorder submits a record after the client has its answer and the writer stores it in the
    background, so this waits for it (up to the deadlock guard).
    """
    return server.run(asyncio.wait_for(_stored_record(server, transaction_id), GUARD_S), GUARD_S + 1)


def stored_summaries(
    server: LuthienServer, filter: TransactionFilter, count: int
) -> list[TransactionSummary]:
    """Stored transactions matching `filter`, newest first, once at least `count` of them are stored.

    Records are submitted after the client has its answer and written in the background, so this
    waits for them (up to the deadlock guard).
    """

    async def read() -> list[TransactionSummary]:
        while True:
            items = list((await _store(server).list_transactions(filter)).items)
            if len(items) >= count:
                return items
            await asyncio.sleep(RECORD_POLL_S)

    return server.run(asyncio.wait_for(read(), GUARD_S), GUARD_S + 1)


def records_after_stop(server: LuthienServer) -> list[TransactionRecord]:
    """Every record a server stored, read after stopping it.

    Stopping lets every call finish recording and the writer drain into the database.
    """
    server.stop()

    async def read() -> list[TransactionRecord]:
        storage = open_storage(server.settings)
        await storage.start()
        try:
            assert storage.store is not None
            return [record async for record in storage.store.export(TransactionFilter())]
        finally:
            await storage.close()

    return asyncio.run(read())


def stored_bytes(record: TransactionRecord) -> bytes:
    """Every byte and string a record holds, serialized whole (for searching it for secrets)."""
    return pickle.dumps(record) + repr(record).encode("utf-8")


async def _events_until_completed(server: LuthienServer, transaction_id: str) -> list[LiveEvent]:
    events: list[LiveEvent] = []
    async for event in server.app.state.gateway.bus.subscribe(FROM_THE_START):
        if event.transaction_id == transaction_id:
            events.append(event)
            if event.type == TRANSACTION_COMPLETED:
                return events
    raise AssertionError("the subscription ended")


def live_events(server: LuthienServer, transaction_id: str) -> list[LiveEvent]:
    """The live events of one call, up to its `transaction.completed`, read from the server's bus."""
    return server.run(asyncio.wait_for(_events_until_completed(server, transaction_id), GUARD_S), GUARD_S + 1)


@dataclass
class Sdks:
    """Official SDK clients that remember every transaction id Luthien answered with."""

    anthropic: anthropic.Anthropic
    openai: openai.OpenAI
    transaction_ids: list[str] = field(default_factory=list[str])

    @property
    def last_transaction(self) -> str:
        return self.transaction_ids[-1]


def _remember_transaction(ids: list[str]) -> Callable[[httpx2.Response], None]:
    def hook(response: httpx2.Response) -> None:
        ids.append(response.headers[TRANSACTION_HEADER])

    return hook


@contextlib.contextmanager
def open_sdks(
    base_url: str, anthropic_key: str = "sk-ant-client", openai_key: str = "sk-client"
) -> Iterator[Sdks]:
    """Anthropic and OpenAI SDK clients for a Luthien server, without retries."""
    ids: list[str] = []
    hooks = {"response": [_remember_transaction(ids)]}
    with (
        httpx2.Client(event_hooks=hooks) as anthropic_http,
        httpx2.Client(event_hooks=hooks) as openai_http,
        anthropic.Anthropic(
            base_url=base_url, api_key=anthropic_key, max_retries=0, http_client=anthropic_http
        ) as anthropic_sdk,
        openai.OpenAI(
            base_url=f"{base_url}/v1", api_key=openai_key, max_retries=0, http_client=openai_http
        ) as openai_sdk,
    ):
        yield Sdks(anthropic_sdk, openai_sdk, ids)


SdksFactory = Callable[..., tuple[LuthienServer, Sdks]]
"""Starts a server with a config (and settings); returns it and SDK clients pointed at it."""


@contextlib.contextmanager
def servers_with_sdks(make_luthien: LuthienFactory) -> Iterator[SdksFactory]:
    """A `SdksFactory`; the SDK clients it opened are closed on exit."""
    with contextlib.ExitStack() as stack:

        def start(config: Any, **settings: Any) -> tuple[LuthienServer, Sdks]:
            server = make_luthien(config, **settings)
            return server, stack.enter_context(open_sdks(server.base_url))

        yield start


def ask(sdks: Sdks, api: Api, streaming: bool, policy: str | None = None) -> str:
    """One call with the API's SDK, reading the whole answer; its transaction id.

    Args:
        sdks: the clients.
        api: which API (and SDK surface) to call.
        streaming: whether to stream the answer.
        policy: the configured policy to serve the call (`x-luthien-policy`); None: the active one.
    """
    headers: Any = {"x-luthien-policy": policy} if policy else {}
    if api == "anthropic":
        messages: Any = [{"role": "user", "content": USER_TEXT}]
        params: Any = {
            "model": "claude-sonnet-4-6",
            "max_tokens": 1024,
            "messages": messages,
            "extra_headers": headers,
        }
        if streaming:
            with sdks.anthropic.messages.stream(**params) as stream:
                stream.get_final_message()
        else:
            sdks.anthropic.messages.create(**params)
    elif api == "chat":
        chat: Any = [{"role": "user", "content": USER_TEXT}]
        if streaming:
            with sdks.openai.chat.completions.stream(
                model="gpt-5", messages=chat, extra_headers=headers
            ) as chat_events:
                chat_events.get_final_completion()
        else:
            sdks.openai.chat.completions.create(model="gpt-5", messages=chat, extra_headers=headers)
    elif streaming:
        with sdks.openai.responses.stream(model="gpt-5", input=USER_TEXT, extra_headers=headers) as events:
            events.get_final_response()
    else:
        sdks.openai.responses.create(model="gpt-5", input=USER_TEXT, extra_headers=headers)
    return sdks.last_transaction


def call_and_record(server: LuthienServer, sdks: Sdks, api: Api, streaming: bool) -> TransactionRecord:
    """Make one call with the API's SDK (`ask`) and read back its stored record."""
    ask(sdks, api, streaming)
    return record_of(server, sdks.last_transaction)


def assistant_content(api: Api, message: dict[str, Any]) -> tuple[str, list[str]]:
    """(the text, the names of the tool calls) of a whole response message."""
    if api == "anthropic":
        text = "".join(block["text"] for block in message["content"] if block["type"] == "text")
        return text, [block["name"] for block in message["content"] if block["type"] == "tool_use"]
    if api == "chat":
        reply = message["choices"][0]["message"]
        calls = reply.get("tool_calls") or []
        return reply["content"] or "", [call["function"]["name"] for call in calls]
    texts = [
        part["text"] for item in message["output"] if item["type"] == "message" for part in item["content"]
    ]
    names = [item["name"] for item in message["output"] if item["type"] == "function_call"]
    return "".join(texts), names
