"""Re-asking a call's request (`policies/reask.py`) and resampling's edges, against the fake provider.

The end-to-end behaviour is in tests/e2e/test_defer.py and test_resample.py; these cover what a
server never reaches: a context without a request, an unknown upstream name, an answer the codec
cannot read, the stream-only fields dropped from the re-asked request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import pytest_asyncio

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import BlockKind, StopReason, ToolCall
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig
from luthien.policies.judging import JudgeSettings
from luthien.policies.reask import ReaskError, client_api, reask, reask_body
from luthien.policies.resample import ResampleSettings, _same_call, resample
from luthien.settings import Settings
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router
from luthien.wire.formats import WireFormat
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message, response_object
from tests.fake_provider import ToolCall as FakeCall
from tests.support.policy_runs import make_ctx

GUARD_S = 30.0
"""Timeout that only stops a broken build from hanging."""
CHAT = CallRequest(
    WireFormat.OPENAI,
    {"model": "gpt-5", "messages": [], "stream": True, "stream_options": {"include_usage": True}},
    None,
)
RESPONSES = CallRequest(WireFormat.OPENAI, {"model": "gpt-5", "input": "hi", "stream": True}, None)
MESSAGES = CallRequest(WireFormat.ANTHROPIC, {"model": "claude", "max_tokens": 8, "messages": []}, None)


@pytest_asyncio.fixture
async def models(fake: FakeProvider) -> AsyncIterator[ModelCaller]:
    settings = Settings(anthropic_base_url=fake.base_url, openai_base_url=f"{fake.base_url}/v1")
    client = UpstreamClient(settings)
    await client.start()
    try:
        yield ModelCaller(
            Router(LuthienConfig().with_builtins(settings)), Breakers(client, failures=5, cooldown_s=GUARD_S)
        )
    finally:
        await client.close()


def test_client_api_of_each_request() -> None:
    assert client_api(MESSAGES) is ANTHROPIC_MESSAGES
    assert client_api(CHAT) is OPENAI_CHAT
    assert client_api(RESPONSES) is OPENAI_RESPONSES


def test_the_reasked_body_is_the_same_request_not_streaming() -> None:
    body = reask_body(CHAT, "trusted")

    assert body == {"model": "trusted", "messages": [], "stream": False}


@pytest.mark.asyncio
async def test_without_a_request_nothing_is_asked(models: ModelCaller) -> None:
    with pytest.raises(ReaskError) as raised:
        await reask(make_ctx(models=models), "openai", "m", GUARD_S)

    assert raised.value.code == "no_request"


@pytest.mark.asyncio
async def test_an_unknown_upstream_name_fails(models: ModelCaller, fake: FakeProvider) -> None:
    with pytest.raises(ReaskError) as raised:
        await reask(make_ctx(models=models, request=CHAT), "nope", "m", GUARD_S)

    assert raised.value.code == "call_failed"
    assert fake.requests == []


@pytest.mark.asyncio
async def test_an_answer_the_codec_cannot_read_fails(models: ModelCaller, fake: FakeProvider) -> None:
    body = response_object("hi")
    body["output"].append({"type": "teleport_call", "id": "x"})
    fake.enqueue(JSONReply(body))

    with pytest.raises(ReaskError) as raised:
        await reask(make_ctx(models=models, request=RESPONSES), "openai", "m", GUARD_S)

    assert raised.value.code == "unreadable"
    (asked,) = fake.requests
    assert asked.path == "/v1/responses"
    assert orjson.loads(asked.body)["stream"] is False


@pytest.mark.asyncio
async def test_an_answer_keeps_text_and_tool_calls_only(models: ModelCaller, fake: FakeProvider) -> None:
    call = FakeCall("toolu_1", "Read", {"file_path": "a"})
    fake.enqueue(JSONReply(anthropic_message("Reading.", thinking="hmm", tool_calls=[call])))

    answer = await reask(make_ctx(models=models, request=MESSAGES), "anthropic", "m", GUARD_S)

    assert [block.kind for block in answer.blocks] == [BlockKind.TEXT, BlockKind.TOOL_CALL]
    assert answer.tool_calls == [ToolCall("toolu_1", "Read", '{"file_path":"a"}')]
    assert answer.end.stop_reason is StopReason.TOOL_USE
    assert [event.index for event in answer.events()] == [-1, -1]


@pytest.mark.asyncio
async def test_resample_without_a_request_keeps_the_block(models: ModelCaller) -> None:
    judge: Any = JudgeSettings.model_validate({"judge": {"upstream": "anthropic", "model": "j"}})
    options = ResampleSettings(resample=2)

    candidate = await resample(ToolCall("c", "Bash"), 0, make_ctx(models=models), judge, options)

    assert candidate is None


@pytest.mark.parametrize(
    ("candidate", "same"),
    [
        (ToolCall("b", "Bash", '{"command":  "ls"}'), True),  # the same JSON, spaced otherwise
        (ToolCall("b", "Bash", '{"command": "pwd"}'), False),
        (ToolCall("b", "Read", '{"command": "ls"}'), False),
        (ToolCall("b", "Bash", '{"command": "ls"'), False),  # cut off: compared as sent
    ],
)
def test_a_candidate_is_the_same_call_when_tool_and_arguments_match(candidate: ToolCall, same: bool) -> None:
    assert _same_call(candidate, ToolCall("a", "Bash", '{"command":"ls"}')) is same
    assert _same_call(ToolCall("c", "Bash", "ls"), ToolCall("d", "Bash", "ls"))
