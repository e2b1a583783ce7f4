"""Judge latency benchmark: what `tool_call_judge` costs compared with `noop`, in the same run.

Two measurements, each through one Luthien server whose policy is chosen per call with
`X-Luthien-Policy` (so both policies share the process, the port and the warm connection pool):

1. Time to first token of a text-only streaming turn: the judge holds only tool calls, so text should
   arrive as fast as through `noop`.
2. Total time of a turn with one tool call: the judge should add only the judge model's own latency
   (the fake judge answers after `--judge-delay-ms`).

Upstream model and judge are the project's fake provider (tests/fake_provider) on loopback. Usage:
`python bench/judge_latency.py [--requests 200] [--judge-delay-ms 50]`. Results go to stdout and
`bench/results/judge_latency.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from luthien.config import LuthienConfig  # noqa: E402
from luthien.settings import Settings  # noqa: E402
from tests.fake_provider import (  # noqa: E402
    FakeProvider,
    JSONReply,
    Pause,
    ReceivedRequest,
    Reply,
    StreamReply,
    ToolCall,
    anthropic_message,
    anthropic_stream,
)
from tests.support.servers import LuthienServer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "judge_latency.json"
DELTA_PAUSE_S = 0.002
BODY = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


def model_responder(request: ReceivedRequest) -> Reply:
    wants_tool = "tool" in json.dumps(request.json().get("messages"))
    calls = [ToolCall("toolu_1", "Bash", {"command": "ls -la"})] if wants_tool else []
    frames = anthropic_stream("Hello there, this is a streamed answer.", tool_calls=calls, text_chunks=8)
    # A pause after each content delta, like a real model producing tokens.
    paced: list[bytes | Pause] = []
    for frame in frames:
        paced.append(frame)
        if b"content_block_delta" in frame:
            paced.append(Pause(DELTA_PAUSE_S))
    return StreamReply(paced)


def measure(client: httpx.Client, url: str, policy: str, content: str, requests: int) -> dict[str, float]:
    first_token: list[float] = []
    total: list[float] = []
    body = {**BODY, "messages": [{"role": "user", "content": content}]}
    for _ in range(requests):
        started = time.perf_counter()
        ttft: float | None = None
        with client.stream("POST", url, json=body, headers={"x-luthien-policy": policy}) as response:
            for line in response.iter_lines():
                if ttft is None and '"text_delta"' in line:
                    ttft = time.perf_counter() - started
        total.append(time.perf_counter() - started)
        first_token.append(ttft if ttft is not None else total[-1])
    return {
        "ttft_p50_ms": statistics.median(first_token) * 1000,
        "total_p50_ms": statistics.median(total) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--judge-delay-ms", type=float, default=50.0)
    args = parser.parse_args()

    model, judge = FakeProvider(), FakeProvider()
    model.start()
    judge.start()

    def judge_responder(request: ReceivedRequest) -> Reply:
        time.sleep(args.judge_delay_ms / 1000)  # the judge model's own latency
        return JSONReply(anthropic_message('{"probability": 0.01, "explanation": "harmless"}'))

    model.respond_with(model_responder)
    judge.respond_with(judge_responder)
    config = LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": judge.base_url}},
            "policies": {
                "judge": {
                    "class": "tool_call_judge",
                    "config": {"judge": {"upstream": "judge", "model": "j"}},
                },
                "noop": {"class": "noop"},
            },
            "policy": "noop",
        }
    )
    settings = Settings.model_validate(
        {"anthropic_base_url": model.base_url, "allow_policy_header": True, "log_level": "warning"}
    )
    server = LuthienServer(settings, config).start()
    url = f"{server.base_url}/v1/messages"
    result: dict[str, Any] = {"requests": args.requests, "judge_delay_ms": args.judge_delay_ms}
    try:
        with httpx.Client(timeout=30) as client:
            measure(client, url, "noop", "warm up", 20)
            for turn, content in (("text_only", "say hello"), ("tool_call", "use a tool")):
                for policy in ("noop", "judge"):
                    result[f"{turn}.{policy}"] = measure(client, url, policy, content, args.requests)
    finally:
        server.stop()
        model.stop()
        judge.stop()
    text_noop, text_judge = result["text_only.noop"], result["text_only.judge"]
    tool_noop, tool_judge = result["tool_call.noop"], result["tool_call.judge"]
    result["added_ttft_p50_ms_text_only"] = text_judge["ttft_p50_ms"] - text_noop["ttft_p50_ms"]
    result["added_total_p50_ms_tool_call"] = tool_judge["total_p50_ms"] - tool_noop["total_p50_ms"]
    print(json.dumps(result, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
