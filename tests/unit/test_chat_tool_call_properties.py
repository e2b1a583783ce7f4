"""Property: OpenAI Chat tool calls arrive whole under every shipped policy, however they interleave.

Random Chat streams with several tool calls whose argument fragments interleave by `index` (with
each other, with their start chunks, and with content pieces; sometimes two calls' fragments in one
chunk), cut into random reads, run through the real pipeline (`run_stream` with a `PolicyStage`) under
each shipped policy. The official SDK's stream accumulator must get every call with its whole
arguments, the finish reason `tool_calls`, and the text as the policy makes it; a judge must judge the
whole arguments.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from luthien.activity.log import ActivityLog
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.approvals.memory import MemoryApprovals
from luthien.approvals.model import Decision, DecisionKind
from luthien.approvals.service import ApprovalService
from luthien.config import LuthienConfig
from luthien.pipeline.run import run_stream
from luthien.pipeline.stage import PolicyStage
from luthien.policy.base import PolicyContext
from luthien.policy.registry import REGISTERED, build_policies
from luthien.upstream.caller import ModelCaller, ModelReply
from luthien.wire.sse import SSEParser
from tests.fake_provider import sse_frame

JUDGE = {"judge": {"upstream": "anthropic", "model": "judge-model"}}
CONFIG = LuthienConfig.model_validate(
    {
        "policies": {
            "string_replace": {
                "class": "string_replace",
                "config": {
                    "replacements": [{"find": "hunter2", "replace": "[redacted]"}],
                    "holdback_chars": 3,
                },
            },
            "chain": {"class": "chain", "config": {"policies": ["string_replace", "all_caps"]}},
            "tool_call_judge": {"class": "tool_call_judge", "config": JUDGE},
            "simple_tool_call_judge": {"class": "simple_tool_call_judge", "config": JUDGE},
            "defer_to_trusted": {
                "class": "defer_to_trusted",
                "config": {**JUDGE, "trusted": {"upstream": "openai", "model": "trusted-model"}},
            },
        }
    }
)
SHIPPED = sorted(REGISTERED)


def _redact(text: str) -> str:
    return text.replace("hunter2", "[redacted]")


TEXT_OF: dict[str, Callable[[str], str]] = {
    "all_caps": str.upper,
    "string_replace": _redact,
    "chain": lambda text: _redact(text).upper(),
}
JUDGES = frozenset({"tool_call_judge", "simple_tool_call_judge", "defer_to_trusted"})


class AllowingJudge(ModelCaller):
    """A judge model that allows every call (no upstream): the calls must arrive whole and kept."""

    def __init__(self) -> None:  # no router or HTTP client
        pass

    async def complete(
        self, upstream_name: str, model: str, system: str, user: str, max_tokens: int
    ) -> ModelReply:
        return ModelReply(json.dumps({"probability": 0.0, "explanation": "fine"}), {})


# --- random interleaved streams ---------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    index: int
    id: str
    name: str
    arguments: dict[str, Any]
    pieces: tuple[str, ...]


# One step of the stream: ("start", call), ("args", call, piece), ("text", piece).
Step = tuple[Any, ...]

JSON_VALUES = st.one_of(st.integers(-99, 99), st.booleans(), st.none(), st.text(max_size=6))
SAFE_COMMANDS = ["ls -la", "git status", "echo hunter2", "cat README.md"]
WORDS = ["The", " password", " is", " hun", "ter2", ".", " Done", "!", " ünïcode", " 🙂"]


def split(draw: st.DrawFn, text: str) -> tuple[str, ...]:
    cuts = draw(st.lists(st.integers(min_value=1, max_value=max(1, len(text) - 1)), max_size=4))
    points = sorted({0, len(text), *(cut for cut in cuts if cut < len(text))})
    return tuple(text[start:end] for start, end in itertools.pairwise(points))


@st.composite
def calls(draw: st.DrawFn) -> list[Call]:
    count = draw(st.integers(min_value=1, max_value=4))
    out: list[Call] = []
    for index in range(count):
        name = draw(st.sampled_from(["Bash", "get_weather", "Read", "search"]))
        arguments: dict[str, Any] = draw(st.dictionaries(st.sampled_from("abcxyz"), JSON_VALUES, max_size=3))
        if name == "Bash":
            arguments = {**arguments, "command": draw(st.sampled_from(SAFE_COMMANDS))}
        encoded = json.dumps(arguments)
        out.append(
            Call(index, f"call_{index}_{draw(st.integers(0, 999))}", name, arguments, split(draw, encoded))
        )
    return out


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[Call], list[Step], str, list[int]]:
    """Calls, the order their starts/fragments (and text pieces) arrive in, the text, and read cuts.

    Calls start in `index` order, as providers send them (the SDK's accumulator relies on it); after
    its start, a call's fragments may come at any point.
    """
    tool_calls = draw(calls())
    queues: list[list[Step]] = [
        [("start", call), *(("args", call, piece) for piece in call.pieces)] for call in tool_calls
    ]
    words = draw(st.lists(st.sampled_from(WORDS), max_size=5))
    queues.append([("text", word) for word in words])
    steps: list[Step] = []
    started = 0
    while any(queues):
        ready = [q for q in queues if q and (q[0][0] != "start" or q[0][1].index == started)]
        queue = draw(st.sampled_from(ready))
        step = queue.pop(0)
        started += step[0] == "start"
        steps.append(step)
    cuts = draw(st.lists(st.integers(min_value=0, max_value=20_000), max_size=10))
    return tool_calls, steps, "".join(words), cuts


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-prop",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-5",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return sse_frame(None, payload)


def tool_entry(step: Step) -> dict[str, Any]:
    call: Call = step[1]
    if step[0] == "start":
        return {
            "index": call.index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
    return {"index": call.index, "function": {"arguments": step[2]}}


def upstream(steps: Sequence[Step], pair: bool) -> bytes:
    """The stream's bytes; with `pair`, two consecutive tool steps share a chunk when they can."""
    frames = [chunk({"role": "assistant", "content": None})]
    position = 0
    while position < len(steps):
        step = steps[position]
        if step[0] == "text":
            frames.append(chunk({"content": step[1]}))
            position += 1
            continue
        entries = [tool_entry(step)]
        following = steps[position + 1] if position + 1 < len(steps) else None
        if pair and following is not None and following[0] != "text" and following[1] is not step[1]:
            entries.append(tool_entry(following))
            position += 1
        frames.append(chunk({"tool_calls": entries}))
        position += 1
    frames.extend([chunk({}, "tool_calls"), b"data: [DONE]\n\n"])
    return b"".join(frames)


# --- running and checking ---------------------------------------------------------------------------


async def _reads(data: bytes, cuts: Sequence[int]) -> AsyncIterator[bytes]:
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    for start, end in itertools.pairwise(points):
        yield data[start:end]


async def _approve_everything(approvals: ApprovalService) -> None:
    """A person who approves every held call (`human_approval`): the calls must arrive whole."""
    while True:
        for pending in await approvals.pending():
            await approvals.decide(pending.id, Decision(DecisionKind.APPROVE, "fine", "test"))
        await asyncio.sleep(0)


def through(policy_name: str, data: bytes, cuts: Sequence[int]) -> tuple[bytes, ActivityLog]:
    policies = build_policies(CONFIG, policy_name)
    activity = ActivityLog()

    async def go() -> bytes:
        approvals = ApprovalService(MemoryApprovals(), None)
        person = asyncio.create_task(_approve_everything(approvals))
        try:
            ctx = PolicyContext("tx", policy_name, activity, AllowingJudge(), approvals=approvals)
            stage = PolicyStage(policies[policy_name], ctx, OPENAI_CHAT)
            return b"".join([piece async for piece in run_stream(OPENAI_CHAT, _reads(data, cuts), stage)])
        finally:
            person.cancel()
            await approvals.close()

    return asyncio.run(go()), activity


def sdk_final(data: bytes) -> ChatCompletion:
    """What the OpenAI SDK's stream helper assembles from the bytes a client receives."""
    frames = SSEParser().feed(data)
    assert frames[-1].data == "[DONE]"
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for frame in frames[:-1]:
        if frame.data is not None:
            state.handle_chunk(ChatCompletionChunk.model_validate(orjson.loads(frame.data)))
    return state.get_final_completion()


@pytest.mark.parametrize("policy_name", SHIPPED)
@settings(max_examples=60, deadline=None)
@given(stream=interleavings(), pair=st.booleans())
def test_interleaved_tool_calls_arrive_whole_under_every_policy(
    policy_name: str, stream: tuple[list[Call], list[Step], str, list[int]], pair: bool
) -> None:
    tool_calls, steps, text, cuts = stream

    out, activity = through(policy_name, upstream(steps, pair), cuts)

    [choice] = sdk_final(out).choices
    received = sorted(
        (call.id, call.function.name, json.loads(call.function.arguments))
        for call in choice.message.tool_calls or []
    )
    assert received == sorted((call.id, call.name, call.arguments) for call in tool_calls)
    assert choice.finish_reason == "tool_calls"
    assert (choice.message.content or "") == TEXT_OF.get(policy_name, lambda same: same)(text)
    if policy_name in JUDGES:
        judged = sorted(
            json.dumps(json.loads(event.data["arguments"]), sort_keys=True)
            for event in activity.events(type="judge.decision")
        )
        assert judged == sorted(json.dumps(call.arguments, sort_keys=True) for call in tool_calls)
