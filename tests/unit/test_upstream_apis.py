"""Upstream APIs: what each `format` serves and where each client API's call goes.

Also the passthrough refusal at startup, the judge's caller on a Chat-only upstream, and the fake's
Chat-only mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.config import ConfigError, LuthienConfig, RouteConfig, UpstreamApi, UpstreamConfig
from luthien.gateway.app import create_app
from luthien.gateway.translate import check_passthrough, translated_stage
from luthien.pipeline.stage import PassThroughStage, TranslationStage
from luthien.settings import Settings
from luthien.upstream.breaker import Breakers
from luthien.upstream.caller import ModelCaller
from luthien.upstream.client import UpstreamClient
from luthien.upstream.routing import Router, Upstream
from luthien.wire.formats import WireFormat
from tests.fake_provider import FakeProvider, JSONReply, chat_completion

PROXY_KEY = "luthien-proxy-key"
NEVER_S = 3600.0


def upstream(api: UpstreamApi) -> Upstream:
    return Upstream("u", UpstreamConfig(format=api, base_url="http://127.0.0.1:1"))


@pytest.fixture(scope="module")
def chat_only() -> Iterator[FakeProvider]:
    """A fake that serves only Chat Completions (vLLM-like)."""
    provider = FakeProvider(chat_only=True)
    provider.start()
    yield provider
    provider.stop()


def test_each_format_serves_its_apis() -> None:
    served = {
        api: [
            client.name
            for client in (ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES)
            if upstream(api).serves(client)
        ]
        for api in UpstreamApi
    }
    assert served == {
        UpstreamApi.ANTHROPIC: ["anthropic_messages"],
        UpstreamApi.OPENAI: ["openai_chat", "openai_responses"],
        UpstreamApi.OPENAI_CHAT: ["openai_chat"],
    }


def test_a_served_api_is_kept_and_any_other_goes_to_the_upstreams_target() -> None:
    targets = {
        (api.value, client.name): upstream(api).api_for(client).name
        for api in UpstreamApi
        for client in (ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES)
    }
    assert targets == {
        ("anthropic", "anthropic_messages"): "anthropic_messages",
        ("anthropic", "openai_chat"): "anthropic_messages",
        ("anthropic", "openai_responses"): "anthropic_messages",
        ("openai", "anthropic_messages"): "openai_chat",
        ("openai", "openai_chat"): "openai_chat",
        ("openai", "openai_responses"): "openai_responses",
        ("openai-chat", "anthropic_messages"): "openai_chat",
        ("openai-chat", "openai_chat"): "openai_chat",
        ("openai-chat", "openai_responses"): "openai_chat",
    }


def test_openai_chat_speaks_the_openai_dialect() -> None:
    assert upstream(UpstreamApi.OPENAI_CHAT).format is WireFormat.OPENAI
    assert upstream(UpstreamApi.ANTHROPIC).format is WireFormat.ANTHROPIC


def test_the_yaml_value_openai_chat_is_accepted_and_mixes_with_openai_as_a_fallback() -> None:
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"local": {"format": "openai-chat", "base_url": "http://127.0.0.1:11434/v1"}},
            "routes": [{"model": "llama*", "upstream": "local", "fallback": "openai"}],
        }
    )
    assert config.upstreams["local"].format is UpstreamApi.OPENAI_CHAT


def test_an_unknown_format_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"upstreams\.local\.format"):
        LuthienConfig.model_validate({"upstreams": {"local": {"format": "vllm", "base_url": "http://x"}}})


def router_for(config: LuthienConfig, settings: Settings) -> Router:
    return Router(config.with_builtins(settings))


LOCAL = {"local": UpstreamConfig(format=UpstreamApi.OPENAI_CHAT, base_url="http://127.0.0.1:1/v1")}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (
            LuthienConfig(upstreams=LOCAL, routes=[RouteConfig(model="llama*", upstream="local")]),
            "routes[0].upstream",
        ),
        (
            LuthienConfig(
                upstreams=LOCAL,
                routes=[
                    RouteConfig(model="claude-*", upstream="anthropic"),
                    RouteConfig(model="gpt*", upstream="openai", fallback="local"),
                ],
            ),
            "routes[1].fallback",
        ),
        (
            LuthienConfig(
                upstreams={
                    "openai": UpstreamConfig(format=UpstreamApi.OPENAI_CHAT, base_url="http://127.0.0.1:1")
                }
            ),
            "upstreams.openai",
        ),
    ],
)
def test_passthrough_refuses_a_config_that_only_serves_some_calls_translated(
    config: LuthienConfig, field: str
) -> None:
    settings = Settings()
    with pytest.raises(ConfigError) as refused:
        create_app(settings, config)
    assert refused.value.field == field


def test_passthrough_accepts_routes_to_upstreams_that_serve_their_dialect() -> None:
    config = LuthienConfig(
        routes=[
            RouteConfig(model="claude-*", upstream="anthropic"),
            RouteConfig(model="gpt*", upstream="openai"),
        ]
    )
    settings = Settings()
    check_passthrough(router_for(config, settings), settings)  # no error


@pytest.mark.parametrize("mode", ["proxy", "both"])
def test_a_proxy_key_allows_translated_routes(mode: str) -> None:
    config = LuthienConfig(upstreams=LOCAL, routes=[RouteConfig(model="llama*", upstream="local")])
    settings = Settings(api_key=PROXY_KEY, auth_mode=mode)  # pyright: ignore[reportArgumentType]
    check_passthrough(router_for(config, settings), settings)  # no error


@pytest.mark.asyncio
async def test_the_judges_caller_asks_a_chat_only_upstream_in_chat(chat_only: FakeProvider) -> None:
    chat_only.reset()
    settings = Settings()
    config = LuthienConfig(
        upstreams={
            "local": UpstreamConfig(format=UpstreamApi.OPENAI_CHAT, base_url=f"{chat_only.base_url}/v1")
        }
    )
    client = UpstreamClient(settings)
    await client.start()
    chat_only.enqueue(JSONReply(chat_completion(text='{"probability": 0.9, "explanation": "rm"}')))
    try:
        reply = await ModelCaller(router_for(config, settings), Breakers(client, 5, NEVER_S)).complete(
            "local", "llama-3", "you judge", "is rm -rf / safe?", 64
        )
    finally:
        await client.close()
    assert reply.text == '{"probability": 0.9, "explanation": "rm"}'
    [received] = chat_only.requests
    assert received.path == "/v1/chat/completions"
    body: dict[str, Any] = received.json()
    assert body["messages"][0] == {"role": "system", "content": "you judge"}


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses", "/v1/messages/count_tokens"])
def test_the_chat_only_fake_answers_404_outside_chat(chat_only: FakeProvider, path: str) -> None:
    chat_only.reset()
    answer = httpx.post(
        f"{chat_only.base_url}{path}", json={"model": "m"}, headers={"anthropic-version": "1"}
    )
    assert (answer.status_code, answer.json()) == (404, {"detail": "Not Found"})
    assert [request.path for request in chat_only.requests] == [path]


def test_the_chat_only_fake_serves_chat_and_an_openai_model_list(chat_only: FakeProvider) -> None:
    chat_only.reset()
    chat = httpx.post(f"{chat_only.base_url}/v1/chat/completions", json={"model": "m", "messages": []})
    models = httpx.get(f"{chat_only.base_url}/v1/models", headers={"anthropic-version": "1"})
    assert chat.json()["object"] == "chat.completion"
    assert models.json()["object"] == "list"


def test_a_call_without_a_policy_stage_is_translated_by_a_translation_stage() -> None:
    stage = translated_stage(PassThroughStage(), ANTHROPIC_MESSAGES, OPENAI_CHAT)
    assert isinstance(stage, TranslationStage)
    assert (stage.client_api, stage.upstream_api) == (ANTHROPIC_MESSAGES, OPENAI_CHAT)
