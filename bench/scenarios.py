"""The benchmark scenarios (what load, on which endpoint) and a scenario's comparison across targets."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from load import Measurement
from processes import MODEL


@dataclass(frozen=True)
class Scenario:
    """One kind of load, run against both targets."""

    name: str
    description: str
    path: str
    body: dict[str, Any]
    connections: int
    query: str = ""
    ttft: bool = False


@dataclass
class Comparison:
    """A scenario's results: direct, through Luthien (and the other targets), and how they compare."""

    scenario: str
    description: str
    connections: int
    direct: Measurement
    luthien: Measurement
    others: dict[str, Measurement] = field(default_factory=dict[str, Measurement])
    """The other targets (`relay`, `luthien_w2`, peers), measured in the same run."""
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


def _messages_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    }
    if stream:
        body["stream"] = True
    return body


def _chat_body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-fake-1",
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    }
    if stream:
        body["stream"] = True
    return body


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    """The scenarios selected on the command line, in run order."""
    c = args.connections
    deltas = f"deltas={args.deltas}"
    every = [
        Scenario(
            "messages_c1",
            "POST /v1/messages, non-streaming, 1 connection (latency)",
            "/v1/messages",
            _messages_body(False),
            1,
        ),
        Scenario(
            f"messages_c{c}",
            f"POST /v1/messages, non-streaming, {c} connections (throughput)",
            "/v1/messages",
            _messages_body(False),
            c,
        ),
        Scenario(
            f"messages_stream_c{c}",
            f"POST /v1/messages, streaming ({args.deltas} deltas, no pauses), {c} connections",
            "/v1/messages",
            _messages_body(True),
            c,
            deltas,
        ),
        Scenario(
            "messages_stream_ttft",
            f"POST /v1/messages, streaming, 1 connection, {args.ttft_deltas} deltas each after "
            f"{args.ttft_delay_ms:g} ms (time to first token)",
            "/v1/messages",
            _messages_body(True),
            1,
            f"deltas={args.ttft_deltas}&delta_delay_ms={args.ttft_delay_ms:g}",
            ttft=True,
        ),
        Scenario(
            f"chat_c{c}",
            f"POST /v1/chat/completions, non-streaming, {c} connections",
            "/v1/chat/completions",
            _chat_body(False),
            c,
        ),
        Scenario(
            f"chat_stream_c{c}",
            f"POST /v1/chat/completions, streaming ({args.deltas} deltas), {c} connections",
            "/v1/chat/completions",
            _chat_body(True),
            c,
            deltas,
        ),
    ]
    if args.scenarios == "all":
        return every
    if args.scenarios == "default":
        return [s for s in every if not s.name.startswith("chat")]
    wanted = {name.strip() for name in args.scenarios.split(",")}
    chosen = [s for s in every if s.name in wanted]
    unknown = wanted - {s.name for s in chosen}
    if unknown:
        raise SystemExit(f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in every]}")
    return chosen


# ---------------------------------------------------------------------------------------------
# The run


def check_answers(base: str, label: str) -> None:
    """One streaming and one non-streaming call must succeed before anything is measured.

    Raises:
        RuntimeError: a call failed or returned something unexpected.
    """
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "sk-bench"}
    for stream, expected in ((False, b'"type":"message"'), (True, b"event: message_stop")):
        request = urllib.request.Request(
            f"{base}/v1/messages?deltas=3",
            data=json.dumps(_messages_body(stream)).encode(),
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{label}: HTTP {error.code}: {error.read()[:500]!r}") from error
        if expected not in body:
            raise RuntimeError(f"{label}: unexpected answer to stream={stream}: {body[:500]!r}")
