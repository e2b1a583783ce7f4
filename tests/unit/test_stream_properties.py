"""Property: whatever a policy does to blocks, the client gets a response its SDK accepts.

Random valid Anthropic responses (a random mix and order of text, thinking, redacted-thinking and
tool-use blocks, random delta splits, pings, random byte chunking) run through the real pipeline
(`PolicyStage`: Anthropic codec + `HookRunner` + repairer) with a random plan that keeps, drops,
replaces, rewrites and inserts blocks, either with the streaming hooks or holding whole blocks. The
output must

- satisfy the stream contract (one `message_start`; blocks opened and closed one at a time, numbered
  0..n-1 in order; tool calls last; `message_delta` + `message_stop` at the end; `stop_reason`
  `tool_use` exactly when a tool call remains, other stop reasons kept), and
- be accepted by the Anthropic SDK (`messages.stream(...).get_final_message()`, or `messages.create`
  for whole bodies), whose parsed content must be exactly what the plan says.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import anthropic
import httpx2
from anthropic.types import (
    Message,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    ToolCall,
    text_block,
    tool_call_block,
)
from luthien.policy.base import Policy, PolicyConfig, PolicyContext
from luthien.policy.helpers import send_text
from luthien.wire.events import WireEvent
from tests.fake_provider import anthropic_usage, sse_frame
from tests.support.codec_streams import cut, decode_all
from tests.support.policy_runs import make_ctx, through_body, through_stream

MODEL = "claude-sonnet-4-6"
Kind = Literal["text", "thinking", "redacted", "tool"]
Action = Literal["keep", "drop", "replace_text", "insert_before", "add_tool", "upper", "rewrite_args"]
# What a parsed content block is compared as.
Content = tuple[Any, ...]

ACTIONS: dict[Kind, list[Action]] = {
    "text": ["keep", "drop", "replace_text", "insert_before", "add_tool", "upper"],
    "thinking": ["keep", "drop", "replace_text", "insert_before"],
    "redacted": ["keep", "drop", "insert_before"],
    "tool": ["keep", "drop", "replace_text", "insert_before", "add_tool", "rewrite_args"],
}
PLAIN_STOPS = ("end_turn", "stop_sequence", "tool_use")


@dataclass(frozen=True)
class Spec:
    """One upstream content block and how it is streamed."""

    kind: Kind
    text: str = ""  # text, thinking, redacted data, or the tool arguments JSON
    pieces: tuple[str, ...] = ()
    signature: str = ""
    arguments: Any = None

    def content(self, index: int) -> Content:
        if self.kind == "text":
            return ("text", self.text)
        if self.kind == "thinking":
            return ("thinking", self.text, self.signature)
        if self.kind == "redacted":
            return ("redacted", self.text)
        return ("tool", tool_id(index), f"tool_{index}", self.arguments)


def tool_id(index: int) -> str:
    return f"toolu_{index:02d}"


@dataclass(frozen=True)
class Response:
    """A random upstream response and what the policy will do to it."""

    blocks: tuple[Spec, ...]
    actions: tuple[Action, ...]
    pings: frozenset[int]
    stop_reason: str
    append_at_end: bool
    held: bool


# --- strategies -------------------------------------------------------------------------------

TEXTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=24)
JSON_VALUES = st.one_of(st.integers(-1000, 1000), st.booleans(), st.none(), st.text(max_size=8))


def split(draw: st.DrawFn, text: str) -> tuple[str, ...]:
    """`text` in random non-empty pieces (none for empty text)."""
    cuts = draw(st.lists(st.integers(min_value=1, max_value=max(1, len(text) - 1)), max_size=4))
    points = sorted({0, len(text), *(cut for cut in cuts if cut < len(text))})
    return tuple(text[start:end] for start, end in itertools.pairwise(points))


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    kind: Kind = draw(st.sampled_from(["text", "thinking", "redacted", "tool"]))
    if kind == "tool":
        arguments = draw(st.dictionaries(st.text(min_size=1, max_size=6), JSON_VALUES, max_size=3))
        encoded = json.dumps(arguments)
        return Spec(kind, encoded, split(draw, encoded), arguments=arguments)
    if kind == "redacted":
        return Spec(kind, draw(st.text(alphabet="abcdefXYZ0189+/=", min_size=1, max_size=16)))
    text = draw(TEXTS)
    if kind == "thinking":
        return Spec(
            kind,
            text,
            split(draw, text),
            signature=draw(st.text(alphabet="abcXYZ019=", min_size=1, max_size=12)),
        )
    return Spec(kind, text, split(draw, text))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    blocks = tuple(draw(st.lists(specs(), max_size=6)))
    actions: tuple[Action, ...] = tuple(draw(st.sampled_from(ACTIONS[block.kind])) for block in blocks)
    has_tool = any(block.kind == "tool" for block in blocks)
    natural = "tool_use" if has_tool else draw(st.sampled_from(["end_turn", "stop_sequence"]))
    stop_reason = draw(st.sampled_from([natural, natural, "max_tokens", "refusal"]))
    return Response(
        blocks=blocks,
        actions=actions,
        pings=frozenset(draw(st.sets(st.integers(0, len(blocks)), max_size=3))),
        stop_reason=stop_reason,
        append_at_end=draw(st.booleans()),
        held=draw(st.booleans()),
    )


# --- upstream wire ----------------------------------------------------------------------------


def _frame(data: dict[str, Any]) -> bytes:
    return sse_frame(str(data["type"]), data)


def block_frames(index: int, spec: Spec) -> list[bytes]:
    def delta(payload: dict[str, Any]) -> bytes:
        return _frame({"type": "content_block_delta", "index": index, "delta": payload})

    start: dict[str, Any]
    deltas: list[bytes]
    if spec.kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [delta({"type": "text_delta", "text": piece}) for piece in spec.pieces]
    elif spec.kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [delta({"type": "thinking_delta", "thinking": piece}) for piece in spec.pieces]
        deltas.append(delta({"type": "signature_delta", "signature": spec.signature}))
    elif spec.kind == "redacted":
        start = {"type": "redacted_thinking", "data": spec.text}
        deltas = []
    else:
        start = {"type": "tool_use", "id": tool_id(index), "name": f"tool_{index}", "input": {}}
        deltas = [delta({"type": "input_json_delta", "partial_json": piece}) for piece in spec.pieces]
    return [
        _frame({"type": "content_block_start", "index": index, "content_block": start}),
        *deltas,
        _frame({"type": "content_block_stop", "index": index}),
    ]


def upstream_stream(response: Response) -> list[bytes]:
    message: dict[str, Any] = {
        "id": "msg_01Property",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": anthropic_usage(output_tokens=1),
    }
    ping = _frame({"type": "ping"})
    frames = [_frame({"type": "message_start", "message": message})]
    for index, spec in enumerate(response.blocks):
        if index in response.pings:
            frames.append(ping)
        frames.extend(block_frames(index, spec))
    if len(response.blocks) in response.pings:
        frames.append(ping)
    stop_sequence = "STOP" if response.stop_reason == "stop_sequence" else None
    frames.append(
        _frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": response.stop_reason, "stop_sequence": stop_sequence},
                "usage": {"output_tokens": 7},
            }
        )
    )
    frames.append(_frame({"type": "message_stop"}))
    return frames


def upstream_body(response: Response) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for index, spec in enumerate(response.blocks):
        if spec.kind == "text":
            content.append({"type": "text", "text": spec.text})
        elif spec.kind == "thinking":
            content.append({"type": "thinking", "thinking": spec.text, "signature": spec.signature})
        elif spec.kind == "redacted":
            content.append({"type": "redacted_thinking", "data": spec.text})
        else:
            content.append(
                {"type": "tool_use", "id": tool_id(index), "name": f"tool_{index}", "input": spec.arguments}
            )
    return {
        "id": "msg_01Property",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content,
        "stop_reason": response.stop_reason,
        "stop_sequence": "STOP" if response.stop_reason == "stop_sequence" else None,
        "usage": anthropic_usage(output_tokens=7),
    }


# --- the random policy ------------------------------------------------------------------------


def added_call(index: int) -> ToolCall:
    return ToolCall(f"toolu_added_{index:02d}", "added", json.dumps({"by": index}))


def rewritten_call(index: int) -> ToolCall:
    return ToolCall(tool_id(index), f"tool_{index}", json.dumps({"rewritten": index}))


class StreamingPlan(Policy[PolicyConfig]):
    """Carries out a plan with the streaming hooks (nothing held)."""

    def __init__(self, response: Response) -> None:
        super().__init__(PolicyConfig(), "plan")
        self.plan = response

    def action(self, index: int) -> Action:
        return self.plan.actions[index]

    async def on_block_start(self, event: BlockStart, ctx: PolicyContext) -> Sequence[CallEvent]:
        action = self.action(event.index)
        if action in ("drop", "replace_text", "rewrite_args"):
            return []
        if action == "insert_before":
            return [*send_text(f"I{event.index}"), event]
        if action == "add_tool":
            return [BlockComplete(-1, tool_call_block(added_call(event.index))), event]
        return [event]

    async def on_block_delta(self, event: BlockDelta, ctx: PolicyContext) -> Sequence[CallEvent]:
        action = self.action(event.index)
        if action in ("drop", "replace_text", "rewrite_args"):
            return []
        if action == "upper":
            return [dataclasses.replace(event, text=event.text.upper())]
        return [event]

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        action = self.action(event.index)
        if action == "drop":
            return []
        if action == "replace_text":
            return send_text(f"R{event.index}")
        if action == "rewrite_args":
            return [BlockComplete(-1, tool_call_block(rewritten_call(event.index)))]
        return [event]

    async def on_message_complete(self, event: MessageEnd, ctx: PolicyContext) -> Sequence[CallEvent]:
        return [*send_text("END"), event] if self.plan.append_at_end else [event]


class HeldPlan(StreamingPlan):
    """Carries out a plan on whole blocks: text, thinking and tool calls are held."""

    holds: ClassVar[frozenset[BlockKind]] = frozenset(
        {BlockKind.TEXT, BlockKind.THINKING, BlockKind.TOOL_CALL}
    )

    async def on_block_complete(self, event: BlockComplete, ctx: PolicyContext) -> Sequence[CallEvent]:
        if event.block.kind not in self.holds:
            return await super().on_block_complete(event, ctx)
        action = self.action(event.index)
        if action == "insert_before":
            return [*send_text(f"I{event.index}"), event]
        if action == "add_tool":
            return [BlockComplete(-1, tool_call_block(added_call(event.index))), event]
        if action == "upper":
            return [BlockComplete(event.index, text_block(event.block.text.upper()))]
        return await super().on_block_complete(event, ctx)


def block_output(index: int, spec: Spec, action: Action) -> list[Content]:
    """What the plan makes of one upstream block."""
    original = spec.content(index)
    if action == "keep":
        return [original]
    if action == "replace_text":
        return [("text", f"R{index}")]
    if action == "insert_before":
        return [("text", f"I{index}"), original]
    if action == "add_tool":
        call = added_call(index)
        return [("tool", call.id, call.name, json.loads(call.arguments)), original]
    if action == "upper":
        return [("text", spec.text.upper())]
    if action == "rewrite_args":
        call = rewritten_call(index)
        return [("tool", call.id, call.name, json.loads(call.arguments))]
    return []  # drop


def expected_content(response: Response) -> tuple[list[Content], list[Content]]:
    """The content the plan produces: (non-tool blocks in order, tool calls in order).

    Held tool calls are judged concurrently and their outcomes collected at the message end, so a
    held tool call's output (a replacement text included) comes after every other block's output.
    """
    outputs = [
        (spec.kind == "tool", block_output(index, spec, action))
        for index, (spec, action) in enumerate(zip(response.blocks, response.actions, strict=True))
    ]
    if response.held:
        outputs = [item for item in outputs if not item[0]] + [item for item in outputs if item[0]]
    out = [content for _, produced in outputs for content in produced]
    if response.append_at_end:
        out.append(("text", "END"))
    return [c for c in out if c[0] != "tool"], [c for c in out if c[0] == "tool"]


def expected_stop_reason(response: Response, tool_calls: int) -> str:
    if response.stop_reason in PLAIN_STOPS:
        if tool_calls:
            return "tool_use"
        return "end_turn" if response.stop_reason == "tool_use" else response.stop_reason
    return response.stop_reason


# --- running and checking ---------------------------------------------------------------------


def policy_for(response: Response) -> StreamingPlan:
    return HeldPlan(response) if response.held else StreamingPlan(response)


def client_stream(response: Response, cuts: Sequence[int]) -> bytes:
    """What the client receives for `response`'s upstream stream, cut at `cuts`, with its policy."""
    frames = upstream_stream(response)
    pieces = cut(b"".join(frames), cuts)
    return through_stream(policy_for(response), frames, pieces, ctx=make_ctx("plan"))


def check_contract(events: list[WireEvent], response: Response, expected_stop: str) -> None:
    """The structural stream contract, checked on the wire events a client receives."""
    types = [event.type for event in events if event.type != "ping"]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    assert types.count("message_start") == 1
    assert types.count("message_delta") == 1
    assert types.count("message_stop") == 1
    assert "error" not in types
    open_index: int | None = None
    next_index = 0
    seen_tool = False
    block_types: list[str] = []
    for event in events:
        data = event.data
        if event.type == "content_block_start":
            assert open_index is None, "a block started while another is open"
            assert data["index"] == next_index
            open_index = next_index
            block_type = data["content_block"]["type"]
            if block_type == "tool_use":
                seen_tool = True
            else:
                assert not seen_tool, "tool calls must come after every other block"
            block_types.append(block_type)
        elif event.type == "content_block_delta":
            assert data["index"] == open_index
        elif event.type == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
            next_index += 1
        elif event.type == "message_delta":
            assert open_index is None, "the message ended with a block open"
            assert data["delta"]["stop_reason"] == expected_stop
    if response.stop_reason in PLAIN_STOPS:
        assert ("tool_use" in block_types) == (expected_stop == "tool_use")


def sdk_message(data: bytes, streaming: bool) -> Message:
    def answer(request: httpx2.Request) -> httpx2.Response:
        content_type = "text/event-stream" if streaming else "application/json"
        return httpx2.Response(200, headers={"content-type": content_type}, content=data)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    with anthropic.Anthropic(
        base_url="http://sdk.test", api_key="k", http_client=http, max_retries=0
    ) as client:
        if streaming:
            with client.messages.stream(
                model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                return stream.get_final_message()
        return client.messages.create(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )


def parsed_content(message: Message) -> list[Content]:
    out: list[Content] = []
    for block in message.content:
        if isinstance(block, TextBlock):
            out.append(("text", block.text))
        elif isinstance(block, ThinkingBlock):
            out.append(("thinking", block.thinking, block.signature))
        elif isinstance(block, RedactedThinkingBlock):
            out.append(("redacted", block.data))
        elif isinstance(block, ToolUseBlock):
            out.append(("tool", block.id, block.name, block.input))
        else:
            raise AssertionError(f"unexpected block {block.type}")
    return out


def check_message(message: Message, response: Response) -> None:
    others, tools = expected_content(response)
    content = parsed_content(message)
    tool_position = next((i for i, c in enumerate(content) if c[0] == "tool"), len(content))
    assert all(c[0] == "tool" for c in content[tool_position:]), "tool calls must come last"
    assert content[:tool_position] == others
    assert content[tool_position:] == tools
    assert message.stop_reason == expected_stop_reason(response, len(tools))


@settings(max_examples=50, deadline=None)
@given(response=responses(), cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_policy_output_streams_as_a_valid_message(response: Response, cuts: list[int]) -> None:
    data = client_stream(response, cuts)

    _, tools = expected_content(response)
    check_contract(decode_all(ANTHROPIC_MESSAGES, data), response, expected_stop_reason(response, len(tools)))
    check_message(sdk_message(data, streaming=True), response)


@settings(max_examples=50, deadline=None)
@given(response=responses())
def test_any_policy_output_is_a_valid_whole_message(response: Response) -> None:
    data = through_body(policy_for(response), upstream_body(response), ctx=make_ctx("plan"))

    check_message(sdk_message(data, streaming=False), response)


@settings(max_examples=25, deadline=None)
@given(response=responses(), cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_keeping_everything_is_byte_identical(response: Response, cuts: list[int]) -> None:
    unchanged = dataclasses.replace(response, actions=("keep",) * len(response.blocks), append_at_end=False)
    kinds = [spec.kind for spec in unchanged.blocks]
    first_tool = kinds.index("tool") if "tool" in kinds else len(kinds)
    tools_last = all(kind == "tool" for kind in kinds[first_tool:])

    data = client_stream(unchanged, cuts)

    # Tool calls are sent last: only a response whose tool calls already are keeps its order.
    if tools_last:
        assert data == b"".join(upstream_stream(unchanged))
    check_message(sdk_message(data, streaming=True), unchanged)
