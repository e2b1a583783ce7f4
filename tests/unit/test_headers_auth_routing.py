"""Header filtering in both directions, client authentication, and model routing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from luthien.config import LuthienConfig, RouteConfig, UpstreamConfig
from luthien.gateway.auth import presented_keys, use_server_key
from luthien.gateway.headers import client_response_headers, upstream_request_headers
from luthien.settings import AuthMode, Settings
from luthien.upstream.routing import Router, Upstream
from luthien.wire.errors import ErrorKind, GatewayError
from luthien.wire.formats import WireFormat

PROXY_KEY = "luthien-proxy-key"
SERVER_KEY = "sk-server"
CLIENT_KEY = "sk-client"


# --- upstream request headers -------------------------------------------------------------------

CLIENT_HEADERS = [
    ("host", "localhost:8000"),
    ("content-length", "42"),
    ("content-type", "application/json"),
    ("accept-encoding", "br, zstd"),
    ("connection", "keep-alive, X-Custom-Hop"),
    ("keep-alive", "timeout=5"),
    ("x-custom-hop", "1"),
    ("te", "trailers"),
    ("transfer-encoding", "chunked"),
    ("upgrade", "h2c"),
    ("proxy-authorization", "Basic abc"),
    ("trailer", "x"),
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "a,b"),
    ("x-stainless-lang", "python"),
    ("user-agent", "sdk/1.0"),
    ("session-id", "s1"),
    ("x-luthien-policy", "strict"),
    ("x-luthien-debug", "1"),
]


def names(headers: Any) -> list[str]:
    return [name.lower() for name in headers]


def test_hop_by_hop_framing_and_connection_listed_headers_are_dropped() -> None:
    headers = upstream_request_headers(CLIENT_HEADERS, WireFormat.ANTHROPIC, None, use_server_key=False)

    for dropped in (
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "x-custom-hop",
        "te",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "trailer",
    ):
        assert dropped not in headers, dropped


def test_luthien_control_headers_are_dropped() -> None:
    headers = upstream_request_headers(CLIENT_HEADERS, WireFormat.ANTHROPIC, None, use_server_key=False)

    assert not [name for name in names(headers) if name.startswith("x-luthien-")]


def test_provider_headers_pass_in_order() -> None:
    headers = upstream_request_headers(CLIENT_HEADERS, WireFormat.ANTHROPIC, None, use_server_key=False)

    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "a,b"
    assert headers["x-stainless-lang"] == "python"
    assert headers["user-agent"] == "sdk/1.0"
    assert headers["session-id"] == "s1"
    assert headers["content-type"] == "application/json"
    kept = [name for name in names(headers) if name != "accept-encoding"]
    assert kept == [
        "content-type",
        "anthropic-version",
        "anthropic-beta",
        "x-stainless-lang",
        "user-agent",
        "session-id",
    ]


def test_repeated_headers_are_all_kept() -> None:
    headers = upstream_request_headers(
        [("x-stainless-a", "1"), ("x-stainless-a", "2")], WireFormat.OPENAI, None, use_server_key=False
    )

    assert headers.getall("x-stainless-a") == ["1", "2"]


def test_accept_encoding_is_replaced_by_what_the_proxy_decodes() -> None:
    headers = upstream_request_headers(CLIENT_HEADERS, WireFormat.OPENAI, None, use_server_key=False)

    # Not br or zstd: the proxy parses the stream, so it asks only for encodings its client decodes.
    assert headers.getall("accept-encoding") == ["gzip, deflate"]


def test_accept_encoding_is_set_when_client_sent_none() -> None:
    headers = upstream_request_headers([], WireFormat.OPENAI, None, use_server_key=False)

    assert headers.getall("accept-encoding") == ["gzip, deflate"]


HOP_BY_HOP = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
]


@pytest.mark.parametrize("name", [*HOP_BY_HOP, "host", "content-length", "Connection", "TE"])
def test_each_hop_by_hop_or_framing_header_stays_off_the_upstream_request(name: str) -> None:
    headers = upstream_request_headers(
        [(name.lower(), "x"), ("x-kept", "1")], WireFormat.ANTHROPIC, None, use_server_key=False
    )

    assert names(headers) == ["x-kept", "accept-encoding"]


@pytest.mark.parametrize(
    "name", [*HOP_BY_HOP, "content-length", "content-encoding", "date", "server", "Transfer-Encoding"]
)
def test_each_hop_by_hop_or_framing_header_stays_off_the_client_response(name: str) -> None:
    assert client_response_headers([(name, "x"), ("x-kept", "1")]) == [(b"x-kept", b"1")]


@pytest.mark.parametrize("value", ["close,X-Foo", "close, X-Foo", "X-Foo,close", " x-foo ,, close"])
def test_headers_listed_in_connection_are_dropped_however_the_list_is_spaced(value: str) -> None:
    up = upstream_request_headers(
        [("connection", value), ("x-foo", "1"), ("x-kept", "1")], WireFormat.OPENAI, None, False
    )
    down = client_response_headers([("Connection", value), ("X-Foo", "1"), ("x-kept", "1")])

    assert names(up) == ["x-kept", "accept-encoding"]
    assert down == [(b"x-kept", b"1")]


def test_client_credentials_forwarded_without_server_key() -> None:
    client = [("x-api-key", CLIENT_KEY), ("authorization", f"Bearer {CLIENT_KEY}")]

    headers = upstream_request_headers(client, WireFormat.ANTHROPIC, SERVER_KEY, use_server_key=False)

    assert headers["x-api-key"] == CLIENT_KEY
    assert headers["authorization"] == f"Bearer {CLIENT_KEY}"


@pytest.mark.parametrize(
    ("upstream_format", "header", "value", "absent"),
    [
        (WireFormat.ANTHROPIC, "x-api-key", SERVER_KEY, "authorization"),
        (WireFormat.OPENAI, "authorization", f"Bearer {SERVER_KEY}", "x-api-key"),
    ],
)
def test_server_key_replaces_client_credentials(
    upstream_format: WireFormat, header: str, value: str, absent: str
) -> None:
    client = [("x-api-key", PROXY_KEY), ("authorization", f"Bearer {PROXY_KEY}"), ("user-agent", "u")]

    headers = upstream_request_headers(client, upstream_format, SERVER_KEY, use_server_key=True)

    assert headers.getall(header) == [value]
    assert absent not in headers
    assert PROXY_KEY not in " ".join(headers.values())
    assert headers["user-agent"] == "u"


def test_server_key_mode_without_configured_key_sends_no_credentials() -> None:
    client = [("x-api-key", PROXY_KEY), ("authorization", f"Bearer {PROXY_KEY}")]

    headers = upstream_request_headers(client, WireFormat.ANTHROPIC, None, use_server_key=True)

    assert "x-api-key" not in headers
    assert "authorization" not in headers


# --- response headers ---------------------------------------------------------------------------


def test_client_response_headers_filtering() -> None:
    upstream = [
        ("Content-Type", "text/event-stream"),
        ("Content-Length", "10"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("Server", "cloudflare"),
        ("Request-Id", "req_1"),
        ("anthropic-ratelimit-requests-remaining", "99"),
        ("x-request-id", "abc"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]

    out = client_response_headers(upstream)

    assert out == [
        (b"content-type", b"text/event-stream"),
        (b"request-id", b"req_1"),
        (b"anthropic-ratelimit-requests-remaining", b"99"),
        (b"x-request-id", b"abc"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]


def test_client_response_headers_keep_the_bytes_received() -> None:
    # aiohttp decodes header bytes as UTF-8 with surrogateescape; the bytes go back out unchanged.
    received = [
        ("x-utf8", "caf\u00e9 \U0001f600"),  # valid UTF-8 on the wire
        ("x-latin1", "caf\udce9"),  # a latin-1 byte, not UTF-8
    ]
    assert client_response_headers(received) == [
        (b"x-utf8", "caf\u00e9 \U0001f600".encode()),
        (b"x-latin1", b"caf\xe9"),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [("x-note", "a\nb"), ("x-note", "a\x00b"), ("x note", "v"), ("x-note", "\ud800")],
    ids=["newline", "nul", "space-in-name", "lone-surrogate"],
)
def test_client_response_headers_drop_what_cannot_be_written(name: str, value: str) -> None:
    assert client_response_headers([(name, value), ("x-kept", "1")]) == [(b"x-kept", b"1")]


def test_client_response_headers_drop_a_name_that_is_not_utf8() -> None:
    # A header name carrying a byte that is not UTF-8 (decoded by aiohttp as a surrogate escape).
    assert client_response_headers([("x-caf\udce9", "1"), ("x-kept", "1")]) == [(b"x-kept", b"1")]


def test_client_response_headers_drop_an_empty_name_but_keep_an_empty_value() -> None:
    assert client_response_headers([("", "v"), ("x-empty", ""), ("x-kept", "1")]) == [
        (b"x-empty", b""),
        (b"x-kept", b"1"),
    ]


def test_dropped_headers_are_logged_by_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="luthien.gateway")
    client_response_headers([("x-note", "a\nb")])
    upstream_request_headers([("x-latin1", "caf\u00e9")], WireFormat.ANTHROPIC, None, False)

    assert [(record.name, record.levelno, record.args) for record in caplog.records] == [
        ("luthien.gateway", logging.WARNING, ("x-note",)),
        ("luthien.gateway", logging.WARNING, ("x-latin1",)),
    ]


def test_upstream_request_headers_keep_the_client_bytes() -> None:
    # ASGI bytes read as latin-1; aiohttp writes UTF-8: a UTF-8 value goes up unchanged.
    client = [("x-utf8", "caf\u00e9".encode().decode("latin-1")), ("x-latin1", "caf\u00e9"), ("x-kept", "1")]
    headers = upstream_request_headers(client, WireFormat.ANTHROPIC, None, False)
    assert headers["x-utf8"] == "caf\u00e9"
    assert "x-latin1" not in headers
    assert headers["x-kept"] == "1"


# --- auth ---------------------------------------------------------------------------------------


def settings(api_key: str | None = PROXY_KEY, auth_mode: AuthMode | None = None) -> Settings:
    values: dict[str, Any] = {"api_key": api_key, "auth_mode": auth_mode}
    return Settings.model_validate(values)


@pytest.mark.parametrize(
    ("headers", "keys"),
    [
        ([("x-api-key", " k1 ")], ["k1"]),
        ([("authorization", "Bearer k2")], ["k2"]),
        ([("authorization", "bearer k2")], ["k2"]),
        ([("authorization", "BEARER k2")], ["k2"]),
        ([("authorization", "Basic k2")], []),
        ([("authorization", "Bearerk2")], []),
        ([("x-api-key", "a"), ("authorization", "Bearer b")], ["a", "b"]),
        ([("user-agent", "x")], []),
    ],
)
def test_presented_keys(headers: list[tuple[str, str]], keys: list[str]) -> None:
    assert presented_keys(headers) == keys


@pytest.mark.parametrize(
    "headers",
    [
        [("x-api-key", PROXY_KEY)],
        [("authorization", f"Bearer {PROXY_KEY}")],
        [("authorization", f"bearer {PROXY_KEY}")],
        [("authorization", f"BeArEr {PROXY_KEY}")],
        [("x-api-key", "wrong"), ("authorization", f"Bearer {PROXY_KEY}")],
    ],
)
@pytest.mark.parametrize("mode", [AuthMode.PROXY, AuthMode.BOTH, None])
def test_proxy_key_gets_server_key(headers: list[tuple[str, str]], mode: AuthMode | None) -> None:
    assert use_server_key(headers, settings(auth_mode=mode)) is True


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("x-api-key", "wrong")],
        [("authorization", "Bearer wrong")],
        [("authorization", PROXY_KEY)],
        [("authorization", f"Basic {PROXY_KEY}")],
        [("x-api-key", PROXY_KEY + "x")],
        [("x-api-key", PROXY_KEY[:-1])],
        [("x-api-key", "")],
    ],
)
@pytest.mark.parametrize("mode", [AuthMode.PROXY, None])
def test_proxy_mode_rejects_missing_or_wrong_key(
    headers: list[tuple[str, str]], mode: AuthMode | None
) -> None:
    with pytest.raises(GatewayError) as caught:
        use_server_key(headers, settings(auth_mode=mode))

    assert caught.value.kind is ErrorKind.AUTHENTICATION
    assert caught.value.kind.status == 401
    # The client gets a readable message (a string, not null) that never echoes a credential.
    message = caught.value.message
    assert isinstance(message, str)
    assert message.strip()
    assert not any(value and value in message for _, value in headers)


@pytest.mark.parametrize(
    "headers", [[], [("x-api-key", CLIENT_KEY)], [("authorization", f"Bearer {CLIENT_KEY}")]]
)
def test_both_mode_forwards_other_credentials(headers: list[tuple[str, str]]) -> None:
    assert use_server_key(headers, settings(auth_mode=AuthMode.BOTH)) is False


@pytest.mark.parametrize(
    "headers", [[], [("x-api-key", PROXY_KEY)], [("authorization", f"Bearer {PROXY_KEY}")]]
)
@pytest.mark.parametrize("api_key", [PROXY_KEY, None])
def test_passthrough_mode_never_uses_server_key(headers: list[tuple[str, str]], api_key: str | None) -> None:
    assert use_server_key(headers, settings(api_key=api_key, auth_mode=AuthMode.PASSTHROUGH)) is False


def test_default_mode_without_api_key_is_passthrough() -> None:
    assert use_server_key([("x-api-key", "anything")], settings(api_key=None)) is False


# --- routing ------------------------------------------------------------------------------------


def upstream_config(wire_format: WireFormat, base_url: str = "https://example.com") -> UpstreamConfig:
    return UpstreamConfig(format=wire_format, base_url=base_url)


def router(routes: list[tuple[str, str]], extra: dict[str, UpstreamConfig] | None = None) -> Router:
    config = LuthienConfig(
        upstreams={
            "local": upstream_config(WireFormat.OPENAI, "http://127.0.0.1:11434/v1"),
            "work": upstream_config(WireFormat.ANTHROPIC, "https://work.example"),
            **(extra or {}),
        },
        routes=[RouteConfig(model=model, upstream=name) for model, name in routes],
    )
    return Router(config.with_builtins(Settings()))


def test_router_first_matching_glob_wins() -> None:
    routes = router([("llama*", "local"), ("claude-*", "work"), ("*", "openai"), ("llama-3", "work")])

    assert routes.resolve("llama-3", WireFormat.OPENAI).name == "local"
    assert routes.resolve("claude-sonnet-4", WireFormat.ANTHROPIC).name == "work"
    assert routes.resolve("gpt-5", WireFormat.ANTHROPIC).name == "openai"


def test_router_globs_are_case_sensitive_and_anchored() -> None:
    routes = router([("claude-*", "work"), ("gpt-?", "local")])

    assert routes.resolve("Claude-x", WireFormat.ANTHROPIC).name == "anthropic"
    assert routes.resolve("my-claude-x", WireFormat.ANTHROPIC).name == "anthropic"
    assert routes.resolve("gpt-5", WireFormat.OPENAI).name == "local"
    assert routes.resolve("gpt-55", WireFormat.OPENAI).name == "openai"


@pytest.mark.parametrize("client_format", list(WireFormat))
def test_router_default_is_builtin_named_after_client_format(client_format: WireFormat) -> None:
    upstream = router([]).resolve("unknown-model", client_format)

    assert upstream.name == client_format.value
    assert upstream.format is client_format


def test_router_route_to_overridden_builtin() -> None:
    custom = upstream_config(WireFormat.ANTHROPIC, "https://custom.example")

    upstream = router([], {"anthropic": custom}).resolve("claude", WireFormat.ANTHROPIC)

    assert upstream.config.base_url == "https://custom.example"


def test_router_by_format_in_config_order() -> None:
    routes = router([], {"second-openai": upstream_config(WireFormat.OPENAI)})

    assert [u.name for u in routes.by_format(WireFormat.OPENAI)] == ["openai", "local", "second-openai"]
    assert [u.name for u in routes.by_format(WireFormat.ANTHROPIC)] == ["anthropic", "work"]


@pytest.mark.parametrize(
    ("base_url", "path", "query", "expected"),
    [
        ("https://api.anthropic.com", "/v1/messages", "", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "/v1/messages", "", "https://api.anthropic.com/v1/messages"),
        (
            "https://api.openai.com/v1",
            "/v1/chat/completions",
            "",
            "https://api.openai.com/v1/chat/completions",
        ),
        ("https://api.openai.com/v1/", "/v1/responses", "", "https://api.openai.com/v1/responses"),
        (
            "http://127.0.0.1:11434/proxy/v1",
            "/v1/chat/completions",
            "",
            "http://127.0.0.1:11434/proxy/v1/chat/completions",
        ),
        ("http://host/api", "/v1/messages", "", "http://host/api/v1/messages"),
        (
            "https://api.anthropic.com",
            "/v1/messages",
            "beta=true&x=1",
            "https://api.anthropic.com/v1/messages?beta=true&x=1",
        ),
        (
            "https://api.openai.com/v1",
            "/v1/responses",
            "api-version=2",
            "https://api.openai.com/v1/responses?api-version=2",
        ),
        ("https://example.com/v10", "/v1/messages", "", "https://example.com/v10/v1/messages"),
    ],
)
def test_upstream_url(base_url: str, path: str, query: str, expected: str) -> None:
    upstream = Upstream("u", upstream_config(WireFormat.OPENAI, base_url))

    assert upstream.url(path, query) == expected


def test_a_call_without_a_model_matches_no_route_and_goes_to_the_default_upstream() -> None:
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"elsewhere": {"format": "openai", "base_url": "http://127.0.0.1:9/v1"}},
            "routes": [{"model": "*", "upstream": "elsewhere"}],
        }
    ).with_builtins(Settings())
    router = Router(config)

    assert router.route("") is None
    assert router.resolve("", WireFormat.OPENAI).name == "openai"
    assert router.resolve("gpt-5", WireFormat.OPENAI).name == "elsewhere"


def test_each_dialect_presents_a_provider_key_in_its_own_header() -> None:
    assert WireFormat.ANTHROPIC.credential("sk-ant-1") == ("x-api-key", "sk-ant-1")
    assert WireFormat.OPENAI.credential("sk-oa-1") == ("authorization", "Bearer sk-oa-1")


def test_requests_luthien_writes_to_anthropic_pin_the_api_version() -> None:
    # Judge, resample and translated calls are Luthien's own requests: Anthropic refuses them
    # without this header, so a judge call would fail (and block) on every tool call.
    assert dict(WireFormat.ANTHROPIC.request_headers) == {"anthropic-version": "2023-06-01"}
    assert dict(WireFormat.OPENAI.request_headers) == {}
