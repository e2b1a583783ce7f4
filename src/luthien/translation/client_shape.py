"""The client API's form of what has no common normalized form: refusals and usage.

Foreign events (`luthien.translation.foreign`) say what a response means; most of it every encoder
writes from the normalized events alone. What remains is written by the client API's `ClientShape`
(`apis/<name>/shape.py`, listed in `luthien.apis.registry`), on the encoding side, after the policy
and the repairer:

- a refusal block (OTHER, `data` `REFUSAL`): Chat writes it as its `refusal` field as it is; Responses
  as a `refusal` content part (its pieces as `response.refusal.delta` payloads, its end with the
  whole refusal); Anthropic, which has no refusal block, as text, and the plain stop as `refusal`;
- the response object of a Responses client (`response.created`, the terminal event, a body) has
  every field the API documents, none of which the upstream's answer supplies;
- usage: Anthropic's `message_delta` carries input, output and cache counts; Chat gets the usage
  chunk (`choices: []`) before `[DONE]` when it asked for one, and
  `prompt_tokens_details.cached_tokens`; Responses gets `input_tokens_details.cached_tokens` in the
  terminal response.
"""

from __future__ import annotations

from typing import Any, cast

from luthien.call.events import (
    BlockComplete,
    BlockDelta,
    BlockKind,
    BlockStart,
    CallEvent,
    MessageEnd,
    MessageStart,
    Usage,
)
from luthien.translation.foreign import is_refusal
from luthien.wire.events import WireEvent


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


class ClientShape:
    """Writes one call's refusals and usage in the client's form; each API overrides the hooks it needs.

    The hooks get only the events they concern (the blocks of a refusal, the message's start and
    end); by default every hook returns what it was given.
    """

    def __init__(self, usage_chunk: bool = True) -> None:
        """Set up for one call.

        Args:
            usage_chunk: whether the client asked for its stream's usage (Chat sends the usage chunk
                only to a client that asked, with `stream_options.include_usage`; the other APIs
                always carry usage).
        """
        self.usage_chunk = usage_chunk
        self.refusals: set[int] = set()

    def event(self, event: CallEvent) -> CallEvent:
        """`event` as the client's encoder must receive it."""
        match event:
            case BlockStart() if event.kind is BlockKind.OTHER and is_refusal(event.data):
                self.refusals.add(event.index)
                return self.refusal_start(event)
            case BlockDelta() if event.index in self.refusals and event.text:
                return self.refusal_delta(event)
            case BlockComplete() if event.index in self.refusals:
                return self.refusal_complete(event)
            case MessageStart():
                return self.message_start(event)
            case MessageEnd():
                return self.message_end(event)
            case _:
                return event

    def refusal_start(self, event: BlockStart) -> CallEvent:
        """The start of a refusal block."""
        return event

    def refusal_delta(self, event: BlockDelta) -> CallEvent:
        """A piece of a refusal's text."""
        return event

    def refusal_complete(self, event: BlockComplete) -> CallEvent:
        """The end of a refusal block, with the whole refusal."""
        return event

    def message_start(self, event: MessageStart) -> CallEvent:
        """The response's start."""
        return event

    def message_end(self, event: MessageEnd) -> CallEvent:
        """The response's end (its usage in the upstream's counts, already in the client's sense)."""
        return event

    def wire(self, event: CallEvent, wire: list[WireEvent]) -> list[WireEvent]:
        """The encoder's output for `event`, with the usage the client's form adds."""
        return wire

    def body(self, body: WireEvent, usage: Usage | None) -> WireEvent:
        """A whole body with the usage the client's form adds."""
        return body
