"""Per-call state under concurrency: 50 simultaneous streams through one stateful policy instance.

The server runs `StampPolicy` (loaded as `tests.e2e.test_policy_concurrency:StampPolicy`). It keeps
each call's marker (read from the request) and its count of text deltas in `ctx.state`, and appends
`[marker:count]` to the text. All calls meet at a rendezvous in `on_message_start`, so every call's
response hooks run while every other call is in flight. Each response must carry only its own marker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from anthropic.types import TextBlock

from luthien.call.events import BlockComplete, BlockDelta, BlockKind, CallEvent, MessageStart
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.gateway.state import GatewayState
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.testing.fake_provider.anthropic_wire import DEFAULT_TEXT as ANTHROPIC_TEXT
from luthien.testing.fake_provider.openai_chat_wire import DEFAULT_TEXT as OPENAI_TEXT
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, split_text
from tests.support.servers import LuthienServer

CALLS = 50
# The fake provider's default replies stream their text in this many deltas.
DEFAULT_TEXT_CHUNKS = 3
# Bounds the rendezvous so a broken server fails the calls instead of hanging; never reached otherwise.
RENDEZVOUS_GUARD_S = 60.0


class StampConfig(PolicyConfig):
    """How many calls must all have started before any proceeds (0: no rendezvous)."""

    rendezvous: int = 0


class StampPolicy(Policy[StampConfig]):
    """Stamps each call's own marker and text-delta count into its text, from `ctx.state` only."""

    config_model = StampConfig

    def __init__(self, config: StampConfig, name: str = "") -> None:
        super().__init__(config, name)
        # Test instrumentation shared by all calls (not per-call state): the rendezvous.
        self._arrived = 0
        self._everyone_here = asyncio.Event()

    async def on_request(self, request: CallRequest, ctx: PolicyContext) -> CallRequest:
        ctx.state["marker"] = request.conversation[-1].text
        ctx.state["deltas"] = 0
        return request

    async def on_message_start(self, event: MessageStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        if self.config.rendezvous:
            self._arrived += 1
            if self._arrived == self.config.rendezvous:
                self._everyone_here.set()
            async with asyncio.timeout(RENDEZVOUS_GUARD_S):
                await self._everyone_here.wait()
        return [event]

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.kind is BlockKind.TEXT:
            ctx.state["deltas"] += 1
        return [event]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.block.kind is not BlockKind.TEXT:
            return [event]
        marker, deltas = ctx.state["marker"], ctx.state["deltas"]
        ctx.record("test.stamp", marker=marker, deltas=deltas)
        return [BlockDelta(event.index, BlockKind.TEXT, text=f" [{marker}:{deltas}]"), event]


def config(rendezvous: int) -> LuthienConfig:
    return LuthienConfig.model_validate(
        {
            "policy": "stamp",
            "policies": {
                "stamp": {
                    "class": "tests.e2e.test_policy_concurrency:StampPolicy",
                    "config": {"rendezvous": rendezvous},
                }
            },
        }
    )


def marker(number: int) -> str:
    return f"call-{number:03d}-{'xyz'[number % 3] * (number % 7 + 1)}"


@dataclass(frozen=True)
class Answer:
    """What one call got back: its text and its transaction id."""

    text: str
    transaction_id: str


async def ask_anthropic(server: LuthienServer, count: int) -> list[Answer]:
    async with anthropic.AsyncAnthropic(base_url=server.base_url, api_key="k", max_retries=0) as client:

        async def one(number: int) -> Answer:
            async with client.messages.stream(
                model="claude-sonnet-4-6",
                max_tokens=100,
                messages=[{"role": "user", "content": marker(number)}],
            ) as stream:
                message = await stream.get_final_message()
                transaction_id = stream.response.headers["x-luthien-transaction-id"]
            texts = [block.text for block in message.content if isinstance(block, TextBlock)]
            return Answer("".join(texts), transaction_id)

        return list(await asyncio.gather(*(one(number) for number in range(count))))


async def ask_chat(server: LuthienServer, count: int) -> list[Answer]:
    async with openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="k", max_retries=0) as client:

        async def one(number: int) -> Answer:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-5", messages=[{"role": "user", "content": marker(number)}], stream=True
            )
            text = "".join(
                [chunk.choices[0].delta.content or "" async for chunk in raw.parse() if chunk.choices]
            )
            return Answer(text, raw.headers["x-luthien-transaction-id"])

        return list(await asyncio.gather(*(one(number) for number in range(count))))


async def ask_responses(server: LuthienServer, count: int) -> list[Answer]:
    async with openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="k", max_retries=0) as client:

        async def one(number: int) -> Answer:
            raw = await client.responses.with_raw_response.create(
                model="gpt-5", input=marker(number), stream=True
            )
            final: Any = None
            async for event in raw.parse():
                if event.type == "response.completed":
                    final = event.response
            assert final is not None
            return Answer(final.output_text, raw.headers["x-luthien-transaction-id"])

        return list(await asyncio.gather(*(one(number) for number in range(count))))


ASKERS = [
    pytest.param(ask_anthropic, ANTHROPIC_TEXT, id="anthropic"),
    pytest.param(ask_chat, OPENAI_TEXT, id="openai_chat"),
    pytest.param(ask_responses, OPENAI_TEXT, id="openai_responses"),
]


@pytest.mark.parametrize(("ask", "upstream_text"), ASKERS)
@pytest.mark.asyncio
async def test_concurrent_streams_each_carry_only_their_own_marker(
    make_luthien: LuthienFactory, fake: FakeProvider, ask: Any, upstream_text: str
) -> None:
    server = make_luthien(config=config(rendezvous=CALLS))
    assert len(split_text(upstream_text, DEFAULT_TEXT_CHUNKS)) == DEFAULT_TEXT_CHUNKS

    answers: list[Answer] = await ask(server, CALLS)

    assert len(answers) == CALLS
    for number, answer in enumerate(answers):
        assert answer.text == f"{upstream_text} [{marker(number)}:{DEFAULT_TEXT_CHUNKS}]"
    # Every call had its own transaction, and the policy's record for it names that call's marker.
    assert len({answer.transaction_id for answer in answers}) == CALLS
    state: GatewayState = server.app.state.gateway
    for number, answer in enumerate(answers):
        (stamp,) = state.activity.events(transaction_id=answer.transaction_id, type="test.stamp")
        assert stamp.data == {"marker": marker(number), "deltas": DEFAULT_TEXT_CHUNKS}
        assert stamp.policy == "stamp"
    assert len(fake.requests) == CALLS


def test_policy_instance_is_shared_but_state_is_not(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(config=config(rendezvous=0))
    state: GatewayState = server.app.state.gateway

    answers = asyncio.run(ask_anthropic(server, 3))

    assert [answer.text for answer in answers] == [
        f"{ANTHROPIC_TEXT} [{marker(number)}:{DEFAULT_TEXT_CHUNKS}]" for number in range(3)
    ]
    policy = state.policies.policies["stamp"]
    assert isinstance(policy, StampPolicy)
    assert not hasattr(policy, "state")
