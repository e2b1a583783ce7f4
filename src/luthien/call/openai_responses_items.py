"""OpenAI Responses output items: tracking what was streamed, and building items from blocks.

Helpers for `luthien.call.openai_responses`: `SentItem` follows one output item as the client
receives it (`track` applies every event sent), renumbers upstream events to the stream sent and
builds the events the encoder synthesizes, so `*.done` events, item ids and the final `output` list
match what was actually streamed. The rest maps whole items to normalized
blocks and back (non-streaming bodies, and the templates synthesized items start from), and the
response-level stop reason, status and usage.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import Any, cast

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
)

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

PART_TYPES = frozenset({"refusal"})
"""Message content parts (other than `output_text`) that travel as OTHER blocks."""
_PREFIXES = {"message": "msg", "reasoning": "rs", "function_call": "fc"}
ITEM_KINDS = {"reasoning": BlockKind.THINKING, "function_call": BlockKind.TOOL_CALL}
"""Output item types with a block kind of their own (other items are OTHER blocks)."""


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


@dataclass(slots=True)
class SentItem:
    """One output item as streamed to the client.

    Attributes:
        index: its `output_index` in the stream sent.
        item: the item as the client has it so far (parts and arguments accumulated).
        upstream: the upstream `output_index` it came from, if any.
        modified: whether anything of it differs from upstream (then its `*.done` events and its
            entry in the final `output` are rebuilt from `item`).
        done: whether its `response.output_item.done` was sent.
        open_part: the part still streaming: ("content" | "summary", index sent).
        parts: upstream part index → index sent, per kind.
        signature: the `encrypted_content` a THINKING block carried.
    """

    index: int
    item: dict[str, Any]
    upstream: int | None
    modified: bool = False
    done: bool = False
    open_part: tuple[str, int] | None = None
    parts: dict[tuple[str, int], int] = field(default_factory=dict[tuple[str, int], int])
    signature: str | None = None
    pieces: dict[tuple[int, str], tuple[dict[str, Any], str, list[str]]] = field(
        default_factory=dict[tuple[int, str], tuple[dict[str, Any], str, list[str]]]
    )
    """Deltas not yet joined into `item`: (id of the object, key) → (the object, key, pieces)."""

    @property
    def id(self) -> str:
        """The item id sent."""
        return str(self.item.get("id", ""))

    def part_list(self, kind: str) -> list[Any]:
        """The item's `content` or `summary` list (created when missing)."""
        key = "content" if kind == "content" else "summary"
        parts = self.item.get(key)
        if not isinstance(parts, list):
            parts = self.item[key] = []
        return cast(list[Any], parts)

    def flush(self) -> dict[str, Any]:
        """`item`, with every delta received joined in (deltas are joined lazily: linear time)."""
        for target, key, pieces in self.pieces.values():
            target[key] = str(target.get(key) or "") + "".join(pieces)
        self.pieces.clear()
        return self.item

    def _append(self, target: dict[str, Any], key: str, delta: str) -> None:
        self.pieces.setdefault((id(target), key), (target, key, []))[2].append(delta)

    def part(self, kind: str, index: Any) -> dict[str, Any]:
        """One part as streamed so far (an empty object when there is none at `index`)."""
        self.flush()
        return self._part_at(kind, index)

    def _part_at(self, kind: str, index: Any) -> dict[str, Any]:
        parts = self.part_list(kind)
        return as_dict(parts[index]) if isinstance(index, int) and 0 <= index < len(parts) else {}

    # --- events the encoder synthesizes ---------------------------------------------------------

    def where(self, **position: int) -> dict[str, Any]:
        """The fields locating an event in this item (plus a part index)."""
        return {"item_id": self.id, "output_index": self.index, **position}

    def added(self) -> dict[str, Any]:
        """`response.output_item.added` for this item."""
        return {"type": ITEM_ADDED, "output_index": self.index, "item": copy.deepcopy(self.item)}

    def finished(self) -> dict[str, Any]:
        """`response.output_item.done` for this item, as streamed."""
        item = copy.deepcopy(self.flush())
        if item.get("type") in ("message", "function_call") or "status" in item:
            item["status"] = "completed"
        if self.signature is not None:
            item["encrypted_content"] = self.signature
        return {"type": ITEM_DONE, "output_index": self.index, "item": item}

    def part_added(self, kind: str, part: dict[str, Any]) -> dict[str, Any]:
        """The event opening a new content (or summary) part."""
        event_type = PART_ADDED if kind == "content" else SUMMARY_PART_ADDED
        return {
            "type": event_type,
            **self.where(**{f"{kind}_index": len(self.part_list(kind))}),
            "part": part,
        }

    def part_closing(self, final: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The events closing the open part (`final` replaces the part as streamed)."""
        if self.open_part is None:
            return []
        kind, index = self.open_part
        part = final if final is not None else copy.deepcopy(self.part(kind, index))
        where = self.where(**{f"{kind}_index": index})
        closing: list[dict[str, Any]] = []
        if kind == "summary":
            closing.append({"type": SUMMARY_DONE, **where, "text": part.get("text", "")})
        elif part.get("type") == "output_text":
            closing.append({"type": TEXT_DONE, **where, "text": part.get("text", ""), "logprobs": []})
        elif part.get("type") == "refusal":
            closing.append({"type": REFUSAL_DONE, **where, "refusal": part.get("refusal", "")})
        elif self.item.get("type") == "reasoning":
            closing.append({"type": REASONING_DONE, **where, "text": part.get("text", "")})
        done = SUMMARY_PART_DONE if kind == "summary" else PART_DONE
        return [*closing, {"type": done, **where, "part": part}]

    # --- upstream events ------------------------------------------------------------------------

    def patch(self, payload: dict[str, Any]) -> None:
        """Renumber a (copied) upstream event of this item to the stream sent.

        Once the item differs from upstream, the values of its `*.done` events are filled in from
        what was streamed.
        """
        keys = ("item_id", "content_index", "summary_index")
        before = [payload.get(key) for key in keys]
        payload["output_index"] = self.index
        if "item_id" in payload:
            payload["item_id"] = self.id
        event_type = payload.get("type")
        for kind, added in (("content", PART_ADDED), ("summary", SUMMARY_PART_ADDED)):
            upstream = payload.get(f"{kind}_index")
            if not isinstance(upstream, int):
                continue
            if event_type == added:
                sent = self.parts[(kind, upstream)] = len(self.part_list(kind))
            elif self.open_part is not None and self.open_part[0] == kind:
                sent = self.open_part[1]
            else:
                sent = self.parts.get((kind, upstream), upstream)
            payload[f"{kind}_index"] = sent
        if before != [payload.get(key) for key in keys]:
            self.modified = True
        if event_type == ITEM_DONE:
            done = as_dict(payload.get("item"))
            for key in ("content", "summary"):  # a part the policy dropped
                if isinstance(done.get(key), list) and len(done[key]) != len(self.part_list(key)):
                    self.modified = True
        if self.modified:
            self._patch_done(payload)

    def _patch_done(self, payload: dict[str, Any]) -> None:
        kind = "summary" if "summary_index" in payload else "content"
        part = self.part(kind, payload.get(f"{kind}_index"))
        event_type = payload.get("type")
        if event_type in (TEXT_DONE, REASONING_DONE, SUMMARY_DONE):
            payload["text"] = str(part.get("text") or "")
        elif event_type == REFUSAL_DONE:
            payload["refusal"] = str(part.get("refusal") or "")
        elif event_type in (PART_DONE, SUMMARY_PART_DONE):
            streamed = {key: part[key] for key in ("text", "refusal") if key in part}
            payload["part"] = {**as_dict(payload.get("part")), **streamed}
        elif event_type == ARGUMENTS_DONE:
            payload["arguments"] = str(self.item.get("arguments") or "")
        elif event_type == ITEM_DONE:
            self.flush()
            item = {**as_dict(payload.get("item")), "id": self.id}
            keys = {
                "message": ("content",),
                "reasoning": ("summary", "content"),
                "function_call": ("arguments",),
            }
            for key in keys.get(str(item.get("type")), ()):
                if self.item.get(key) is not None:
                    item[key] = copy.deepcopy(self.item[key])
            if self.signature is not None:
                item["encrypted_content"] = self.signature
            payload["item"] = item

    def track(self, payload: dict[str, Any]) -> None:
        """Apply one event sent for this item (numbered as sent) to the client's view of it."""
        kind = "summary" if "summary_index" in payload else "content"
        index = payload.get(f"{kind}_index")
        event_type = payload.get("type")
        delta = str(payload.get("delta", ""))
        part = self._part_at(kind, index)
        if event_type in (TEXT_DELTA, REASONING_DELTA, SUMMARY_DELTA, REFUSAL_DELTA):
            if part:
                self._append(part, "refusal" if event_type == REFUSAL_DELTA else "text", delta)
            return
        if event_type == ARGUMENTS_DELTA:
            self._append(self.item, "arguments", delta)
            return
        self.flush()
        if event_type in (PART_ADDED, SUMMARY_PART_ADDED):
            self.part_list(kind).append(copy.deepcopy(as_dict(payload.get("part"))))
            self.open_part = (kind, len(self.part_list(kind)) - 1)
        elif event_type in (PART_DONE, SUMMARY_PART_DONE) and part:
            self.part_list(kind)[cast(int, index)] = copy.deepcopy(as_dict(payload.get("part")))
            self.open_part = None
        elif event_type == ARGUMENTS_DONE:
            self.item["arguments"] = str(payload.get("arguments", ""))
        elif event_type == ITEM_DONE:
            self.item = copy.deepcopy(as_dict(payload.get("item")))
            self.done, self.open_part = True, None


def final_output(sent: list[SentItem], upstream: Any) -> list[dict[str, Any]]:
    """The terminal response's `output`: the items sent, in upstream's final form where unchanged."""
    final = {str(item.get("id")): item for item in map(as_dict, as_list(upstream))}
    return [
        final[item.id] if not item.modified and item.id in final else copy.deepcopy(item.flush())
        for item in sent
    ]


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
        base = {**data, "type": "function_call", "status": "in_progress"}
        return {**base, "call_id": call.id, "name": call.name, "arguments": ""}
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
        item = new_item(block.kind, data, block.tool_call)
        return {**item, "status": data.get("status", "completed"), "arguments": _arguments(block)}
    return data


def _arguments(block: Block) -> str:
    return block.tool_call.arguments if block.tool_call is not None else "{}"


# --- whole bodies -------------------------------------------------------------------------------


def body_events(output: list[Any], parents: dict[int, dict[str, Any]]) -> list[CallEvent]:
    """The block events of a non-streaming response's `output` items.

    Args:
        output: the response's `output` list.
        parents: filled with id(part) → its message item, for every message content part.
    """
    events: list[CallEvent] = []
    blocks = 0
    for raw_item in output:
        item = as_dict(raw_item)
        if item.get("type") == "message" and as_list(item.get("content")):
            for raw_part in as_list(item.get("content")):
                part = as_dict(raw_part)
                parents[id(part)] = item
                if part.get("type") == "output_text":
                    events.extend(_whole(blocks, BlockKind.TEXT, part, str(part.get("text") or "")))
                else:
                    events.extend(_whole(blocks, BlockKind.OTHER, part))
                blocks += 1
            continue
        kind = ITEM_KINDS.get(str(item.get("type")), BlockKind.OTHER)
        if kind is BlockKind.TOOL_CALL:
            call = ToolCall(str(item.get("call_id", "")), str(item.get("name", "")), "")
            events.extend(_whole(blocks, kind, item, str(item.get("arguments") or ""), call=call))
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
) -> list[CallEvent]:
    events: list[CallEvent] = [BlockStart(index, kind, tool_call=call, data=data)]
    if text:
        events.append(BlockDelta(index, kind, text=text))
    if signature is not None:
        events.append(BlockDelta(index, kind, signature=signature))
    if call is not None:
        block = Block(kind, tool_call=ToolCall(call.id, call.name, text or "{}"), data=data)
    else:
        block = Block(kind, text=text, signature=signature, data=data)
    return [*events, BlockComplete(index, block)]


def body_output(events: list[CallEvent], parents: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """A non-streaming response's `output` list for the blocks in `events`.

    Consecutive parts of one upstream message item stay in one item; any other part opens a new
    message item. Ids are kept unless already used in the list, then replaced by fresh ones.
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
        calls = any(as_dict(item).get("type") == "function_call" for item in output) if output else saw_call
        reason, provider = (StopReason.TOOL_USE if calls else StopReason.END_TURN), None
    usage = as_dict(response.get("usage"))
    normalized = None
    if usage:
        normalized = Usage(input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"))
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
