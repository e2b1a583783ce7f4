"""Codex's remote compaction on an upstream that does not speak the Responses API.

Codex (0.171) compacts its context on the server: a streaming `POST /v1/responses` whose `input` is
the whole history ending in exactly `{"type": "compaction_trigger"}`. OpenAI answers with one output
item, `{"id": "cmp_…", "type": "compaction", "encrypted_content": "…"}`, an opaque summary only
OpenAI can read; Codex fails the turn on any other answer, and sends the item back unchanged, after
its developer messages and kept user messages, in every later request.

On a route translated to another API (Anthropic Messages, Chat Completions) this module plays
OpenAI's part with the upstream's own model:

- a request ending in the trigger becomes a request for a summary (`SUMMARY_PROMPT` as the last user
  turn, `tool_choice: none`: the history may hold tool calls, so the tools stay declared);
- the text of the answer (after the policy: it is model output that reaches the client, so the
  response policy runs on it like on any answer) becomes exactly one `compaction` item whose
  `encrypted_content` is the summary sealed in an envelope (`luthien.translation.envelope`) named
  `SUMMARY_ENVELOPE`: streaming (`response.output_item.added`, `.done`, `response.completed`) or not;
- a later request's `compaction` item holding such a summary becomes a user message with the summary
  after `SUMMARY_PREFIX`; a `compaction` item of OpenAI's own cannot be read by another provider and
  is refused (400 naming `input[i].encrypted_content`).

The summary is readable by anyone who holds the conversation, like the rest of it: the envelope only
marks it as Luthien's; it is base64url-encoded so that Codex stores and returns it byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from luthien.translation.envelope import open_envelope, seal
from luthien.translation.request_model import UntranslatableField
from luthien.wire.events import COMMENT, RESPONSE_BODY, WireEvent

if TYPE_CHECKING:
    from luthien.pipeline.stage import ResponseStage

COMPACTION_TRIGGER = "compaction_trigger"
"""The `type` of the input item with which Codex asks for a compaction (always the last item)."""
COMPACTION = "compaction"
"""The `type` of the output item that answers it, and of the input item Codex sends back later."""
SUMMARY_ENVELOPE = "luthien_summary"
"""The name a summary is sealed under: what tells our compaction items from OpenAI's."""
COMPACTION_ID_PREFIX = "cmp_"
_COMPACTION_ID_BYTES = 24
SUMMARY_PROMPT = (
    "Context checkpoint. The conversation above is about to be replaced by a summary, and you will "
    "continue the work from that summary alone. Write it now: the user's requests and constraints, "
    "what has been done so far (files read or changed, commands run and what they showed), the "
    "decisions taken and why, and exactly what remains to do next, with every detail (paths, names, "
    "values, errors) needed to carry on. Answer with the summary only; do not call any tool."
)
"""The last user turn of a compaction request: asks the model for its own continuation summary."""
SUMMARY_PREFIX = (
    "Summary of the conversation so far (the earlier messages were compacted into it; continue from it):\n\n"
)
"""What precedes a summary where a later request carries it back to the model."""

_RESPONSES = "openai_responses"
_CREATED = "response.created"
_IN_PROGRESS = "response.in_progress"
_COMPLETED = "response.completed"
_ITEM_ADDED = "response.output_item.added"
_ITEM_DONE = "response.output_item.done"
_PASSED = frozenset({_CREATED, _IN_PROGRESS, "response.failed", "response.incomplete", "error"})
"""Events of the summary's answer that reach Codex as they are (renumbered): its start, its failure."""


def asks_for_compaction(body: Mapping[str, Any]) -> bool:
    """Whether a Responses request body asks for a compaction (its last input item is the trigger)."""
    items = body.get("input")
    if not isinstance(items, list) or not items:
        return False
    last = cast(list[Any], items)[-1]
    return isinstance(last, dict) and cast(dict[str, Any], last).get("type") == COMPACTION_TRIGGER


def seal_summary(summary: str) -> str:
    """The `encrypted_content` of a compaction item holding `summary`."""
    encoded = base64.urlsafe_b64encode(summary.encode("utf-8")).rstrip(b"=").decode("ascii")
    return seal(SUMMARY_ENVELOPE, encoded)


def open_summary(encrypted_content: str) -> str | None:
    """The summary sealed in a compaction item's `encrypted_content`, or None when it is not ours.

    Raises:
        ValueError: the value is sealed as ours but does not hold a base64url UTF-8 summary.
    """
    sealed = open_envelope(encrypted_content)
    if sealed is None or sealed.api != SUMMARY_ENVELOPE:
        return None
    padded = sealed.token + "=" * (-len(sealed.token) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("not a Luthien summary") from error


def compaction_item(summary: str) -> dict[str, Any]:
    """The `compaction` output item that answers a compaction request with `summary`."""
    return {
        "id": COMPACTION_ID_PREFIX + secrets.token_hex(_COMPACTION_ID_BYTES),
        "type": COMPACTION,
        "encrypted_content": seal_summary(summary),
    }


def translatable_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request body with its compaction items in terms every API has.

    A trailing `compaction_trigger` becomes the request for a summary (`SUMMARY_PROMPT`, tools not
    to be called); each `compaction` item of ours becomes a user message holding its summary. A body
    without either is returned as is (not copied).

    Raises:
        UntranslatableField: a `compaction` item that is not ours (OpenAI's encrypted summary), or
            malformed; a `compaction_trigger` that is not the last item.
    """
    raw_items = body.get("input")
    if not isinstance(raw_items, list):
        return body
    items = cast(list[Any], raw_items)
    kinds = [cast(dict[str, Any], item).get("type") if isinstance(item, dict) else None for item in items]
    if COMPACTION not in kinds and COMPACTION_TRIGGER not in kinds:
        return body
    rewritten: list[Any] = []
    for index, (item, kind) in enumerate(zip(items, kinds, strict=True)):
        field = f"input[{index}]"
        if kind == COMPACTION:
            rewritten.append(_user_text(SUMMARY_PREFIX + _summary_of(cast(dict[str, Any], item), field)))
        elif kind == COMPACTION_TRIGGER:
            if index != len(items) - 1:
                raise UntranslatableField(f"{field}.type", "a compaction_trigger must be the last input item")
            rewritten.append(_user_text(SUMMARY_PROMPT))
        else:
            rewritten.append(item)
    translatable = {**body, "input": rewritten}
    if kinds[-1] == COMPACTION_TRIGGER:
        # The history may hold tool calls and results, which Anthropic reads only with the tools
        # declared: they stay, and the model is told not to call them.
        if translatable.get("tools"):
            translatable["tool_choice"] = "none"
        else:
            translatable.pop("tool_choice", None)
    return translatable


def _summary_of(item: dict[str, Any], field: str) -> str:
    content = item.get("encrypted_content")
    if not isinstance(content, str):
        raise UntranslatableField(
            f"{field}.encrypted_content", "a compaction item needs its encrypted_content"
        )
    try:
        summary = open_summary(content)
    except ValueError:
        raise UntranslatableField(
            f"{field}.encrypted_content", "a compaction sealed by Luthien but not readable"
        ) from None
    if summary is None:
        raise UntranslatableField(
            f"{field}.encrypted_content",
            f"not supported when a {_RESPONSES} request is translated (a compaction made by OpenAI, "
            "which only OpenAI can read; start a new conversation on this route)",
        )
    return summary


def _user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def summary_text(response: dict[str, Any]) -> str:
    """The text of a Responses response object's message items: the summary the model wrote."""
    texts: list[str] = []
    for raw_item in cast(list[Any], response.get("output") or []):
        item = cast(dict[str, Any], raw_item) if isinstance(raw_item, dict) else {}
        if item.get("type") != "message":
            continue
        for raw_part in cast(list[Any], item.get("content") or []):
            part = cast(dict[str, Any], raw_part) if isinstance(raw_part, dict) else {}
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                texts.append(cast(str, part["text"]))
    return "".join(texts)


def compacted_response(response: dict[str, Any]) -> dict[str, Any]:
    """A completed response object whose only output is the compaction of its text."""
    return {**response, "output": [compaction_item(summary_text(response))]}


class CompactionStage:
    """The answer to a compaction request: the upstream's summary, run through `inner`, made an item.

    `inner` is the call's translating stage (with the policy, if any), whose events are in the
    Responses API already. Streaming, the answer's start, keep-alives and any failure reach the
    client as they come (renumbered); its output items are held (`holding`: the gateway then sends
    keep-alives), and a completed answer becomes one `compaction` item.
    """

    passes_through = False

    def __init__(self, inner: ResponseStage) -> None:
        self.inner = inner
        self.holding = False
        """Whether the summary is being held (from its first output event until the answer ends):
        the silence is ours, so the client gets keep-alives (`pipeline/keepalive.py`)."""

    async def process(self, events: AsyncIterator[WireEvent]) -> AsyncIterator[WireEvent]:
        """See `ResponseStage.process`."""
        sequence = 0
        async for event in self.inner.process(events):
            self.holding = event.type not in _PASSED and event.type not in (_COMPLETED, COMMENT)
            if event.type == _COMPLETED:
                data = cast(dict[str, Any], event.data)
                response = compacted_response(cast(dict[str, Any], data["response"]))
                placed: dict[str, Any] = {"output_index": 0, "item": response["output"][0]}
                for kind, fields in (
                    (_ITEM_ADDED, placed),
                    (_ITEM_DONE, placed),
                    (_COMPLETED, {"response": response}),
                ):
                    yield _event(kind, fields, sequence)
                    sequence += 1
            elif event.type in _PASSED:  # JSON objects: their type is their payload's
                yield _event(event.type, cast(dict[str, Any], event.data), sequence)
                sequence += 1
            elif event.type == COMMENT:
                yield event  # a keep-alive: Codex waits for the summary

    async def process_body(self, body: WireEvent) -> WireEvent:
        """See `ResponseStage.process_body`: a completed body's output becomes the compaction item."""
        out = await self.inner.process_body(body)
        data = out.data
        if not isinstance(data, dict) or cast(dict[str, Any], data).get("status") != "completed":
            return out  # an incomplete or failed answer reaches Codex as it is: it fails the turn
        return WireEvent(RESPONSE_BODY, compacted_response(cast(dict[str, Any], data)))


def _event(kind: str, fields: dict[str, Any], sequence: int) -> WireEvent:
    return WireEvent(kind, {**fields, "type": kind, "sequence_number": sequence}, kind)
