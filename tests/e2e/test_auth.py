"""Who may call the proxy, and which credentials reach the upstream, in each auth mode."""

from __future__ import annotations

from typing import Any, Literal

import anthropic
import httpx
import openai
import pytest

from luthien.config import LuthienConfig, RouteConfig, UpstreamApi, UpstreamConfig
from luthien.wire.formats import WireFormat
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, RawReply, ReceivedRequest
from tests.support.servers import LuthienServer

Shape = Literal["anthropic", "openai"]
USER: Any = [{"role": "user", "content": "hi"}]
PROXY_KEY = "proxy-key"
SERVER_ANTHROPIC = "server-anthropic"
SERVER_OPENAI = "server-openai"
OAUTH_TOKEN = "sk-ant-oat01-client-oauth-token"

ENDPOINTS: list[tuple[str, dict[str, Any], Shape]] = [
    ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": USER}, "anthropic"),
    ("/v1/messages/count_tokens", {"model": "claude-sonnet-4-6", "messages": USER}, "anthropic"),
    ("/v1/chat/completions", {"model": "gpt-5", "messages": USER}, "openai"),
    ("/v1/responses", {"model": "gpt-5", "input": "hi"}, "openai"),
]
ENDPOINT_IDS = ["messages", "count_tokens", "chat", "responses"]


@pytest.fixture
def proxy(make_luthien: LuthienFactory) -> LuthienServer:
    """Proxy mode: clients present the proxy key; the server's provider keys go upstream."""
    return make_luthien(api_key=PROXY_KEY, anthropic_api_key=SERVER_ANTHROPIC, openai_api_key=SERVER_OPENAI)


def credentials(request: ReceivedRequest) -> dict[str, str]:
    """The credential headers the upstream received."""
    return {name: value for name, value in request.headers.items() if name in ("x-api-key", "authorization")}


def server_credentials(shape: Shape) -> dict[str, str]:
    if shape == "anthropic":
        return {"x-api-key": SERVER_ANTHROPIC}
    return {"authorization": f"Bearer {SERVER_OPENAI}"}


def assert_authentication_error(response: httpx.Response, shape: Shape) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if shape == "anthropic":
        assert body["type"] == "error"
        assert body["error"]["type"] == "authentication_error"
        assert isinstance(body["error"]["message"], str)
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["type"] == "invalid_request_error"
        assert body["error"]["code"] == "invalid_api_key"
        assert body["error"]["param"] is None
        assert isinstance(body["error"]["message"], str)


def assert_key_not_leaked(request: ReceivedRequest, key: str) -> None:
    assert all(key not in value for value in request.headers.values())


# -- proxy mode --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "shape"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "wrong-key"},
        {"authorization": "Bearer wrong-key"},
        {"authorization": "Basic cHJveHkta2V5"},
        {"authorization": PROXY_KEY},
        {"x-api-key": ""},
        {"x-api-key": f"{PROXY_KEY}x"},
        {"x-api-key": PROXY_KEY[:-1]},
    ],
    ids=["none", "wrong-x-api-key", "wrong-bearer", "basic", "no-scheme", "empty", "longer", "prefix"],
)
def test_proxy_mode_rejects_missing_or_wrong_key(
    proxy: LuthienServer,
    fake: FakeProvider,
    path: str,
    body: dict[str, Any],
    shape: Shape,
    headers: dict[str, str],
) -> None:
    response = httpx.post(f"{proxy.base_url}{path}", json=body, headers=headers)

    assert_authentication_error(response, shape)
    assert fake.requests == []


def test_proxy_mode_checks_the_key_before_the_body(proxy: LuthienServer, fake: FakeProvider) -> None:
    response = httpx.post(
        f"{proxy.base_url}/v1/messages", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert_authentication_error(response, "anthropic")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("headers", "shape"),
    [({"anthropic-version": "2023-06-01"}, "anthropic"), ({}, "openai")],
    ids=["anthropic", "openai"],
)
def test_proxy_mode_model_list_needs_the_key(
    proxy: LuthienServer, fake: FakeProvider, headers: dict[str, str], shape: Shape
) -> None:
    rejected = httpx.get(f"{proxy.base_url}/v1/models", headers={**headers, "x-api-key": "wrong"})
    assert_authentication_error(rejected, shape)
    assert fake.requests == []

    accepted = httpx.get(f"{proxy.base_url}/v1/models", headers={**headers, "x-api-key": PROXY_KEY})
    assert accepted.status_code == 200
    assert credentials(fake.requests[-1]) == server_credentials(shape)


@pytest.mark.parametrize(("path", "body", "shape"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": PROXY_KEY},
        {"authorization": f"Bearer {PROXY_KEY}"},
        {"authorization": f"bearer {PROXY_KEY}"},
        {"x-api-key": "wrong-key", "authorization": f"Bearer {PROXY_KEY}"},
    ],
    ids=["x-api-key", "bearer", "lowercase-bearer", "one-of-two"],
)
def test_proxy_mode_sends_server_key_upstream(
    proxy: LuthienServer,
    fake: FakeProvider,
    path: str,
    body: dict[str, Any],
    shape: Shape,
    headers: dict[str, str],
) -> None:
    response = httpx.post(f"{proxy.base_url}{path}", json=body, headers=headers)

    assert response.status_code == 200
    [upstream] = fake.requests
    assert credentials(upstream) == server_credentials(shape)
    assert_key_not_leaked(upstream, PROXY_KEY)
    assert_key_not_leaked(upstream, "wrong-key")


def test_proxy_mode_with_sdks(proxy: LuthienServer, fake: FakeProvider) -> None:
    by_header = anthropic.Anthropic(
        base_url=proxy.base_url, default_headers={"x-api-key": PROXY_KEY}, max_retries=0
    )
    assert by_header.messages.count_tokens(model="claude-sonnet-4-6", messages=USER).input_tokens > 0
    by_key = anthropic.Anthropic(base_url=proxy.base_url, api_key=PROXY_KEY, max_retries=0)
    message = by_key.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    assert message.type == "message"
    by_token = anthropic.Anthropic(base_url=proxy.base_url, auth_token=PROXY_KEY, max_retries=0)
    with by_token.messages.stream(model="claude-sonnet-4-6", max_tokens=10, messages=USER) as stream:
        assert stream.get_final_message().type == "message"
    # The OpenAI SDK sends a Bearer token.
    client = openai.OpenAI(base_url=f"{proxy.base_url}/v1", api_key=PROXY_KEY, max_retries=0)
    completion = client.chat.completions.create(model="gpt-5", messages=USER)
    assert completion.object == "chat.completion"
    with client.responses.stream(model="gpt-5", input="hi") as events:
        assert events.get_final_response().status == "completed"

    assert [credentials(request) for request in fake.requests] == [
        server_credentials("anthropic"),
        server_credentials("anthropic"),
        server_credentials("anthropic"),
        server_credentials("openai"),
        server_credentials("openai"),
    ]
    for request in fake.requests:
        assert_key_not_leaked(request, PROXY_KEY)


def test_proxy_mode_sdks_raise_authentication_error(proxy: LuthienServer, fake: FakeProvider) -> None:
    wrong_anthropic = anthropic.Anthropic(base_url=proxy.base_url, api_key="wrong-key", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as anthropic_caught:
        wrong_anthropic.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    assert anthropic_caught.value.status_code == 401
    assert anthropic_caught.value.type == "authentication_error"

    wrong_openai = openai.OpenAI(base_url=f"{proxy.base_url}/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as openai_caught:
        wrong_openai.responses.create(model="gpt-5", input="hi")
    assert openai_caught.value.status_code == 401
    assert openai_caught.value.code == "invalid_api_key"
    assert fake.requests == []


def test_proxy_mode_without_server_key_sends_no_credentials(
    make_luthien: LuthienFactory, fake: FakeProvider
) -> None:
    server = make_luthien(api_key=PROXY_KEY)

    response = httpx.post(
        f"{server.base_url}/v1/messages", json=ENDPOINTS[0][1], headers={"x-api-key": PROXY_KEY}
    )

    assert response.status_code == 200
    assert credentials(fake.requests[-1]) == {}


def test_health_and_root_need_no_key(proxy: LuthienServer) -> None:
    assert httpx.get(f"{proxy.base_url}/health").status_code == 200
    assert httpx.get(f"{proxy.base_url}/").status_code == 200


# -- passthrough mode --------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body", "shape"), ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "sk-ant-api03-client"},
        {"authorization": f"Bearer {OAUTH_TOKEN}", "anthropic-beta": "oauth-2025-04-20"},
        {"authorization": "Bearer sk-proj-client"},
        {},
    ],
    ids=["api-key", "oauth", "openai-bearer", "none"],
)
def test_passthrough_forwards_client_credentials_unchanged(
    luthien: LuthienServer,
    fake: FakeProvider,
    path: str,
    body: dict[str, Any],
    shape: Shape,
    headers: dict[str, str],
) -> None:
    response = httpx.post(f"{luthien.base_url}{path}", json=body, headers=headers)

    assert response.status_code == 200
    [upstream] = fake.requests
    assert credentials(upstream) == {
        name: value for name, value in headers.items() if name != "anthropic-beta"
    }
    if "anthropic-beta" in headers:
        assert upstream.headers["anthropic-beta"] == headers["anthropic-beta"]


def test_passthrough_with_sdks(luthien: LuthienServer, fake: FakeProvider) -> None:
    # The installed Anthropic SDK sends `api_key` as a Bearer token too; an x-api-key header
    # (what Claude Code sends) is set explicitly.
    by_header = anthropic.Anthropic(
        base_url=luthien.base_url, default_headers={"x-api-key": "sk-ant-api03-header"}, max_retries=0
    )
    by_header.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    by_key = anthropic.Anthropic(base_url=luthien.base_url, api_key="sk-ant-api03-client", max_retries=0)
    by_key.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    by_oauth = anthropic.Anthropic(base_url=luthien.base_url, auth_token=OAUTH_TOKEN, max_retries=0)
    by_oauth.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    client = openai.OpenAI(base_url=f"{luthien.base_url}/v1", api_key="sk-proj-client", max_retries=0)
    client.chat.completions.create(model="gpt-5", messages=USER)
    client.models.list()

    assert [credentials(request) for request in fake.requests] == [
        {"x-api-key": "sk-ant-api03-header"},
        {"authorization": "Bearer sk-ant-api03-client"},
        {"authorization": f"Bearer {OAUTH_TOKEN}"},
        {"authorization": "Bearer sk-proj-client"},
        {"authorization": "Bearer sk-proj-client"},
    ]


def test_explicit_passthrough_ignores_the_proxy_key(make_luthien: LuthienFactory, fake: FakeProvider) -> None:
    server = make_luthien(api_key=PROXY_KEY, auth_mode="passthrough", anthropic_api_key=SERVER_ANTHROPIC)

    unauthenticated = httpx.post(f"{server.base_url}/v1/messages", json=ENDPOINTS[0][1])
    with_client_key = httpx.post(
        f"{server.base_url}/v1/messages", json=ENDPOINTS[0][1], headers={"x-api-key": "sk-ant-client"}
    )

    assert unauthenticated.status_code == with_client_key.status_code == 200
    assert [credentials(request) for request in fake.requests] == [{}, {"x-api-key": "sk-ant-client"}]


# -- both --------------------------------------------------------------------------------------------


@pytest.fixture
def both(make_luthien: LuthienFactory) -> LuthienServer:
    return make_luthien(
        api_key=PROXY_KEY,
        auth_mode="both",
        anthropic_api_key=SERVER_ANTHROPIC,
        openai_api_key=SERVER_OPENAI,
    )


@pytest.mark.parametrize(("path", "body", "shape"), ENDPOINTS, ids=ENDPOINT_IDS)
def test_both_mode_swaps_proxy_key_and_forwards_others(
    both: LuthienServer, fake: FakeProvider, path: str, body: dict[str, Any], shape: Shape
) -> None:
    url = f"{both.base_url}{path}"
    proxied = httpx.post(url, json=body, headers={"authorization": f"Bearer {PROXY_KEY}"})
    own_key = httpx.post(url, json=body, headers={"x-api-key": "sk-ant-client"})
    own_oauth = httpx.post(url, json=body, headers={"authorization": f"Bearer {OAUTH_TOKEN}"})
    anonymous = httpx.post(url, json=body)

    assert [response.status_code for response in (proxied, own_key, own_oauth, anonymous)] == [200] * 4
    assert [credentials(request) for request in fake.requests] == [
        server_credentials(shape),
        {"x-api-key": "sk-ant-client"},
        {"authorization": f"Bearer {OAUTH_TOKEN}"},
        {},
    ]
    assert_key_not_leaked(fake.requests[0], PROXY_KEY)


def test_both_mode_with_sdks(both: LuthienServer, fake: FakeProvider) -> None:
    anthropic.Anthropic(base_url=both.base_url, api_key=PROXY_KEY, max_retries=0).messages.create(
        model="claude-sonnet-4-6", max_tokens=10, messages=USER
    )
    anthropic.Anthropic(base_url=both.base_url, auth_token=OAUTH_TOKEN, max_retries=0).messages.create(
        model="claude-sonnet-4-6", max_tokens=10, messages=USER
    )
    openai.OpenAI(base_url=f"{both.base_url}/v1", api_key=PROXY_KEY, max_retries=0).responses.create(
        model="gpt-5", input="hi"
    )
    openai.OpenAI(base_url=f"{both.base_url}/v1", api_key="sk-proj-client", max_retries=0).responses.create(
        model="gpt-5", input="hi"
    )

    assert [credentials(request) for request in fake.requests] == [
        server_credentials("anthropic"),
        {"authorization": f"Bearer {OAUTH_TOKEN}"},
        server_credentials("openai"),
        {"authorization": "Bearer sk-proj-client"},
    ]


# -- per-upstream keys from the config ----------------------------------------------------------------


def test_upstream_keys_from_config(
    make_luthien: LuthienFactory, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_OPENAI_KEY", "env-openai-key")
    config = LuthienConfig(
        upstreams={
            "team": UpstreamConfig.model_validate(
                {"format": WireFormat.ANTHROPIC, "base_url": fake.base_url, "api_key": "config-anthropic-key"}
            ),
            "local": UpstreamConfig(
                format=UpstreamApi.OPENAI, base_url=f"{fake.base_url}/v1", api_key_env="TEAM_OPENAI_KEY"
            ),
        },
        routes=[
            RouteConfig(model="claude-opus-*", upstream="team"),
            RouteConfig(model="llama*", upstream="local"),
        ],
    )
    server = make_luthien(
        config=config, api_key=PROXY_KEY, anthropic_api_key=SERVER_ANTHROPIC, openai_api_key=SERVER_OPENAI
    )
    anthropic_client = anthropic.Anthropic(base_url=server.base_url, api_key=PROXY_KEY, max_retries=0)
    openai_client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=PROXY_KEY, max_retries=0)

    anthropic_client.messages.create(model="claude-opus-4-1", max_tokens=10, messages=USER)
    anthropic_client.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=USER)
    openai_client.chat.completions.create(model="llama3", messages=USER)
    openai_client.chat.completions.create(model="gpt-5", messages=USER)

    assert [credentials(request) for request in fake.requests] == [
        {"x-api-key": "config-anthropic-key"},
        server_credentials("anthropic"),
        {"authorization": "Bearer env-openai-key"},
        server_credentials("openai"),
    ]


def test_upstream_key_env_is_read_when_the_call_is_made(
    make_luthien: LuthienFactory, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROTATING_KEY", raising=False)
    config = LuthienConfig(
        upstreams={
            "anthropic": UpstreamConfig(
                format=UpstreamApi.ANTHROPIC, base_url=fake.base_url, api_key_env="ROTATING_KEY"
            )
        }
    )
    server = make_luthien(config=config, api_key=PROXY_KEY)
    url = f"{server.base_url}/v1/messages"
    headers = {"x-api-key": PROXY_KEY}

    unset = httpx.post(url, json=ENDPOINTS[0][1], headers=headers)
    monkeypatch.setenv("ROTATING_KEY", "rotated-key")
    after = httpx.post(url, json=ENDPOINTS[0][1], headers=headers)

    assert unset.status_code == after.status_code == 200
    assert [credentials(request) for request in fake.requests] == [{}, {"x-api-key": "rotated-key"}]


def test_upstream_redirect_is_passed_back_not_followed(luthien: LuthienServer, fake: FakeProvider) -> None:
    with FakeProvider() as elsewhere:
        fake.enqueue(RawReply(b"", status=307, headers={"location": f"{elsewhere.base_url}/v1/messages"}))

        response = httpx.post(
            f"{luthien.base_url}/v1/messages", json=ENDPOINTS[0][1], headers={"x-api-key": "sk-ant-secret"}
        )

        assert elsewhere.requests == []
        assert response.status_code == 307
