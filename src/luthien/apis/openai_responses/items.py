"""OpenAI Responses output items: event names, and building items from blocks.

Helpers for `luthien.apis.openai_responses.codec`: the event type names, whole items mapped to normalized
blocks and back (non-streaming bodies, and the templates synthesized items start from), the
response-level stop reason, status and usage, and `ResponsesHints`: what the decoder notes on events
for the encoder (the two share nothing else). What the client was sent of each item is followed by
`luthien.apis.openai_responses.sent`.
Helpers for `luthien.apis.openai_responses.codec`: the event type names, whole items mapped to normalized
blocks and back (non-streaming bodies, and the templates synthesized items start from), and the
response-level stop reason, status and usage. What the client was sent of each item is followed by
`luthien.apis.openai_responses.sent`.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from luthien.apis.openai_responses import tools
from luthien.apis.openai_responses.api import OPENAI_RESPONSES
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    StopReason,
    ToolCall,
    Usage,
    WireHints,
)
from luthien.wire.events import WireEvent

CREATED = "response.created"
COMPLETED = "response.completed"
INCOMPLETE = "response.incomplete"
FAILED = "response.failed"
TERMINAL = frozenset({COMPLETED, INCOMPLETE, FAILED})
ITEM_ADDED = "response.output_item.added"
ITEM_DONE = "response.output_item.done"
PART_ADDED = "response.content_part.added"
PART_DONE = "response.content_part.done"
TEXT_DELTA = "response.output_text.delta"
TEXT_DONE = "response.output_text.done"
REFUSAL_DELTA = "response.refusal.delta"
REFUSAL_DONE = "response.refusal.done"
SUMMARY_PART_ADDED = "response.reasoning_summary_part.added"
SUMMARY_PART_DONE = "response.reasoning_summary_part.done"
SUMMARY_DELTA = "response.reasoning_summary_text.delta"
SUMMARY_DONE = "response.reasoning_summary_text.done"
REASONING_DELTA = "response.reasoning_text.delta"
REASONING_DONE = "response.reasoning_text.done"
ARGUMENTS_DELTA = "response.function_call_arguments.delta"
ARGUMENTS_DONE = "response.function_call_arguments.done"
ANNOTATION_ADDED = "response.output_text.annotation.added"
CONTENT_EVENTS = frozenset(
    {
        PART_ADDED,
        PART_DONE,
        TEXT_DELTA,
        TEXT_DONE,
        REFUSAL_DELTA,
        REFUSAL_DONE,
        SUMMARY_PART_ADDED,
        SUMMARY_PART_DONE,
        SUMMARY_DELTA,
        SUMMARY_DONE,
        REASONING_DELTA,
        REASONING_DONE,
        ARGUMENTS_DELTA,
        ARGUMENTS_DONE,
        ANNOTATION_ADDED,
        tools.INPUT_DELTA,
        tools.INPUT_DONE,
    }
)
"""Events that add to an item's content (what a client would apply to the item they name)."""

PART_TYPES = frozenset({"refusal"})
"""Message content parts (other than `output_text`) that travel as OTHER blocks."""
_PREFIXES = {"message": "msg", "reasoning": "rs", "function_call": "fc", "custom_tool_call": "ctc"}
ITEM_KINDS = {"reasoning": BlockKind.THINKING, **dict.fromkeys(tools.TOOL_ITEMS, BlockKind.TOOL_CALL)}
"""Output item types with a block kind of their own (other items are OTHER blocks)."""


@dataclass(frozen=True, slots=True)
class ResponsesHints(WireHints):
    """What the Responses decoder notes on an event for the Responses encoder (defaults: nothing).

    Attributes:
        source: on a block's events, the block's `data` object as decoded: the rest holds only for
            a block whose `data` is still this very object (compared by identity).
        output_index: the upstream `output_index` of the item a block (or an `Opaque` event) came
            from, in a stream; an encoder then continues, or reopens, that item.
        item: the upstream item a block's part belongs to (stream: as `output_item.added`
            announced it; body: the message item), the template of a reopened message.
        announced: on `MessageEnd`, the upstream output indices announced by then (the terminal
            response's `output` is rebuilt unless exactly these items were sent).
        body: on a whole body's `MessageStart` and `MessageEnd`, the body they were decoded from
            (the template of a rebuilt one).
    """

    api: ClassVar[str] = OPENAI_RESPONSES.name
    source: dict[str, Any] | None = None
    output_index: int | None = None
    item: dict[str, Any] | None = None
    announced: tuple[int, ...] = ()
    body: WireEvent | None = None


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []


def new_id(item_type: Any) -> str:
    """A fresh item id shaped like OpenAI's (`msg_...`, `fc_...`, `rs_...`)."""
    return f"{_PREFIXES.get(str(item_type), 'item')}_{secrets.token_hex(24)}"


def is_part(kind: BlockKind, data: dict[str, Any]) -> bool:
    """Whether a block is a message content part (rather than an output item of its own)."""
    return kind is BlockKind.TEXT or (kind is BlockKind.OTHER and data.get("type") in PART_TYPES)


# --- item templates -----------------------------------------------------------------------------


def text_part(template: dict[str, Any], text: str = "") -> dict[str, Any]:
    """An `output_text` content part."""
    return {"annotations": [], "logprobs": [], **template, "type": "output_text", "text": text}


def new_item(kind: BlockKind, data: dict[str, Any], call: ToolCall | None) -> dict[str, Any]:
    """The item a synthesized block opens, as announced by `response.output_item.added`."""
    if kind is BlockKind.THINKING:
        item: dict[str, Any] = {**data, "type": "reasoning", "summary": []}
        item.pop("content", None)
        return item
    if kind is BlockKind.TOOL_CALL:
        call = call or ToolCall(id="", name="")
        item = {**tools.item_with(call, data), "status": "in_progress"}
        if item["type"] == tools.FUNCTION_CALL:
            item["arguments"] = ""
        elif item["type"] == tools.CUSTOM_CALL:
            item["input"] = ""
        return item
    if is_part(kind, data):
        return {"type": "message", "status": "in_progress", "content": [], "role": "assistant"}
    return dict(data)


def reasoning_text(item: dict[str, Any]) -> str:
    """A reasoning item's text: its summary parts, then its reasoning content, concatenated."""
    parts = [*as_list(item.get("summary")), *as_list(item.get("content"))]
    return "".join(str(as_dict(part).get("text") or "") for part in parts)


def item_json(block: Block) -> dict[str, Any]:
    """The output item for a whole THINKING, TOOL_CALL or OTHER (non-part) block."""
    data = as_dict(block.data)
    if block.kind is BlockKind.THINKING:
        item = {**data, "type": "reasoning"}
        if reasoning_text(data) != block.text or not data:
            item.pop("content", None)
            item["summary"] = [{"type": "summary_text", "text": block.text}] if block.text else []
        if block.signature is not None:
            item["encrypted_content"] = block.signature
        return item
    if block.kind is BlockKind.TOOL_CALL:
        item = tools.item_with(block.tool_call or ToolCall(id="", name=""), data)
        return {**item, "status": data.get("status", "completed")}
    return data


# --- whole bodies -------------------------------------------------------------------------------


def body_events(output: list[Any]) -> list[CallEvent]:
    """The block events of a non-streaming response's `output` items.

    The events of a message's content part carry `ResponsesHints` naming the part and its item.
    """
    events: list[CallEvent] = []
    blocks = 0
    for raw_item in output:
        item = as_dict(raw_item)
        tools.check_item(item)
        if item.get("type") == "message" and as_list(item.get("content")):
            for raw_part in as_list(item.get("content")):
                part = as_dict(raw_part)
                hints = ResponsesHints(source=part, item=item)
                if part.get("type") == "output_text":
                    text = str(part.get("text") or "")
                    events.extend(_whole(blocks, BlockKind.TEXT, part, text, hints=hints))
                else:
                    events.extend(_whole(blocks, BlockKind.OTHER, part, hints=hints))
                blocks += 1
            continue
        kind = ITEM_KINDS.get(str(item.get("type")), BlockKind.OTHER)
        if kind is BlockKind.TOOL_CALL:
            call = tools.call_of(item)
            events.extend(_whole(blocks, kind, item, call.arguments, call=call))
        elif kind is BlockKind.THINKING:
            signature = item.get("encrypted_content")
            signature = signature if isinstance(signature, str) and signature else None
            events.extend(_whole(blocks, kind, item, reasoning_text(item), signature))
        else:
            events.extend(_whole(blocks, kind, item))
        blocks += 1
    return events


def _whole(
    index: int,
    kind: BlockKind,
    data: dict[str, Any],
    text: str = "",
    signature: str | None = None,
    call: ToolCall | None = None,
    hints: ResponsesHints | None = None,
) -> list[CallEvent]:
    events: list[CallEvent] = [BlockStart(index, kind, tool_call=call, data=data, hints=hints)]
    if text:
        events.append(BlockDelta(index, kind, text=text, hints=hints))
    if signature is not None:
        events.append(BlockDelta(index, kind, signature=signature, hints=hints))
    if call is not None:
        block = Block(kind, tool_call=ToolCall(call.id, call.name, text or "{}"), data=data, hints=hints)
    else:
        block = Block(kind, text=text, signature=signature, data=data, hints=hints)
    return [*events, BlockComplete(index, block, hints=hints)]


def body_output(events: list[CallEvent], parents: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """A non-streaming response's `output` list for the blocks in `events`.

    Consecutive parts of one upstream message item stay in one item; any other part opens a new
    message item. Ids are kept unless already used in the list, then replaced by fresh ones.

    Args:
        events: the normalized sequence.
        parents: id(part) → its upstream message item, for the parts the events' hints name.
    """
    output: list[dict[str, Any]] = []
    used: set[str] = set()
    parent: dict[str, Any] | None = None
    for event in events:
        if not isinstance(event, BlockComplete):
            continue
        block = event.block
        data = as_dict(block.data)
        if not is_part(block.kind, data):
            parent = None
            output.append(_unique(item_json(block), used))
            continue
        part = text_part(data, block.text) if block.kind is BlockKind.TEXT else data
        source = parents.get(id(block.data))
        if parent is None or source is None or source is not parent:
            parent = source
            template = source if source is not None else new_item(block.kind, data, None)
            output.append(_unique({**template, "status": "completed", "content": []}, used))
        output[-1]["content"].append(part)
    return output


def _unique(item: dict[str, Any], used: set[str]) -> dict[str, Any]:
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id or item_id in used:
        item = {**item, "id": new_id(item.get("type"))}
    used.add(str(item["id"]))
    return item


# --- the response's end -------------------------------------------------------------------------


def message_end(event_type: str, response: dict[str, Any], saw_call: bool, data: Any = None) -> MessageEnd:
    """The normalized end for a terminal event (or a whole body) carrying `response`."""
    details = as_dict(response.get("incomplete_details")).get("reason")
    if event_type == INCOMPLETE or response.get("status") == "incomplete":
        reason = StopReason.MAX_TOKENS if details == "max_output_tokens" else StopReason.OTHER
        provider = str(details) if details else "incomplete"
    elif event_type == FAILED or response.get("status") == "failed":
        reason, provider = StopReason.OTHER, "failed"
    else:
        output = as_list(response.get("output"))
        calls = any(tools.is_tool_item(as_dict(item)) for item in output) if output else saw_call
        reason, provider = (StopReason.TOOL_USE if calls else StopReason.END_TURN), None
    usage = as_dict(response.get("usage"))
    normalized = None
    if usage:
        cached = as_dict(usage.get("input_tokens_details")).get("cached_tokens")
        normalized = Usage(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            cache_read_input_tokens=cached if isinstance(cached, int) else None,
        )
    return MessageEnd(reason, provider_stop_reason=provider, usage=normalized, data=data)


def terminal_type(event: MessageEnd, original: Any) -> str:
    """The terminal event type for a normalized end (the original's, unless the reason changed)."""
    if event.stop_reason is StopReason.MAX_TOKENS:
        return INCOMPLETE
    if original in (INCOMPLETE, FAILED) and event.stop_reason is StopReason.OTHER:
        return str(original)
    return COMPLETED


def finished_response(
    template: dict[str, Any], event_type: str, event: MessageEnd, output: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The response object of the terminal event (or body) for a normalized end (`output` None: kept)."""
    response = copy.deepcopy(template)
    if output is not None:
        response["output"] = output
    if event_type == INCOMPLETE:
        reason = (
            "max_output_tokens" if event.stop_reason is StopReason.MAX_TOKENS else event.provider_stop_reason
        )
        response.update(status="incomplete", incomplete_details={"reason": reason})
    elif event_type == COMPLETED:
        response.update(status="completed", incomplete_details=None)
    else:
        response["status"] = "failed"
    if response.get("usage") is None and event.usage is not None:
        usage = event.usage
        response["usage"] = {
            "input_tokens": usage.input_tokens or 0,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage.output_tokens or 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": (usage.input_tokens or 0) + (usage.output_tokens or 0),
        }
    return response


def minimal_response() -> dict[str, Any]:
    """A response object for when no upstream one is at hand."""
    return {
        "id": "",
        "object": "response",
        "created_at": 0,
        "status": "in_progress",
        "model": "",
        "output": [],
    }
