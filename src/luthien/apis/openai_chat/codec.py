"""OpenAI Chat Completions ↔ normalized events: the decoder and encoder, and whole (non-streaming) bodies.

Chat has no block events: a block is implied by which field of `choices[0].delta` a chunk fills.
Streams are decoded by `openai_chat_decoder` and encoded by `openai_chat_encoder`; the shared field
names and mappings are in `fields`. `OpenAIChatDecoder` and `OpenAIChatEncoder` share no
state: the encoder learns the upstream's wire form only from the events (`origin`, `data`,
`wire_fields`, and `ChatHints`; a body's start and end name the body, a rebuilt body's template).
Only the first choice 0 is interpreted; anything else in `choices` is cut before decoding, never sent
unread.

Stream mapping (decode; encode is the reverse):

| wire (choice 0 of each chunk)        | normalized                                                     |
|--------------------------------------|----------------------------------------------------------------|
| the first chunk                      | `MessageStart` (data: the chunk), then as below                |
| `delta.reasoning_content` / `.reasoning` | THINKING `BlockStart` at the first non-empty piece, deltas |
| `delta.content`                      | TEXT (`data={"type": "content"}`) likewise                     |
| `delta.refusal`                      | OTHER (`data={"type": "refusal"}`) likewise                    |
| `delta.tool_calls[i]`, a new `index` | TOOL_CALL `BlockStart` (data: the entry), `BlockDelta`         |
| `delta.tool_calls[i]`, a known one   | TOOL_CALL `BlockDelta` of that call, whatever came between     |
| a piece of another non-tool field    | first, `BlockComplete` of the open reasoning/content/refusal   |
| finish chunk, trailing chunks, `[DONE]` | its events, every `BlockComplete`, `MessageEnd` (at `[DONE]`) |
| comments, errors, empty deltas       | `Opaque`                                                       |
| `choices` entries but the first 0    | cut (chunk re-serialized); a chunk of only those is dropped    |
| `delta.function_call` (legacy)       | cut likewise: not a tool call a policy reads                   |

Tool calls stay open until the finish chunk: Chat never says a call is over, and its fragments may
interleave with other calls' and with text (which therefore stays one open block across tool calls).
The events decoded from one chunk share `Origin((chunk,), parts=n)`, except leading `BlockComplete`s
(closing blocks earlier chunks carried), which have no wire form: their origins are empty. The finish
chunk and what follows it share one origin with `MessageEnd`.

| `finish_reason`   | `StopReason`                  |
|-------------------|-------------------------------|
| `stop`            | END_TURN (STOP_SEQUENCE, PAUSE_TURN encode as `stop`) |
| `tool_calls`      | TOOL_USE                      |
| `length`          | MAX_TOKENS                    |
| `content_filter`  | REFUSAL                       |
| anything else     | OTHER, the value kept in `provider_stop_reason` |

A non-streaming `chat.completion` maps `choices[0].message` to the same blocks, in the order reasoning,
content, refusal, tool calls. Text blocks join into the one `content` string; text a policy added is
set off by a blank line (`TEXT_BLOCK_SEPARATOR`).

A chunk (or body) whose text a policy changed keeps every other field (`annotations`, ...); its
`logprobs` become null (a body's `logprobs.content`), since they described the model's own tokens.
Annotations keep their offsets. A custom tool call (`type: custom`, `custom: {name, input}`) is a
TOOL_CALL with arguments `{"input": ...}` (its input fragments are data deltas; the arguments come
whole at the finish); a tool call of any other type is refused (`UnreadableOutput`).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from luthien.apis.openai_chat.decoder import ChatStreamDecoder
from luthien.apis.openai_chat.encoder import ChatStreamEncoder
from luthien.apis.openai_chat.fields import (
    CONTENT,
    REASONING_KEYS,
    REFUSAL,
    TEXT_BLOCK_SEPARATOR,
    ChatHints,
    as_dict,
    as_list,
    check_tool_entry,
    custom_arguments,
    finish_reason,
    first_choice,
    is_custom,
    is_refusal,
    joined_text,
    patched_usage,
    readable_part,
    stop_reason,
    tool_json,
    usage_of,
)
from luthien.call.assembly import whole_block_events
from luthien.call.codec import CodecPair, body_events, is_unchanged_body
from luthien.call.events import (
    Block,
    BlockComplete,
    BlockKind,
    CallEvent,
    MessageEnd,
    MessageStart,
    ToolCall,
    hints_of,
)
from luthien.wire.events import RESPONSE_BODY, WireEvent

__all__ = [
    "TEXT_BLOCK_SEPARATOR",
    "OpenAIChatCodec",
    "OpenAIChatDecoder",
    "OpenAIChatEncoder",
    "finish_reason",
    "stop_reason",
]


class OpenAIChatDecoder(ChatStreamDecoder):
    """Decodes one Chat Completions call, streamed or whole (see the module docstring)."""

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode_body`."""
        cut = readable_part(body.data)
        if cut is not None:  # other choices are never sent unread: the body is rebuilt without them
            body = WireEvent(body.type, cut, body.sse_event)
        data = as_dict(body.data)
        choice = first_choice(data) or {}
        message = as_dict(choice.get("message"))
        blocks: list[Block] = []
        reasoning = [message[k] for k in REASONING_KEYS if isinstance(message.get(k), str) and message[k]]
        if reasoning:
            blocks.append(Block(BlockKind.THINKING, text=reasoning[0]))
        if isinstance(message.get("content"), str) and message["content"]:
            blocks.append(Block(BlockKind.TEXT, text=message["content"], data=dict(CONTENT)))
        if isinstance(message.get("refusal"), str) and message["refusal"]:
            blocks.append(Block(BlockKind.OTHER, text=message["refusal"], data=dict(REFUSAL)))
        for entry in map(as_dict, as_list(message.get("tool_calls"))):
            check_tool_entry(entry)
            if is_custom(entry):
                custom = as_dict(entry.get("custom"))
                arguments = custom_arguments(str(custom.get("input") or ""))
                function = custom
            else:
                function = as_dict(entry.get("function"))
                arguments = function.get("arguments")
            call = ToolCall(
                str(entry.get("id") or ""),
                str(function.get("name") or ""),
                arguments if isinstance(arguments, str) and arguments else "{}",
            )
            blocks.append(Block(BlockKind.TOOL_CALL, tool_call=call, data=entry))
        hints = ChatHints(body=body)
        events: list[CallEvent] = [
            MessageStart(str(data.get("id", "")), str(data.get("model", "")), data=data, hints=hints)
        ]
        for index, block in enumerate(blocks):
            events.extend(whole_block_events(index, block))
        reason = choice.get("finish_reason")
        events.append(
            MessageEnd(
                stop_reason(reason),
                provider_stop_reason=reason if isinstance(reason, str) else None,
                usage=usage_of(data.get("usage")),
                hints=hints,
            )
        )
        return body_events(body, events)


class OpenAIChatEncoder(ChatStreamEncoder):
    """Encodes one Chat Completions call, streamed or whole, from the events alone."""

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallEncoder.encode_body`."""
        body = _hinted_body(events)
        if body is not None and is_unchanged_body(body, events):
            return body
        data = copy.deepcopy(as_dict(body.data)) if body is not None else _empty_completion()
        choices = data["choices"] = as_list(data.get("choices")) or _empty_completion()["choices"]
        choice = choices[0] = as_dict(choices[0]) or {"index": 0, "finish_reason": None}
        message = choice["message"] = as_dict(choice.get("message")) or {"role": "assistant"}
        blocks = [event.block for event in events if isinstance(event, BlockComplete)]
        text = joined_text(blocks)
        if text != message.get("content") and isinstance(choice.get("logprobs"), dict):
            choice["logprobs"] = {**choice["logprobs"], "content": None}  # they described other text
        # No text left: null, unless the provider sent an empty or null content.
        message["content"] = text if text is not None else ("" if message.get("content") == "" else None)
        thinking = [b.text for b in blocks if b.kind is BlockKind.THINKING]
        for key in [k for k in REASONING_KEYS if k in message] or (REASONING_KEYS[:1] if thinking else []):
            message[key] = "".join(thinking) if thinking else None
        refusals = [b.text for b in blocks if b.kind is BlockKind.OTHER and is_refusal(b.data)]
        if refusals or "refusal" in message:
            message["refusal"] = "".join(refusals) or None
        calls = [
            tool_json(b.tool_call, as_dict(b.data), b.tool_call.arguments)
            for b in blocks
            if b.kind is BlockKind.TOOL_CALL and b.tool_call is not None
        ]
        if calls:
            message["tool_calls"] = calls
        else:
            message.pop("tool_calls", None)
        for event in events:
            if isinstance(event, MessageStart):
                data.update(id=event.message_id, model=event.model)
            elif isinstance(event, MessageEnd):
                choice["finish_reason"] = finish_reason(event)
                if event.usage is not None and event.usage != usage_of(data.get("usage")):
                    data["usage"] = patched_usage(data.get("usage"), event.usage)
        return WireEvent(RESPONSE_BODY, data)


class OpenAIChatCodec(CodecPair):
    """One Chat Completions call's decoder and encoder, which share no state."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(OpenAIChatDecoder(), OpenAIChatEncoder())


def _hinted_body(events: list[CallEvent]) -> WireEvent | None:
    """The body the events were decoded from, as their hints name it."""
    for event in events:
        hints = hints_of(event, ChatHints)
        if hints is not None and hints.body is not None:
            return hints.body
    return None


def _empty_completion() -> dict[str, Any]:
    return {
        "id": "",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": None}],
    }
