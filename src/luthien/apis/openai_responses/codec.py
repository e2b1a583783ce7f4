"""OpenAI Responses ↔ normalized events.

Stream mapping (decode; encode is the reverse). Event types are shown without `response.`; blocks
are numbered in the order they start.

| wire event                                         | normalized                                         |
|----------------------------------------------------|----------------------------------------------------|
| `created`                                          | `MessageStart` (data = the response object)        |
| `output_item.added` of a `message`                 | held: joins the origin of its first part's start   |
| `content_part.added` (`output_text` / `refusal`)   | `BlockStart` TEXT / OTHER, one block per part      |
| `output_text.delta`                                | `BlockDelta` text                                  |
| `output_text.done` + `content_part.done`           | `BlockComplete` (+ `output_item.done` if last part) |
| `output_item.added` of a `reasoning` item          | `BlockStart` THINKING (data = the item)            |
| `reasoning_summary_text.delta`/`reasoning_text.delta` | `BlockDelta` text (all parts concatenated)      |
| `output_item.done` of a `reasoning` item           | signature `BlockDelta` (`encrypted_content`) + end |
| `output_item.added` of a tool-call item            | `BlockStart` TOOL_CALL (`openai_responses_tools`)  |
| `function_call_arguments.delta`                    | `BlockDelta` arguments fragment                    |
| `custom_tool_call_input.delta`                     | `BlockDelta` with the event as `data`              |
| `*.done` + `output_item.done` of a tool call       | `BlockComplete` (+ whole arguments delta, note 1)  |
| `output_item.added` / `.done` of passive items     | `BlockStart` / `BlockComplete` OTHER (data = item) |
| an item of an unknown type                         | `UnreadableOutput` (the stream ends with an error) |
| other events of an open block's item or part       | `BlockDelta` with the event as `data`              |
| `completed` / `incomplete` / `failed`              | `MessageEnd` (stop reason, usage; data = event)    |
| `in_progress`, `error`, unknown types, comments    | `Opaque`                                           |
| content events of an item or part that is not open | dropped (a client would add them unread)           |

Note 1: a tool call's arguments arrive as one delta at its end, except a `function_call`'s that
streamed. Stream decoding is `openai_responses_decoder`, encoding `openai_responses_encoder`; this
module adds whole bodies to each. `OpenAIResponsesDecoder` and `OpenAIResponsesEncoder` share no
state: the encoder learns which upstream item a block came from, and a body's template, from the
events' `ResponsesHints` only. Stop reasons: a tool call in the output → TOOL_USE; incomplete
for `max_output_tokens` → MAX_TOKENS; any other incomplete, or failed → OTHER (the reason in
`provider_stop_reason`); else END_TURN. A message item without content parts is one OTHER block
(data = the item).

Encoding keeps the client's view consistent. The encoder numbers `sequence_number` itself and gives
events the `output_index`, `item_id`, `content_index` and `summary_index` of the stream it sends;
once anything of an item changed, its `*.done` events and its entry in the terminal response's
`output` are rebuilt from what was streamed. An upstream event goes out as its raw bytes exactly when
none of this changes it. A synthesized part continues (or reopens) the upstream message its `data`
came from, else opens a message of its own; a synthesized item keeps the id in its `data` unless that
id was already sent, else gets a fresh one (`msg_...`, `rs_...`, `fc_...`). A tool call is
written back in its own item type.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from luthien.apis.openai_responses import items
from luthien.apis.openai_responses.decoder import ResponsesStreamDecoder
from luthien.apis.openai_responses.encoder import ResponsesStreamEncoder
from luthien.apis.openai_responses.items import ResponsesHints, as_dict
from luthien.call.codec import CodecPair, body_events, is_unchanged_body
from luthien.call.events import CallEvent, MessageEnd, MessageStart, hints_of
from luthien.wire.events import RESPONSE_BODY, WireEvent


class OpenAIResponsesDecoder(ResponsesStreamDecoder):
    """Decodes one OpenAI Responses call, streamed or whole (see the module docstring)."""

    def decode_body(self, body: WireEvent) -> list[CallEvent]:
        """See `CallDecoder.decode_body`."""
        response = as_dict(body.data)
        hints = ResponsesHints(body=body)
        end = items.message_end(str(response.get("status")), response, False)
        events: list[CallEvent] = [
            MessageStart(
                str(response.get("id", "")), str(response.get("model", "")), data=response, hints=hints
            ),
            *items.body_events(items.as_list(response.get("output"))),
            dataclasses.replace(end, hints=hints),
        ]
        return body_events(body, events)


class OpenAIResponsesEncoder(ResponsesStreamEncoder):
    """Encodes one OpenAI Responses call, streamed or whole, from the events alone."""

    def encode_body(self, events: list[CallEvent]) -> WireEvent:
        """See `CallEncoder.encode_body`."""
        body: WireEvent | None = None
        parents: dict[int, dict[str, Any]] = {}  # id(part) → its upstream message item
        for event in events:
            hints = hints_of(event, ResponsesHints)
            if hints is None:
                continue
            if body is None:
                body = hints.body
            if hints.source is not None and hints.item is not None:
                parents[id(hints.source)] = hints.item
        if body is not None and is_unchanged_body(body, events):
            return body
        response = copy.deepcopy(as_dict(body.data)) if body is not None else items.minimal_response()
        response["output"] = items.body_output(events, parents)
        for event in events:
            if isinstance(event, MessageStart):
                response.update(id=event.message_id, model=event.model)
            elif isinstance(event, MessageEnd):
                original = f"response.{response.get('status')}"
                event_type = items.terminal_type(event, original)
                response = items.finished_response(response, event_type, event, response["output"])
        return WireEvent(RESPONSE_BODY, response)


class OpenAIResponsesCodec(CodecPair):
    """One OpenAI Responses call's decoder and encoder, which share no state."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(OpenAIResponsesDecoder(), OpenAIResponsesEncoder())
