"""Model routing from the config: globs in order, built-in fallbacks, format checks and upstream URLs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from luthien.config import LuthienConfig, RouteConfig, UpstreamConfig
from luthien.wire.formats import WireFormat
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, StreamReply, anthropic_stream, chat_stream
from tests.support.servers import LuthienServer

USER: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def _second_session() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def second(_second_session: FakeProvider) -> Iterator[FakeProvider]:
    """A second fake provider, a different upstream from `fake`."""
    _second_session.reset()
    yield _second_session
    _second_session.reset()


def messages_body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 10, "messages": USER, **extra}


def chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER, **extra}


def upstream(wire_format: WireFormat, base_url: str) -> UpstreamConfig:
    return UpstreamConfig(format=wire_format, base_url=base_url)


@pytest.fixture
def routed(make_luthien: LuthienFactory, fake: FakeProvider, second: FakeProvider) -> LuthienServer:
    """Opus and `gpt-5-mini*` go to `second`; other Claude models explicitly to the built-in upstream."""
    config = LuthienConfig(
        upstreams={
            "second-anthropic": upstream(WireFormat.ANTHROPIC, second.base_url),
            "second-openai": upstream(WireFormat.OPENAI, f"{second.base_url}/v1"),
        },
        routes=[
            RouteConfig(model="claude-opus-*", upstream="second-anthropic"),
            RouteConfig(model="claude-*", upstream="anthropic"),
            RouteConfig(model="gpt-5-mini*", upstream="second-openai"),
            RouteConfig(model="*-local", upstream="second-openai"),
            RouteConfig(model="claude-3-opus-*", upstream="second-anthropic"),
        ],
    )
    return make_luthien(config=config)


def paths(provider: FakeProvider) -> list[str]:
    return [request.path for request in provider.requests]


def models(provider: FakeProvider) -> list[str]:
    return [request.json()["model"] for request in provider.requests]


@pytest.mark.parametrize(
    ("model", "goes_to_second"),
    [
        ("claude-opus-4-1-20250805", True),
        ("claude-sonnet-4-6", False),
        # Also matches the later `claude-3-opus-*` route, but `claude-*` comes first.
        ("claude-3-opus-20240229", False),
        # Globs are case-sensitive.
        ("CLAUDE-OPUS-4", False),
        ("unrouted-model", False),
    ],
)
def test_messages_route_by_first_matching_glob(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider, model: str, goes_to_second: bool
) -> None:
    response = httpx.post(f"{routed.base_url}/v1/messages", json=messages_body(model))

    assert response.status_code == 200
    target, other = (second, fake) if goes_to_second else (fake, second)
    assert models(target) == [model]
    assert other.requests == []
    assert paths(target) == ["/v1/messages"]


@pytest.mark.parametrize(
    ("model", "goes_to_second"),
    [("gpt-5-mini", True), ("gpt-5-mini-2025-08-07", True), ("llama-local", True), ("gpt-5", False)],
)
def test_openai_endpoints_route_by_glob(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider, model: str, goes_to_second: bool
) -> None:
    client = openai.OpenAI(base_url=f"{routed.base_url}/v1", api_key="k", max_retries=0)

    client.chat.completions.create(model=model, messages=USER)
    client.responses.create(model=model, input="hi")

    target, other = (second, fake) if goes_to_second else (fake, second)
    assert paths(target) == ["/v1/chat/completions", "/v1/responses"]
    assert models(target) == [model, model]
    assert other.requests == []


def test_count_tokens_is_routed_too(routed: LuthienServer, fake: FakeProvider, second: FakeProvider) -> None:
    client = anthropic.Anthropic(base_url=routed.base_url, api_key="k", max_retries=0)

    client.messages.count_tokens(model="claude-opus-4-1", messages=USER)
    client.messages.count_tokens(model="claude-sonnet-4-6", messages=USER)

    assert paths(second) == ["/v1/messages/count_tokens"]
    assert paths(fake) == ["/v1/messages/count_tokens"]


def test_routed_stream_is_byte_identical_and_keeps_query_and_headers(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider
) -> None:
    frames = anthropic_stream("Routed hello", text_chunks=3)
    second.enqueue(StreamReply(frames))
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "some-beta", "x-api-key": "client-key"}

    with httpx.stream(
        "POST",
        f"{routed.base_url}/v1/messages?beta=true",
        json=messages_body("claude-opus-4-1", stream=True),
        headers=headers,
    ) as response:
        received = b"".join(response.iter_bytes())

    assert received == b"".join(frames)
    [request] = second.requests
    assert request.query == "beta=true"
    assert {name: request.headers[name] for name in headers} == headers
    assert fake.requests == []


def test_routed_openai_stream_with_sdk(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider
) -> None:
    second.enqueue(StreamReply(chat_stream("from the second upstream", model="gpt-5-mini")))
    client = openai.OpenAI(base_url=f"{routed.base_url}/v1", api_key="k", max_retries=0)

    with client.chat.completions.stream(model="gpt-5-mini", messages=USER) as stream:
        completion = stream.get_final_completion()

    assert completion.choices[0].message.content == "from the second upstream"
    assert paths(second) == ["/v1/chat/completions"]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("path", "body", "model"),
    [
        ("/v1/messages", messages_body("llama-local"), "llama-local"),
        ("/v1/messages/count_tokens", {"model": "gpt-5-mini", "messages": USER}, "gpt-5-mini"),
        ("/v1/messages", messages_body("gpt-5-mini", stream=True), "gpt-5-mini"),
    ],
    ids=["messages", "count_tokens", "messages-stream"],
)
def test_anthropic_client_routed_to_openai_upstream_is_400(
    routed: LuthienServer,
    fake: FakeProvider,
    second: FakeProvider,
    path: str,
    body: dict[str, Any],
    model: str,
) -> None:
    response = httpx.post(f"{routed.base_url}{path}", json=body)

    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert isinstance(error["error"]["message"], str)
    assert fake.requests == []
    assert second.requests == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", chat_body("claude-opus-4-1")),
        ("/v1/responses", {"model": "claude-sonnet-4-6", "input": "hi", "stream": True}),
    ],
    ids=["chat", "responses-stream"],
)
def test_openai_client_routed_to_anthropic_upstream_is_400(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider, path: str, body: dict[str, Any]
) -> None:
    """In passthrough mode a call that needs translating is refused: a client's key never crosses APIs."""
    response = httpx.post(f"{routed.base_url}{path}", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_request"
    assert fake.requests == []
    assert second.requests == []


def test_sdks_raise_bad_request_for_cross_format_route(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider
) -> None:
    """Passthrough mode (no proxy key): see the test above; translated routes are in test_translation_*."""
    with pytest.raises(anthropic.BadRequestError) as anthropic_caught:
        anthropic.Anthropic(base_url=routed.base_url, api_key="k", max_retries=0).messages.create(
            model="gpt-5-mini", max_tokens=10, messages=USER
        )
    assert anthropic_caught.value.type == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as openai_caught:
        openai.OpenAI(base_url=f"{routed.base_url}/v1", api_key="k", max_retries=0).chat.completions.create(
            model="claude-opus-4-1", messages=USER
        )
    assert openai_caught.value.code == "invalid_request"
    assert fake.requests == []
    assert second.requests == []


@pytest.mark.parametrize(
    ("suffix", "prefix"),
    [("", ""), ("/", ""), ("/v1", ""), ("/v1/", ""), ("/proxy", "/proxy"), ("/proxy/v1", "/proxy")],
)
def test_upstream_base_url_gets_exactly_one_v1(
    make_luthien: LuthienFactory, second: FakeProvider, suffix: str, prefix: str
) -> None:
    config = LuthienConfig(
        upstreams={
            "a": upstream(WireFormat.ANTHROPIC, f"{second.base_url}{suffix}"),
            "o": upstream(WireFormat.OPENAI, f"{second.base_url}{suffix}"),
        },
        routes=[RouteConfig(model="claude-*", upstream="a"), RouteConfig(model="gpt-*", upstream="o")],
    )
    server = make_luthien(config=config)

    httpx.post(f"{server.base_url}/v1/messages?beta=true", json=messages_body("claude-sonnet-4-6"))
    httpx.post(f"{server.base_url}/v1/messages/count_tokens", json={"model": "claude-x", "messages": USER})
    httpx.post(f"{server.base_url}/v1/chat/completions", json=chat_body("gpt-5"))
    httpx.post(f"{server.base_url}/v1/responses", json={"model": "gpt-5", "input": "hi"})

    assert [(request.path, request.query) for request in second.requests] == [
        (f"{prefix}/v1/messages", "beta=true"),
        (f"{prefix}/v1/messages/count_tokens", ""),
        (f"{prefix}/v1/chat/completions", ""),
        (f"{prefix}/v1/responses", ""),
    ]


def test_config_entry_replaces_builtin_upstream(
    make_luthien: LuthienFactory, fake: FakeProvider, second: FakeProvider
) -> None:
    config = LuthienConfig(upstreams={"anthropic": upstream(WireFormat.ANTHROPIC, second.base_url)})
    server = make_luthien(config=config)

    anthropic_response = httpx.post(f"{server.base_url}/v1/messages", json=messages_body("anything"))
    openai_response = httpx.post(f"{server.base_url}/v1/chat/completions", json=chat_body("anything"))

    assert anthropic_response.status_code == openai_response.status_code == 200
    assert paths(second) == ["/v1/messages"]
    assert paths(fake) == ["/v1/chat/completions"]


def test_model_list_merges_upstreams_of_the_clients_format(
    routed: LuthienServer, fake: FakeProvider, second: FakeProvider
) -> None:
    client = anthropic.Anthropic(base_url=routed.base_url, api_key="k", max_retries=0)

    listed = [model.id for model in client.models.list()]

    # Both fakes list the same models: the merge keeps each id once, in order.
    direct = httpx.get(f"{fake.base_url}/v1/models", headers={"anthropic-version": "2023-06-01"}).json()
    assert listed == [model["id"] for model in direct["data"]]
    assert paths(fake) == ["/v1/models", "/v1/models"]
    assert paths(second) == ["/v1/models"]
