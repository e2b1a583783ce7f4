"""Fuzzing every endpoint of a real server: random bytes, random JSON, random headers and queries.

The routes are enumerated from the app itself (through its mounts), so a new endpoint is fuzzed
without touching this file. The upstreams are the fake provider, so a 5xx can only be Luthien's own.
Whatever arrives: never a 5xx, never a Python traceback in a body, and the server keeps serving.
Run twice: with the admin side open to loopback (every admin handler is reached) and behind a key
(the guard is fuzzed; some requests carry the right key).
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.support.servers import LuthienServer

MAX_EXAMPLES = 250
"""Requests per server; bounded so the test fits in `make test`."""
GUARD_S = 30.0
ADMIN_KEY = "fuzz-admin-key"
EVENT_STREAM = "text/event-stream"
CONFIG = LuthienConfig.model_validate(
    {
        "policies": {
            "shout": {"class": "all_caps"},
            "careful": {"class": "block_commands"},
            "quiet": {"class": "noop"},
        },
        "policy": "quiet",
    }
)
PATH_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
HEADER_NAMES = (
    "authorization",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "accept",
    "cookie",
    "origin",
    "referer",
    "sec-fetch-site",
    "last-event-id",
    "x-luthien-policy",
    "x-claude-code-session-id",
    "traceparent",
    "x-forwarded-for",
    "openai-organization",
)
BODY_KEYS = (
    "model",
    "messages",
    "max_tokens",
    "stream",
    "system",
    "tools",
    "tool_choice",
    "input",
    "instructions",
    "n",
    "functions",
    "stream_options",
    "metadata",
    "policy",
    "role",
    "content",
    "type",
    "text",
)
QUERY_KEYS = (
    "limit",
    "cursor",
    "status",
    "since",
    "until",
    "session_id",
    "model",
    "policy",
    "text",
    "blocked",
    "event_type",
    "last_event_id",
    "beta",
    "page",
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """A path template, `{name}` or `{name:path}` for parameters."""


def _inner_routes(app: Any) -> list[BaseRoute]:
    """The routes behind a mount's app (through wrappers such as the admin guard)."""
    while not getattr(app, "routes", None) and hasattr(app, "app"):
        app = app.app
    routes: list[BaseRoute] = getattr(app, "routes", [])
    return routes


def endpoints(app: Starlette) -> list[Endpoint]:
    """Every (method, path) the app routes, mounts included."""
    found: list[Endpoint] = []

    def walk(routes: list[BaseRoute], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(_inner_routes(route.app), prefix + route.path)
            elif isinstance(route, Route):
                found.extend(Endpoint(method, prefix + route.path) for method in sorted(route.methods or ()))

    walk(app.routes, "")
    return found


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(BODY_KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
# Messages that look right enough to reach the upstream (and the policies) now and then.
plausible_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "assistant", "system", "tool"]), "content": json_values}
    ),
    max_size=3,
)
plausible_call = st.fixed_dictionaries(
    {"model": st.sampled_from(["claude-test", "gpt-5"]) | st.text(max_size=10)},
    optional={
        "messages": plausible_messages,
        "max_tokens": st.integers(-5, 200) | json_scalars,
        "stream": st.booleans() | json_scalars,
        "input": json_values,
        "policy": st.sampled_from(["shout", "careful", "quiet"]) | st.text(max_size=10),
    },
)
# Valid calls with random extra fields: they reach the upstream, the policies and the records.
valid_call = st.builds(
    lambda text, stream, extra: {
        **extra,
        "model": "claude-test",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    },
    st.text(max_size=30),
    st.booleans(),
    st.dictionaries(st.sampled_from(BODY_KEYS) | st.text(max_size=8), json_values, max_size=3),
)
policy_switch = st.fixed_dictionaries(
    {"policy": st.sampled_from(["shout", "careful", "quiet"]) | json_scalars},
    optional={"by": json_values},
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=300),
    # `json.dumps` escapes lone surrogates (`\\udc80`): valid JSON that is not valid UTF-16 text.
    json_values.map(lambda value: json.dumps(value).encode()),
    plausible_call.map(lambda value: json.dumps(value).encode()),
    valid_call.map(lambda value: json.dumps(value).encode()),
    policy_switch.map(lambda value: json.dumps(value).encode()),
)
header_values = st.text(alphabet=string.printable.strip() + " ", max_size=40).map(str.strip)
headers = st.just({}) | st.dictionaries(
    st.sampled_from(HEADER_NAMES) | st.from_regex(r"\Ax-[a-z0-9-]{1,12}\Z"), header_values, max_size=4
)
queries = st.dictionaries(st.sampled_from(QUERY_KEYS) | st.text(max_size=6), st.text(max_size=20), max_size=4)
path_values = st.text(max_size=30) | st.sampled_from(["..", "%", "original", "final", "request", "response"])


@st.composite
def requests(draw: st.DrawFn, routes: list[Endpoint], admin_key: str | None) -> httpx.Request:
    endpoint = draw(st.sampled_from(routes))
    method = draw(st.sampled_from([endpoint.method]) | st.sampled_from(METHODS))

    def fill(match: re.Match[str]) -> str:
        keeps_slashes = match.group(2) == "path"
        return quote(draw(path_values), safe="/" if keeps_slashes else "")

    path = PATH_PARAM.sub(fill, endpoint.path)
    request_headers = draw(headers)
    if admin_key is not None and draw(st.booleans()):
        request_headers["authorization"] = f"Bearer {admin_key}"
    body = draw(bodies)
    params = draw(queries)
    return httpx.Request(method, path, headers=request_headers, params=params, content=body)


def check(client: httpx.Client, request: httpx.Request) -> None:
    """Send `request`; assert on what came back (an endless event stream is not read to its end)."""
    with client.stream(
        request.method, request.url, headers=request.headers, content=request.content
    ) as answer:
        where = f"{request.method} {request.url}"
        assert answer.status_code < 500, f"{where}: HTTP {answer.status_code}: {answer.read()[:500]!r}"
        if answer.headers.get("content-type", "").startswith(EVENT_STREAM):
            return
        body = answer.read()
    assert b"Traceback" not in body, f"{where}: a traceback in the body"


@pytest.fixture(params=[None, ADMIN_KEY], ids=["admin-open-to-loopback", "admin-behind-key"])
def fuzzed(request: pytest.FixtureRequest, make_luthien: LuthienFactory) -> LuthienServer:
    return make_luthien(config=CONFIG, admin_key=request.param, allow_policy_header=True)


def test_every_endpoint_survives_random_requests(fuzzed: LuthienServer) -> None:
    routes = endpoints(fuzzed.app)
    admin_key = fuzzed.settings.admin_key.get_secret_value() if fuzzed.settings.admin_key else None
    assert {"/v1/messages", "/api/policy", "/ui/login"} <= {route.path for route in routes}

    with httpx.Client(base_url=fuzzed.base_url, timeout=GUARD_S) as client:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(requests(routes, admin_key))
        def survives(request: httpx.Request) -> None:
            check(client, request)

        survives()
        health = client.get("/health")

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
