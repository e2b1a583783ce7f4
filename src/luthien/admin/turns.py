"""One transaction read as a turn of an agent session: what the client sent new, what came back.

Used by `GET /api/sessions/{id}` and the session timeline page. Requests are read with
`CallRequest.conversation` and responses with the client API's codec, so the three APIs look alike.
A tool call present in the original response but not in the final one was blocked; the judge's (or a
rule's) decisions are matched to tool calls by `tool_call_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from luthien.apis.anthropic_messages.api import ANTHROPIC_MESSAGES
from luthien.apis.openai_chat.api import OPENAI_CHAT
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import BlockComplete, BlockKind, ToolCall
from luthien.call.request import CallRequest, ToolResult, Turn
from luthien.pipeline.stage import codec_for
from luthien.records.model import RecordedEvent, TransactionRecord
from luthien.wire.apis import WireApi, response_event

APIS: dict[str, WireApi] = {api.name: api for api in (ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_RESPONSES)}
# Activity events that judge one tool call (their data carries `tool_call_id` and `blocked`).
DECISION_EVENTS = frozenset({"judge.decision", "commands.decision"})


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's decision about one tool call (a judge verdict or a rule match)."""

    type: str
    policy: str | None
    tool_call_id: str | None
    blocked: bool
    explanation: str | None
    probability: float | None
    latency_ms: float | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCallView:
    """A tool call the model made; `blocked` when a policy kept it from the client."""

    id: str
    name: str
    arguments: str
    blocked: bool
    decisions: tuple[Decision, ...] = ()


@dataclass(frozen=True, slots=True)
class TurnView:
    """One call of a session, flattened for reading.

    Attributes:
        record: the transaction.
        prompt: the messages the client sent after the last assistant message (the new input).
        texts: the final response's text, one entry per block, as the client got it.
        policy_texts: text a policy put in place of something (blocked messages, markdown).
        tool_calls: tool calls of the original response; blocked ones flagged.
        decisions: every decision event of the call.
    """

    record: TransactionRecord
    prompt: tuple[Turn, ...]
    texts: tuple[str, ...]
    policy_texts: tuple[str, ...]
    tool_calls: tuple[ToolCallView, ...]
    decisions: tuple[Decision, ...]


def _json_object(body: bytes | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _blocks(api: WireApi | None, body: bytes | None) -> list[BlockComplete]:
    data = _json_object(body)
    if api is None or data is None or body is None:
        return []
    events = codec_for(api).decode_body(response_event(body, data))
    return [event for event in events if isinstance(event, BlockComplete)]


def new_input(record: TransactionRecord) -> tuple[Turn, ...]:
    """The client's messages after the conversation's last assistant message (system left out)."""
    api = APIS.get(record.client_api)
    body = _json_object(record.original_request)
    if api is None or body is None:
        return ()
    conversation = CallRequest(api.format, body, record.original_request).conversation
    tail: list[Turn] = []
    for turn in reversed(conversation):
        if turn.role == "assistant":
            break
        if turn.role not in ("system", "developer"):
            tail.append(turn)
    return tuple(reversed(tail))


def decision_of(event: RecordedEvent) -> Decision:
    """A decision event's fields, read defensively (policies write their own data)."""
    data = event.data
    call_id = data.get("tool_call_id")
    explanation = data.get("explanation", data.get("rule"))
    probability = data.get("probability")
    latency = data.get("latency_ms")
    return Decision(
        type=event.type,
        policy=event.policy,
        tool_call_id=call_id if isinstance(call_id, str) else None,
        blocked=data.get("blocked") is True,
        explanation=explanation if isinstance(explanation, str) else None,
        probability=float(probability) if isinstance(probability, int | float) else None,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        data=data,
    )


def pretty_arguments(call: ToolCall) -> str:
    """The call's arguments as indented JSON, or as sent when they are not JSON."""
    parsed = call.parsed_arguments
    if parsed is None:
        return call.arguments
    return orjson.dumps(parsed, option=orjson.OPT_INDENT_2).decode("utf-8")


def turn_view(record: TransactionRecord) -> TurnView:
    """Read one record as a session turn."""
    api = APIS.get(record.client_api)
    original = _blocks(api, record.original_response)
    final = original if record.final_response is None else _blocks(api, record.final_response)
    final_calls = {b.block.tool_call.id for b in final if b.block.tool_call is not None}
    decisions = tuple(decision_of(event) for event in record.events if event.type in DECISION_EVENTS)
    calls = tuple(
        ToolCallView(
            id=call.id,
            name=call.name,
            arguments=pretty_arguments(call),
            blocked=call.id not in final_calls,
            decisions=tuple(d for d in decisions if d.tool_call_id == call.id),
        )
        for call in (b.block.tool_call for b in original)
        if call is not None
    )
    original_texts = {b.block.text for b in original if b.block.kind is BlockKind.TEXT}
    texts: list[str] = []
    policy_texts: list[str] = []
    for block in final:
        if block.block.kind is not BlockKind.TEXT:
            continue
        added_by_policy = record.final_response is not None and block.block.text not in original_texts
        (policy_texts if added_by_policy and record.blocked else texts).append(block.block.text)
    return TurnView(record, new_input(record), tuple(texts), tuple(policy_texts), calls, decisions)


def _result_json(result: ToolResult) -> dict[str, Any]:
    return {"tool_call_id": result.call_id, "content": result.content, "is_error": result.is_error}


def _message_json(turn: Turn) -> dict[str, Any]:
    return {
        "role": turn.role,
        "text": turn.text,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls],
        "tool_results": [_result_json(result) for result in turn.tool_results],
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    """A decision as the API returns it."""
    return {
        "type": decision.type,
        "policy": decision.policy,
        "tool_call_id": decision.tool_call_id,
        "blocked": decision.blocked,
        "explanation": decision.explanation,
        "probability": decision.probability,
        "latency_ms": decision.latency_ms,
    }


def turn_json(view: TurnView) -> dict[str, Any]:
    """A turn of `GET /api/sessions/{id}`."""
    record = view.record
    return {
        "transaction_id": record.transaction_id,
        "received_at": record.timing.received_at,
        "duration_ms": record.timing.duration_ms,
        "model": record.model,
        "policy": record.policy,
        "status": record.status.value,
        "error": record.error,
        "prompt": [_message_json(turn) for turn in view.prompt],
        "texts": list(view.texts),
        "policy_texts": list(view.policy_texts),
        "tool_calls": [
            {
                "id": call.id,
                "name": call.name,
                "arguments": call.arguments,
                "blocked": call.blocked,
                "decisions": [decision_json(d) for d in call.decisions],
            }
            for call in view.tool_calls
        ],
        "decisions": [decision_json(d) for d in view.decisions],
    }


def session_turns(records: Sequence[TransactionRecord]) -> list[TurnView]:
    """The turns of a session, in the order given (oldest first)."""
    return [turn_view(record) for record in records]
