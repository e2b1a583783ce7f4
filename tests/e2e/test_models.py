"""`GET /v1/models` through a real Luthien server, with the official SDKs.

The shape follows the client (Anthropic when the request has `anthropic-version`); with several
upstreams of the client's format their lists are merged; failing upstreams are left out.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import openai
import pytest

from luthien.config import LuthienConfig, UpstreamConfig
from luthien.wire.formats import WireFormat
from tests.fake_provider import (
    FakeProvider,
    JSONReply,
    RawReply,
    ReceivedRequest,
    Reply,
    anthropic_error_body,
    openai_error_body,
)
from tests.support.servers import LuthienServer

LuthienFactory = Callable[..., LuthienServer]

# What the fake provider lists by default.
FAKE_ANTHROPIC_IDS = ["claude-sonnet-4-6", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"]
FAKE_OPENAI_IDS = ["gpt-5", "gpt-5-mini"]

SECOND_ANTHROPIC_MODELS: dict[str, Any] = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-6",
            "display_name": "Claude Sonnet 4.6 (team)",
            "created_at": "2026-02-17T00:00:00Z",
        },
        {
            "type": "model",
            "id": "claude-team-special",
            "display_name": "Team Special",
            "created_at": "2026-01-01T00:00:00Z",
        },
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-6",
    "last_id": "claude-team-special",
}
SECOND_OPENAI_MODELS: dict[str, Any] = {
    "object": "list",
    "data": [
        {"id": "gpt-5", "object": "model", "created": 1754425777, "owned_by": "local"},
        {"id": "llama-3.3-70b", "object": "model", "created": 1733000000, "owned_by": "local"},
    ],
}


class ModelsFakeProvider(FakeProvider):
    """A second fake provider whose `GET /v1/models` answer can be scripted with `models_reply`."""

    def __init__(self) -> None:
        super().__init__()
        self.models_reply: Reply | None = None

    def _next_reply(self, received: ReceivedRequest, flavor: Any) -> Reply:
        reply = super()._next_reply(received, flavor)  # records the request
        if (
            received.method == "GET"
            and received.path.endswith("/v1/models")
            and self.models_reply is not None
        ):
            return self.models_reply
        return reply


@pytest.fixture
def second() -> Iterator[ModelsFakeProvider]:
    provider = ModelsFakeProvider()
    provider.start()
    yield provider
    provider.stop()


def _unreachable_base_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _base_url(wire_format: WireFormat, root: str) -> str:
    return root if wire_format is WireFormat.ANTHROPIC else f"{root}/v1"


def _config(**upstreams: tuple[WireFormat, str]) -> LuthienConfig:
    """Upstreams by name, each as (format, server root URL)."""
    return LuthienConfig(
        upstreams={
            name: UpstreamConfig(format=wire_format, base_url=_base_url(wire_format, root))
            for name, (wire_format, root) in upstreams.items()
        }
    )


def _anthropic(server: LuthienServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="sk-ant-client", max_retries=0)


def _openai(server: LuthienServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-client", max_retries=0)


def _list_ids(server: LuthienServer, wire_format: WireFormat) -> list[str]:
    """The model ids the official SDK of `wire_format` lists through `server`."""
    if wire_format is WireFormat.ANTHROPIC:
        with _anthropic(server) as claude:
            return [model.id for model in claude.models.list().data]
    with _openai(server) as oai:
        return [model.id for model in oai.models.list().data]


def _models_requests(provider: FakeProvider) -> list[ReceivedRequest]:
    return [r for r in provider.requests if (r.method, r.path) == ("GET", "/v1/models")]


# -- shape follows the client -------------------------------------------------------------------------


def test_anthropic_client_gets_the_anthropic_shape(luthien: LuthienServer, fake: FakeProvider) -> None:
    with _anthropic(luthien) as claude:
        raw = claude.models.with_raw_response.list(limit=20)
    page = raw.parse()

    assert [model.id for model in page.data] == FAKE_ANTHROPIC_IDS
    assert all(model.type == "model" and model.display_name for model in page.data)
    assert (page.has_more, page.first_id, page.last_id) == (
        False,
        FAKE_ANTHROPIC_IDS[0],
        FAKE_ANTHROPIC_IDS[-1],
    )
    assert raw.headers["request-id"]
    assert uuid.UUID(raw.headers["x-luthien-transaction-id"])
    (received,) = _models_requests(fake)
    assert received.query == "limit=20"
    assert "anthropic-version" in received.headers
    # Passthrough auth: the client's key reaches the upstream (this SDK version may send it either way).
    assert "sk-ant-client" in (
        received.headers.get("x-api-key"),
        received.headers.get("authorization", "").removeprefix("Bearer "),
    )


def test_openai_client_gets_the_openai_shape(luthien: LuthienServer, fake: FakeProvider) -> None:
    with _openai(luthien) as oai:
        page = oai.models.list()

    assert [model.id for model in page.data] == FAKE_OPENAI_IDS
    assert all(model.object == "model" and model.owned_by for model in page.data)
    (received,) = _models_requests(fake)
    assert "anthropic-version" not in received.headers
    assert received.headers["authorization"] == "Bearer sk-client"


# -- several upstreams --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire_format", "second_list", "expected"),
    [
        (WireFormat.ANTHROPIC, SECOND_ANTHROPIC_MODELS, [*FAKE_ANTHROPIC_IDS, "claude-team-special"]),
        (WireFormat.OPENAI, SECOND_OPENAI_MODELS, [*FAKE_OPENAI_IDS, "llama-3.3-70b"]),
    ],
    ids=["anthropic", "openai"],
)
def test_lists_of_two_upstreams_are_merged_without_duplicates(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    second: ModelsFakeProvider,
    wire_format: WireFormat,
    second_list: dict[str, Any],
    expected: list[str],
) -> None:
    second.models_reply = JSONReply(second_list)
    server = make_luthien(config=_config(team=(wire_format, second.base_url)))

    assert _list_ids(server, wire_format) == expected
    assert len(_models_requests(fake)) == 1
    assert len(_models_requests(second)) == 1


def test_merged_anthropic_list_keeps_the_anthropic_page_shape(
    make_luthien: LuthienFactory, fake: FakeProvider, second: ModelsFakeProvider
) -> None:
    second.models_reply = JSONReply(SECOND_ANTHROPIC_MODELS)
    server = make_luthien(config=_config(team=(WireFormat.ANTHROPIC, second.base_url)))

    with _anthropic(server) as claude:
        page = claude.models.list()

    assert page.has_more is False
    assert (page.first_id, page.last_id) == (FAKE_ANTHROPIC_IDS[0], "claude-team-special")
    assert all(model.type == "model" for model in page.data)
    # The first upstream's entry wins for a duplicated id.
    assert page.data[0].display_name == "Claude Sonnet 4.6"


def test_upstreams_of_the_other_format_are_not_asked(
    make_luthien: LuthienFactory, fake: FakeProvider, second: ModelsFakeProvider
) -> None:
    second.models_reply = JSONReply(SECOND_OPENAI_MODELS)
    server = make_luthien(config=_config(local=(WireFormat.OPENAI, second.base_url)))

    assert _list_ids(server, WireFormat.ANTHROPIC) == FAKE_ANTHROPIC_IDS
    assert _models_requests(second) == []


FAILURES: dict[str, Reply] = {
    "500": JSONReply(openai_error_body("server_error", "down"), status=500),
    "429": JSONReply(anthropic_error_body("rate_limit_error", "slow down"), status=429),
    "html-502": RawReply(b"<html><body>bad gateway</body></html>", status=502, content_type="text/html"),
}


@pytest.mark.parametrize(
    "wire_format", [WireFormat.ANTHROPIC, WireFormat.OPENAI], ids=["anthropic", "openai"]
)
@pytest.mark.parametrize("failing", ["first", "second"])
@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_upstream_is_left_out(
    make_luthien: LuthienFactory,
    fake: FakeProvider,
    second: ModelsFakeProvider,
    wire_format: WireFormat,
    failing: str,
    failure: str,
) -> None:
    second.models_reply = FAILURES[failure]
    if failing == "second":
        config = _config(team=(wire_format, second.base_url))
    else:  # the built-in upstream of this format is replaced by the failing one
        config = _config(
            **{wire_format.value: (wire_format, second.base_url), "team": (wire_format, fake.base_url)}
        )
    server = make_luthien(config=config)

    expected = FAKE_ANTHROPIC_IDS if wire_format is WireFormat.ANTHROPIC else FAKE_OPENAI_IDS
    assert _list_ids(server, wire_format) == expected
    assert len(_models_requests(second)) == 1


@pytest.mark.parametrize(
    "wire_format", [WireFormat.ANTHROPIC, WireFormat.OPENAI], ids=["anthropic", "openai"]
)
def test_an_unreachable_upstream_is_left_out(
    make_luthien: LuthienFactory, fake: FakeProvider, wire_format: WireFormat
) -> None:
    server = make_luthien(config=_config(gone=(wire_format, _unreachable_base_url())))

    expected = FAKE_ANTHROPIC_IDS if wire_format is WireFormat.ANTHROPIC else FAKE_OPENAI_IDS
    assert _list_ids(server, wire_format) == expected


def test_every_upstream_failing_is_an_error_in_the_clients_shape(
    make_luthien: LuthienFactory, second: ModelsFakeProvider
) -> None:
    second.models_reply = JSONReply(anthropic_error_body("api_error", "down"), status=500)
    server = make_luthien(
        config=_config(
            anthropic=(WireFormat.ANTHROPIC, second.base_url),
            gone=(WireFormat.ANTHROPIC, _unreachable_base_url()),
        )
    )

    with _anthropic(server) as claude, pytest.raises(anthropic.APIStatusError) as info:
        claude.models.list()

    assert info.value.status_code >= 500
    body: Any = info.value.body
    assert body["type"] == "error"
    assert set(body["error"]) >= {"type", "message"}


# -- the only upstream fails --------------------------------------------------------------------------


def test_only_anthropic_upstream_error_status_comes_back(
    make_luthien: LuthienFactory, second: ModelsFakeProvider
) -> None:
    error = anthropic_error_body("authentication_error", "invalid x-api-key", request_id="req_011CBadKey")
    second.models_reply = JSONReply(error, status=401)
    server = make_luthien(config=_config(anthropic=(WireFormat.ANTHROPIC, second.base_url)))

    with _anthropic(server) as claude, pytest.raises(anthropic.AuthenticationError) as info:
        claude.models.list()

    assert info.value.status_code == 401
    assert info.value.body == error


def test_only_openai_upstream_error_status_comes_back(
    make_luthien: LuthienFactory, second: ModelsFakeProvider
) -> None:
    error = openai_error_body("requests", "Rate limit reached", code="rate_limit_exceeded")
    second.models_reply = JSONReply(error, status=429, headers={"retry-after": "7"})
    server = make_luthien(config=_config(openai=(WireFormat.OPENAI, second.base_url)))

    with _openai(server) as oai, pytest.raises(openai.RateLimitError) as info:
        oai.models.list()

    assert info.value.status_code == 429
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "7"


def test_only_upstream_non_json_error_keeps_its_status_in_the_clients_shape(
    make_luthien: LuthienFactory, second: ModelsFakeProvider
) -> None:
    second.models_reply = RawReply(b"<html>Service Unavailable</html>", status=503, content_type="text/html")
    server = make_luthien(config=_config(openai=(WireFormat.OPENAI, second.base_url)))

    with _openai(server) as oai, pytest.raises(openai.InternalServerError) as info:
        oai.models.list()

    assert info.value.status_code == 503
    body: Any = info.value.body
    assert set(body) >= {"message", "type", "code"}
