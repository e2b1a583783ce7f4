"""Every shipped policy behind one server, and crafted Chat streams, for tests of hostile traffic.

`shipped_config` configures every shipped policy (the judges ask the fake provider as `judge`);
`EVERY_POLICY` parametrizes a test over them, each a `Shipped` saying what it makes of the model's
text and whether it asks a judge; `serve` starts Luthien with one of them active, `allow` queues
the judge's verdicts. `chunk`, `call_start` and `call_args` craft Chat chunks a builder would not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from luthien.config import LuthienConfig
from tests.conftest import LuthienFactory
from tests.fake_provider import FakeProvider, JSONReply, anthropic_message, sse_frame
from tests.support.servers import LuthienServer

MODEL = "gpt-5"
USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Tidy up the repository."}]
JUDGE_MODEL = "judge-model"
JUDGE = {"judge": {"upstream": "judge", "model": JUDGE_MODEL}}


def shipped_config(fake: FakeProvider) -> LuthienConfig:
    """Every shipped policy, configured; the judges ask `fake` (Anthropic format) as `judge`."""
    redact = {"replacements": [{"find": "hunter2", "replace": "[redacted]"}], "holdback_chars": 4}
    return LuthienConfig.model_validate(
        {
            "upstreams": {"judge": {"format": "anthropic", "base_url": fake.base_url}},
            "policies": {
                "string_replace": {"class": "string_replace", "config": redact},
                "chain": {"class": "chain", "config": {"policies": ["string_replace", "all_caps"]}},
                "tool_call_judge": {"class": "tool_call_judge", "config": JUDGE},
                "simple_tool_call_judge": {"class": "simple_tool_call_judge", "config": JUDGE},
            },
        }
    )


@dataclass(frozen=True)
class Shipped:
    """A shipped policy: its name, what it makes of the model's text, and whether it asks a judge."""

    name: str
    text: Callable[[str], str] = lambda text: text
    judges: bool = False


def _redact(text: str) -> str:
    return text.replace("hunter2", "[redacted]")


SHIPPED = [
    Shipped("noop"),
    Shipped("all_caps", str.upper),
    Shipped("string_replace", _redact),
    Shipped("debug_logging"),
    Shipped("chain", lambda text: _redact(text).upper()),
    Shipped("tool_call_judge", judges=True),
    Shipped("simple_tool_call_judge", judges=True),
    Shipped("block_commands"),
]
EVERY_POLICY = pytest.mark.parametrize("policy", SHIPPED, ids=[policy.name for policy in SHIPPED])


def serve(make_luthien: LuthienFactory, fake: FakeProvider, policy: str) -> LuthienServer:
    """Luthien with every shipped policy configured and `policy` active."""
    return make_luthien(shipped_config(fake), test_policy=policy)


def allow(fake: FakeProvider, calls: int) -> None:
    """Queue the judge's allowing verdicts (after the model's reply)."""
    verdict = json.dumps({"probability": 0.01, "explanation": "Harmless."})
    fake.enqueue(*(JSONReply(anthropic_message(verdict, model=JUDGE_MODEL)) for _ in range(calls)))


def chat_client(server: LuthienServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test", max_retries=0)


def stream_chat(server: LuthienServer) -> ChatCompletion:
    with chat_client(server) as client, client.chat.completions.stream(model=MODEL, messages=USER) as stream:
        for _ in stream:
            pass
        return stream.get_final_completion()


def judged_arguments(server: LuthienServer) -> list[Any]:
    events = server.app.state.gateway.activity.events(type="judge.decision")
    return [json.loads(event.data["arguments"]) for event in events]


def chunk(
    delta: dict[str, Any],
    finish: str | None = None,
    *,
    choices: list[Any] | None = None,
    object_type: str | None = "chat.completion.chunk",
) -> bytes:
    """One Chat chunk frame (choice 0 with `delta`, unless `choices` is given; no `object` if None)."""
    entries = choices if choices is not None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body: dict[str, Any] = {
        "id": "chatcmpl-hostile",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": entries,
    }
    if object_type is not None:
        body["object"] = object_type
    return sse_frame(None, body)


def call_start(index: int, call_id: str, name: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": {"name": name}}]}


def call_args(index: int, arguments: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}


DONE = b"data: [DONE]\n\n"
