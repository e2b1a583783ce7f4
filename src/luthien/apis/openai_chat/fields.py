"""OpenAI Chat Completions wire vocabulary shared by the Chat decoder, encoder and body codec.

Field names, the `finish_reason` ↔ `StopReason` mapping, usage, tool-call objects, the choice a
policy sees, how text blocks join into Chat's one `content` string, and `ChatHints`: what the
decoder notes on events for the encoder (the two share nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

import orjson

from luthien.apis.openai_chat.api import CHAT_CHUNK, OPENAI_CHAT
from luthien.call.codec import UnreadableOutput
from luthien.call.events import Block, BlockKind, MessageEnd, StopReason, ToolCall, Usage, WireHints
from luthien.wire.events import WireEvent

CHUNK = CHAT_CHUNK
REASONING_KEYS = ("reasoning_content", "reasoning")
BLOCK_KEYS = frozenset({"content", "refusal", "tool_calls", *REASONING_KEYS})
"""Delta / message fields that carry blocks."""
BASE_KEYS = frozenset(
    {"id", "object", "created", "model", "service_tier", "system_fingerprint", "choices", "usage"}
)
"""Chunk fields a synthesized chunk copies from the stream's first chunk."""
REFUSAL: dict[str, Any] = {"type": "refusal"}
"""`data` of the OTHER block a `refusal` field becomes."""
CONTENT: dict[str, Any] = {"type": "content"}
"""`data` of a TEXT block decoded from the `content` field: the model's own text."""
CUSTOM_TOOL = "custom"
"""`type` of a custom tool call: `custom: {name, input}` with free-form input instead of `function`."""
UNREADABLE_TOOL_MESSAGE = "upstream sent a tool call of type {type!r}, which Luthien cannot read"
TEXT_BLOCK_SEPARATOR = "\n\n"
"""Between two text blocks of one message, which Chat carries as one content string, unless both are
pieces of the model's own content (which is one string upstream too)."""
_FINISH = {
    "stop": StopReason.END_TURN,
    "tool_calls": StopReason.TOOL_USE,
    "length": StopReason.MAX_TOKENS,
    "content_filter": StopReason.REFUSAL,
}
_FINISH_OUT = {reason: value for value, reason in _FINISH.items()}


@dataclass(frozen=True, slots=True)
class ChatHints(WireHints):
    """What the Chat decoder notes on an event for the Chat encoder (defaults: nothing noted).

    Attributes:
        tool_index: on a tool call's `BlockStart` and deltas, the call's wire `index` (raw chunks
            go out only when it is the index the client must see).
        reasoning_keys: on a THINKING block's events, the delta field(s) the upstream sends
            reasoning in (`reasoning_content`, `reasoning`), which re-serialized pieces use too.
        trailer: on `MessageEnd`, the chunks after the finish chunk (usage).
        done: on `MessageEnd`, the upstream's `[DONE]`, if it sent one.
        ended_without_done: on `MessageEnd`, the stream ended after its finish chunk but before
            `[DONE]` (so the encoder does not make one up).
        usage: on `MessageEnd`, the last usage the upstream reported (a different one is patched
            into the trailer).
        body: on a whole body's `MessageStart` and `MessageEnd`, the body they were decoded from
            (the template of a rebuilt one).
    """

    api: ClassVar[str] = OPENAI_CHAT.name
    tool_index: int | None = None
    reasoning_keys: tuple[str, ...] = ()
    trailer: tuple[WireEvent, ...] = ()
    done: WireEvent | None = None
    ended_without_done: bool = False
    usage: Usage | None = None
    body: WireEvent | None = None


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty one."""
    return cast(list[Any], value) if isinstance(value, list) else []


def is_first_choice(choice: Any) -> bool:
    """Whether a `choices` entry is choice 0 (a missing `index` counts as 0)."""
    return as_dict(choice).get("index", 0) == 0


def first_choice(data: Any) -> dict[str, Any] | None:
    """Choice 0 of a chunk or completion, if it has one."""
    for choice in as_list(as_dict(data).get("choices")):
        if is_first_choice(choice):
            return as_dict(choice)
    return None


def readable_part(data: Any) -> dict[str, Any] | None:
    """`data` cut to what a policy reads; None when nothing had to be cut.

    A policy reads the first choice 0, and tool calls from `tool_calls`. Whatever else an upstream
    puts in `choices` (other choices, although `n` > 1 is refused; a second entry for choice 0, which
    a client would merge into it) and a legacy `function_call` (the deprecated `functions` API, whose
    requests are refused while a policy inspects responses) must not reach the client unread.
    """
    payload = as_dict(data)
    choices = as_list(payload.get("choices"))
    kept = [as_dict(choice) for choice in choices if is_first_choice(choice)][:1]
    legacy = [
        key for choice in kept for key in ("delta", "message") if "function_call" in as_dict(choice.get(key))
    ]
    if len(kept) == len(choices) and not legacy:
        return None
    for key in legacy:
        kept[0] = {**kept[0], key: {k: v for k, v in as_dict(kept[0][key]).items() if k != "function_call"}}
    return {**payload, "choices": kept}


def stop_reason(value: Any) -> StopReason:
    """Normalize a `finish_reason` (a missing one counts as a plain stop)."""
    return StopReason.END_TURN if value is None else _FINISH.get(str(value), StopReason.OTHER)


def finish_reason(event: MessageEnd) -> str:
    """The `finish_reason` for a normalized end."""
    if event.stop_reason is StopReason.OTHER:
        return event.provider_stop_reason or "stop"
    return _FINISH_OUT.get(event.stop_reason, "stop")


def usage_of(value: Any) -> Usage | None:
    """The normalized usage of a `usage` object, if it has one."""
    usage = as_dict(value)
    if not usage:
        return None
    cached = as_dict(usage.get("prompt_tokens_details")).get("cached_tokens")
    return Usage(
        input_tokens=usage.get("prompt_tokens"),
        output_tokens=usage.get("completion_tokens"),
        cache_read_input_tokens=cached if isinstance(cached, int) else None,
    )


def patched_usage(value: Any, usage: Usage) -> dict[str, Any]:
    """A `usage` object with the token counts of `usage` (and a total that adds up)."""
    patched = dict(as_dict(value))
    if usage.input_tokens is not None:
        patched["prompt_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        patched["completion_tokens"] = usage.output_tokens
    if isinstance(patched.get("prompt_tokens"), int) and isinstance(patched.get("completion_tokens"), int):
        patched["total_tokens"] = patched["prompt_tokens"] + patched["completion_tokens"]
    return patched


def is_refusal(data: dict[str, Any] | None) -> bool:
    """Whether a block's `data` marks it as the `refusal` field."""
    return data is not None and data.get("type") == "refusal"


def is_content(data: dict[str, Any] | None) -> bool:
    """Whether a block's `data` marks it as (a piece of) the model's `content` field."""
    return data is not None and data.get("type") == CONTENT["type"]


def is_custom(entry: dict[str, Any] | None) -> bool:
    """Whether a tool-call entry (or a block's `data`) is a custom (free-form input) tool call."""
    return entry is not None and (entry.get("type") == CUSTOM_TOOL or "custom" in entry)


def check_tool_entry(entry: dict[str, Any]) -> None:
    """Refuse a tool call of a type Luthien cannot interpret.

    Raises:
        UnreadableOutput: for a `type` other than `function` or `custom`.
    """
    if entry.get("type") not in (None, "function", CUSTOM_TOOL):
        raise UnreadableOutput(UNREADABLE_TOOL_MESSAGE.format(type=str(entry.get("type"))[:60]))


def custom_arguments(text: str) -> str:
    """A custom tool call's arguments, in the normalized view, for its free-form input."""
    return orjson.dumps({"input": text}).decode("utf-8")


def custom_input(call: ToolCall) -> str:
    """The free-form input of a custom tool call's arguments (the arguments text when not the view)."""
    value = call.parsed_arguments
    text = value.get("input") if value is not None else None
    return text if isinstance(text, str) else call.arguments


def tool_json(call: ToolCall, template: dict[str, Any], arguments: str) -> dict[str, Any]:
    """A tool-call object (stream entry or message entry) from the provider's one as a template.

    A custom call carries `arguments` (the normalized view) as its `custom.input`.
    """
    if is_custom(template):
        text = custom_input(ToolCall(call.id, call.name, arguments)) if arguments else ""
        custom = {**as_dict(template.get("custom")), "name": call.name, "input": text}
        return {**template, "id": call.id, "type": CUSTOM_TOOL, "custom": custom}
    function = {**as_dict(template.get("function")), "name": call.name, "arguments": arguments}
    return {**template, "id": call.id, "type": template.get("type", "function"), "function": function}


def joined_text(blocks: list[Block]) -> str | None:
    """Chat's one `content` string for the text blocks of a message (None when there is none).

    Consecutive pieces of the model's content join as they are; any other text block is set off by
    `TEXT_BLOCK_SEPARATOR`, so e.g. a blocked-tool message does not run into the model's sentence.
    """
    out: list[str] = []
    previous_content = False
    for block in blocks:
        if block.kind is not BlockKind.TEXT or not block.text:
            continue
        content = is_content(block.data)
        if out and not (content and previous_content):
            out.append(TEXT_BLOCK_SEPARATOR)
        out.append(block.text)
        previous_content = content
    return "".join(out) if out else None
