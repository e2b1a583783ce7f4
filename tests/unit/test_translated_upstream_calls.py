"""How a model call goes upstream: built-in tools left out of a translated call, the upstream's output cap.

`upstream_call` (gateway/translate.py) with real settings; `capped_body` (upstream/output_cap.py);
the cap on Luthien's own calls (`ModelCaller`, judges and re-asks) against a Chat-only fake.
End to end through a real server: tests/e2e/test_output_cap.py and test_codex_translated*.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.request import CallRequest
from luthien.config import LuthienConfig, UpstreamApi, UpstreamConfig
from luthien.gateway.translate import UpstreamCall, upstream_call
from luthien.settings import Settings
from luthien.translation.request_model import UntranslatableField
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.output_cap import ANTHROPIC_MIN_THINKING_BUDGET, capped_body
from luthien.upstream.routing import Router, Upstream
from luthien.wire.apis import WireApi
from luthien.wire.errors import ErrorKind, GatewayError
from tests.fake_provider import FakeProvider, JSONReply, chat_completion

CAP = 4096
CLAUDE_CODE_MAX_TOKENS = 64000
NEVER_S = 3600.0
UPSTREAM_KEY = "upstream-key"
FUNCTION_TOOL = {"type": "function", "name": "exec_command", "parameters": {"type": "object"}}
WEB_SEARCH = {"type": "web_search", "external_web_access": True}
FILE_SEARCH = {"type": "file_search", "vector_store_ids": ["vs_1"]}
PATHS = {
    ANTHROPIC_MESSAGES: "/v1/messages",
    OPENAI_CHAT: "/v1/chat/completions",
    OPENAI_RESPONSES: "/v1/responses",
}


def upstream(api: UpstreamApi, cap: int | None = None) -> Upstream:
    config = UpstreamConfig(
        format=api, base_url="http://127.0.0.1:1", api_key=SecretStr(UPSTREAM_KEY), max_output_tokens=cap
    )
    return Upstream("u", config)


def call(
    to: Upstream,
    client_api: WireApi,
    body: dict[str, Any],
    settings: Settings | None = None,
    raw: bytes | None = None,
) -> UpstreamCall:
    """`body` as `client_api` sends it, on its way to `to` (with Luthien's key)."""
    request = CallRequest(client_api.format, body, raw if raw is not None else orjson.dumps(body))
    return upstream_call(to, client_api, PATHS[client_api], "", request, [], True, settings or Settings())


def sent(upstream_call: UpstreamCall) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(upstream_call.body)
    return body


# -- built-in tools on a translated call --------------------------------------------------------------

CODEX_LIKE = {"model": "gpt-5", "input": "hi", "tools": [FUNCTION_TOOL, WEB_SEARCH]}


@pytest.mark.parametrize("api", [UpstreamApi.ANTHROPIC, UpstreamApi.OPENAI_CHAT])
def test_codexs_web_search_is_left_out_of_a_translated_call_by_default(
    api: UpstreamApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="luthien.translation"):
        translated = call(upstream(api), OPENAI_RESPONSES, CODEX_LIKE)

    tools = sent(translated)["tools"]
    assert len(tools) == 1
    assert "web_search" not in orjson.dumps(tools).decode()
    assert any(
        "web_search" in record.getMessage() for record in caplog.records if record.levelno == logging.DEBUG
    )


def test_web_search_is_refused_by_field_when_the_setting_drops_nothing() -> None:
    settings = Settings(translation_dropped_tool_types="none")

    with pytest.raises(UntranslatableField) as refused:
        call(upstream(UpstreamApi.ANTHROPIC), OPENAI_RESPONSES, CODEX_LIKE, settings)

    assert refused.value.field == "tools[1].type"


def test_another_built_in_tool_is_still_refused_by_field() -> None:
    body = {**CODEX_LIKE, "tools": [WEB_SEARCH, FILE_SEARCH]}

    with pytest.raises(UntranslatableField) as refused:
        call(upstream(UpstreamApi.OPENAI_CHAT), OPENAI_RESPONSES, body)

    assert refused.value.field == "tools[1].type"


def test_a_malformed_tool_after_a_dropped_one_is_named_by_its_index_in_the_clients_body() -> None:
    body = {**CODEX_LIKE, "tools": [WEB_SEARCH, "exec_command"]}

    with pytest.raises(GatewayError) as refused:
        call(upstream(UpstreamApi.ANTHROPIC), OPENAI_RESPONSES, body)

    assert refused.value.kind is ErrorKind.INVALID_REQUEST
    assert not isinstance(refused.value, UntranslatableField)
    assert refused.value.message.startswith("tools[1]")  # the path is what the client reads


def test_a_call_the_upstream_serves_keeps_its_built_in_tools() -> None:
    raw = orjson.dumps(CODEX_LIKE)

    forwarded = call(upstream(UpstreamApi.OPENAI), OPENAI_RESPONSES, CODEX_LIKE, raw=raw)

    assert forwarded.body == raw


# -- the output cap ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "max_tokens": CLAUDE_CODE_MAX_TOKENS},
        {"model": "m", "max_completion_tokens": CLAUDE_CODE_MAX_TOKENS, "max_tokens": CLAUDE_CODE_MAX_TOKENS},
        {"model": "m", "max_output_tokens": CLAUDE_CODE_MAX_TOKENS},
    ],
)
def test_every_apis_output_limit_above_the_cap_is_lowered_to_it(body: dict[str, Any]) -> None:
    client_body = dict(body)

    capped = capped_body(body, CAP)

    assert capped == {**body, **{name: CAP for name in body if name != "model"}}
    assert body == client_body  # the client's body is not modified


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "max_tokens": CAP},
        {"model": "m", "max_output_tokens": CAP - 1},
        {"model": "m"},
        {"model": "m", "max_tokens": True},
        {"model": "m", "max_tokens": "lots"},
    ],
)
def test_a_limit_within_the_cap_or_none_is_left_alone(body: dict[str, Any]) -> None:
    assert capped_body(body, CAP) is None


def test_no_cap_changes_nothing() -> None:
    assert capped_body({"max_tokens": CLAUDE_CODE_MAX_TOKENS}, None) is None


def test_an_anthropic_thinking_budget_stays_below_the_capped_limit() -> None:
    body = {"max_tokens": CLAUDE_CODE_MAX_TOKENS, "thinking": {"type": "enabled", "budget_tokens": 31999}}

    assert capped_body(body, CAP) == {
        "max_tokens": CAP,
        "thinking": {"type": "enabled", "budget_tokens": CAP - 1},
    }


def test_thinking_is_turned_off_when_the_cap_leaves_no_room_for_a_budget() -> None:
    cap = ANTHROPIC_MIN_THINKING_BUDGET
    body = {"max_tokens": CLAUDE_CODE_MAX_TOKENS, "thinking": {"type": "enabled", "budget_tokens": 31999}}

    assert capped_body(body, cap) == {"max_tokens": cap}


@pytest.mark.parametrize(
    "thinking", [{"type": "adaptive"}, {"type": "enabled", "budget_tokens": CAP - 1}, {"type": "disabled"}]
)
def test_thinking_within_the_cap_is_kept(thinking: dict[str, Any]) -> None:
    body = {"max_tokens": CLAUDE_CODE_MAX_TOKENS, "thinking": thinking}

    assert capped_body(body, CAP) == {"max_tokens": CAP, "thinking": thinking}


def test_a_same_api_call_over_the_cap_is_sent_capped() -> None:
    body = {
        "model": "m",
        "max_tokens": CLAUDE_CODE_MAX_TOKENS,
        "messages": [{"role": "user", "content": "hi"}],
    }

    forwarded = call(upstream(UpstreamApi.ANTHROPIC, CAP), ANTHROPIC_MESSAGES, body)

    assert sent(forwarded) == {**body, "max_tokens": CAP}
    assert (forwarded.capped, forwarded.translated) == (True, False)


def test_a_same_api_call_within_the_cap_keeps_its_exact_bytes() -> None:
    raw = b'{ "model": "m",  "max_tokens": 100, "messages": [] }'

    forwarded = call(upstream(UpstreamApi.ANTHROPIC, CAP), ANTHROPIC_MESSAGES, orjson.loads(raw), raw=raw)

    assert forwarded.body == raw
    assert not forwarded.capped


@pytest.mark.parametrize(
    ("client_api", "body", "api", "field"),
    [
        (
            ANTHROPIC_MESSAGES,
            {
                "model": "m",
                "max_tokens": CLAUDE_CODE_MAX_TOKENS,
                "messages": [{"role": "user", "content": "hi"}],
            },
            UpstreamApi.OPENAI_CHAT,
            "max_tokens",
        ),
        # No limit: the translation's default for Anthropic (8192) is above the cap.
        (OPENAI_RESPONSES, {"model": "m", "input": "hi"}, UpstreamApi.ANTHROPIC, "max_tokens"),
        (
            OPENAI_CHAT,
            {
                "model": "m",
                "max_completion_tokens": CLAUDE_CODE_MAX_TOKENS,
                "messages": [{"role": "user", "content": "hi"}],
            },
            UpstreamApi.ANTHROPIC,
            "max_tokens",
        ),
    ],
)
def test_a_translated_call_is_sent_capped(
    client_api: WireApi, body: dict[str, Any], api: UpstreamApi, field: str
) -> None:
    assert Settings().translation_default_max_tokens > CAP

    translated = call(upstream(api, CAP), client_api, body)

    assert sent(translated)[field] == CAP
    assert (translated.translated, translated.capped) == (True, True)


@pytest.fixture(scope="module")
def chat_only() -> Iterator[FakeProvider]:
    """A fake that serves only Chat Completions (vLLM-like)."""
    provider = FakeProvider(chat_only=True)
    provider.start()
    yield provider
    provider.stop()


@pytest.mark.asyncio
async def test_luthiens_own_calls_to_a_capped_upstream_are_capped(chat_only: FakeProvider) -> None:
    chat_only.reset()
    settings = Settings()
    config = LuthienConfig(
        upstreams={
            "local": UpstreamConfig(
                format=UpstreamApi.OPENAI_CHAT, base_url=f"{chat_only.base_url}/v1", max_output_tokens=CAP
            )
        }
    )
    client = UpstreamClient(settings)
    await client.start()
    chat_only.enqueue(JSONReply(chat_completion(text="judged")))
    chat_only.enqueue(JSONReply(chat_completion(text="re-asked")))
    try:
        caller = ModelCaller(Router(config.with_builtins(settings)), Breakers(client, 5, NEVER_S))
        judged = await caller.complete("local", "llama-3", "you judge", "is it safe?", CLAUDE_CODE_MAX_TOKENS)
        reask = {"model": "llama-3", "max_tokens": CAP - 1, "messages": [{"role": "user", "content": "hi"}]}
        reasked = await caller.send(caller.upstream("local"), "/v1/chat/completions", reask)
    finally:
        await client.close()
    assert (judged.text, reasked.text) == ("judged", "re-asked")
    first, second = chat_only.requests
    assert first.json()["max_completion_tokens"] == CAP
    assert second.json() == reask  # within the cap: as given
