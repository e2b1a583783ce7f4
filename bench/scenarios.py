"""The benchmark scenarios (what load, on which endpoint) and a scenario's comparison across targets.

Each of the three client APIs (Anthropic Messages, OpenAI Chat Completions, OpenAI Responses) has
four scenarios: non-streaming at 1 connection (latency), non-streaming and streaming at
`--connections` (throughput), and streaming at 1 connection with paced deltas (time to first token).
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from load import Measurement
from processes import MODEL
from variants import CLIENT_KEY

OPENAI_MODEL = "gpt-fake-1"
PROMPT = "Say hello in one short sentence."
MAX_TOKENS = 256
CHECK_DELTAS = 10
"""Deltas of the streams `check_answers` asks for: enough to hold the word `string_replace` replaces."""
CHECK_TIMEOUT_S = 10


def _messages_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    if stream:
        body["stream"] = True
    return body


def _chat_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": OPENAI_MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    if stream:
        body["stream"] = True
    return body


def _responses_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": OPENAI_MODEL, "input": PROMPT}
    if stream:
        body["stream"] = True
    return body


@dataclass(frozen=True)
class Endpoint:
    """One client API: where it is served, what it sends, and how its answers are recognised.

    Attributes:
        name: the scenarios' prefix.
        path: the endpoint.
        make_body: the request body, streaming or not.
        answer_field: a top-level field and value of every non-streaming answer.
        stream_end: bytes the end of every stream holds (its terminal event).
        first_token: bytes of the first text delta's frame, and of no frame before it (time to first token).
    """

    name: str
    path: str
    make_body: Callable[[bool], dict[str, Any]]
    answer_field: tuple[str, str]
    stream_end: bytes
    first_token: bytes


MESSAGES = Endpoint(
    "messages", "/v1/messages", _messages_body, ("type", "message"), b"message_stop", b"content_block_delta"
)
CHAT = Endpoint(
    # The first chunk's delta starts with the role; the text deltas' start with the content.
    "chat",
    "/v1/chat/completions",
    _chat_body,
    ("object", "chat.completion"),
    b"[DONE]",
    b'"delta":{"content":',
)
RESPONSES = Endpoint(
    "responses",
    "/v1/responses",
    _responses_body,
    ("object", "response"),
    b"response.completed",
    b"response.output_text.delta",
)
ENDPOINTS = (MESSAGES, CHAT, RESPONSES)


@dataclass(frozen=True)
class Scenario:
    """One kind of load, run against every target."""

    name: str
    description: str
    endpoint: Endpoint
    stream: bool
    connections: int
    query: str = ""
    ttft: bool = False

    @property
    def path(self) -> str:
        """The endpoint's path."""
        return self.endpoint.path

    @property
    def body(self) -> dict[str, Any]:
        """The request body."""
        return self.endpoint.make_body(self.stream)

    @property
    def throughput(self) -> bool:
        """A run on many connections (the only kind the Luthien variants are measured on)."""
        return self.connections > 1 and not self.ttft


@dataclass
class Comparison:
    """A scenario's results: direct, through Luthien (and the other targets), and how they compare."""

    scenario: str
    description: str
    connections: int
    direct: Measurement
    luthien: Measurement
    others: dict[str, Measurement] = field(default_factory=dict[str, Measurement])
    """The other targets (`relay`, the variants, `luthien_w2`, peers), measured in the same run."""
    rps_ratio: float = 0.0
    added_p50_ms: float = 0.0
    added_p99_ms: float = 0.0
    added_ttft_p50_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        self.rps_ratio = self.luthien.rps / self.direct.rps if self.direct.rps else 0.0
        self.added_p50_ms = self.luthien.latency_ms["p50"] - self.direct.latency_ms["p50"]
        self.added_p99_ms = self.luthien.latency_ms["p99"] - self.direct.latency_ms["p99"]
        if self.luthien.ttft_ms is not None and self.direct.ttft_ms is not None:
            self.added_ttft_p50_ms = self.luthien.ttft_ms["p50"] - self.direct.ttft_ms["p50"]


def endpoint_scenarios(endpoint: Endpoint, args: argparse.Namespace) -> list[Scenario]:
    """An endpoint's four scenarios, in run order."""
    c, label = args.connections, f"POST {endpoint.path}"
    deltas = f"deltas={args.deltas}"
    return [
        Scenario(
            f"{endpoint.name}_c1", f"{label}, non-streaming, 1 connection (latency)", endpoint, False, 1
        ),
        Scenario(
            f"{endpoint.name}_c{c}",
            f"{label}, non-streaming, {c} connections (throughput)",
            endpoint,
            False,
            c,
        ),
        Scenario(
            f"{endpoint.name}_stream_c{c}",
            f"{label}, streaming ({args.deltas} deltas, no pauses), {c} connections",
            endpoint,
            True,
            c,
            deltas,
        ),
        Scenario(
            f"{endpoint.name}_stream_ttft",
            f"{label}, streaming, 1 connection, {args.ttft_deltas} deltas each after "
            f"{args.ttft_delay_ms:g} ms (time to first token)",
            endpoint,
            True,
            1,
            f"deltas={args.ttft_deltas}&delta_delay_ms={args.ttft_delay_ms:g}",
            ttft=True,
        ),
    ]


def default_names(connections: int) -> set[str]:
    """The default run: every endpoint's throughput, streaming and not; latency and TTFT on Messages."""
    names = {"messages_c1", "messages_stream_ttft"}
    for endpoint in ENDPOINTS:
        names |= {f"{endpoint.name}_c{connections}", f"{endpoint.name}_stream_c{connections}"}
    return names


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    """The scenarios selected on the command line (`default`, `all` or names), in run order."""
    # By name, so `--connections 1` does not list the 1-connection scenarios twice.
    every = {s.name: s for endpoint in ENDPOINTS for s in endpoint_scenarios(endpoint, args)}
    if args.scenarios == "all":
        return list(every.values())
    if args.scenarios == "default":
        wanted = default_names(args.connections)
        return [s for s in every.values() if s.name in wanted]
    wanted = {name.strip() for name in args.scenarios.split(",")}
    unknown = wanted - set(every)
    if unknown:
        raise SystemExit(f"unknown scenario(s) {sorted(unknown)}; known: {list(every)}")
    return [s for s in every.values() if s.name in wanted]


# ---------------------------------------------------------------------------------------------
# The run


def check_answers(
    base: str, label: str, endpoints: Iterable[Endpoint] = (MESSAGES,), expect: bytes | None = None
) -> None:
    """One streaming and one non-streaming call per endpoint must succeed before anything is measured.

    Args:
        base: the target's base URL.
        label: the target's name, for the error.
        endpoints: the endpoints to call (two calls each).
        expect: bytes every answer must hold (`string_replace`'s replacement: the policy ran).

    Raises:
        RuntimeError: a call failed or returned something unexpected.
    """
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": CLIENT_KEY}
    for endpoint in endpoints:
        for stream in (False, True):
            request = urllib.request.Request(
                f"{base}{endpoint.path}?deltas={CHECK_DELTAS}",
                data=json.dumps(endpoint.make_body(stream)).encode(),
                headers=headers,
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT_S) as response:
                    body = response.read()
            except urllib.error.HTTPError as error:
                raise RuntimeError(
                    f"{label}: {endpoint.path}: HTTP {error.code}: {error.read()[:500]!r}"
                ) from error
            if not (_stream_ended(body, endpoint) if stream else _is_answer(body, endpoint)) or (
                expect is not None and expect not in body
            ):
                raise RuntimeError(
                    f"{label}: {endpoint.path}: unexpected answer to stream={stream}: {body[:500]!r}"
                )


def _is_answer(body: bytes, endpoint: Endpoint) -> bool:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return False
    key, value = endpoint.answer_field
    return isinstance(parsed, dict) and cast(dict[str, Any], parsed).get(key) == value


def _stream_ended(body: bytes, endpoint: Endpoint) -> bool:
    return endpoint.stream_end in body
