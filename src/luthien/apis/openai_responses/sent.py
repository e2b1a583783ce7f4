"""OpenAI Responses: each output item as the client receives it.

`SentItem` follows one output item through the stream sent (`track` applies every event sent, text
deltas, arguments and annotations included), renumbers upstream events to that stream and builds the
events the encoder synthesizes, so `*.done` events, item ids and the terminal response's `output`
match what was actually streamed. Annotations are kept on their part as the upstream sent them; their
offsets are not adjusted to text a policy changed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, cast

from luthien.apis.openai_responses import tools
from luthien.apis.openai_responses.items import (
    ANNOTATION_ADDED,
    ARGUMENTS_DELTA,
    ARGUMENTS_DONE,
    ITEM_ADDED,
    ITEM_DONE,
    PART_ADDED,
    PART_DONE,
    REASONING_DELTA,
    REASONING_DONE,
    REFUSAL_DELTA,
    REFUSAL_DONE,
    SUMMARY_DELTA,
    SUMMARY_DONE,
    SUMMARY_PART_ADDED,
    SUMMARY_PART_DONE,
    TEXT_DELTA,
    TEXT_DONE,
    as_dict,
    as_list,
)


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
        if item.get("type") in ("message", *tools.TOOL_ITEMS) or "status" in item:
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
        if not self.modified and self._disagrees(payload):
            # An upstream whose `*.done` values are not what it streamed: the client must get what
            # the policy saw (the deltas), never values no policy read.
            self.modified = True
        if self.modified:
            self._patch_done(payload)

    def _disagrees(self, payload: dict[str, Any]) -> bool:
        """Whether a `*.done` event says something other than what was streamed for this item."""
        kind = "summary" if "summary_index" in payload else "content"
        part = self.part(kind, payload.get(f"{kind}_index"))
        event_type = payload.get("type")
        if event_type in (TEXT_DONE, REASONING_DONE, SUMMARY_DONE):
            return payload.get("text") != part.get("text")
        if event_type == REFUSAL_DONE:
            return payload.get("refusal") != part.get("refusal")
        if event_type in (PART_DONE, SUMMARY_PART_DONE):
            done = as_dict(payload.get("part"))
            return any(
                done.get(key) != part.get(key) for key in ("text", "refusal") if key in done or key in part
            )
        if event_type == ARGUMENTS_DONE:
            return payload.get("arguments") != self.item.get("arguments")
        if event_type == tools.INPUT_DONE:
            return payload.get("input") != self.flush().get("input")
        if event_type == ITEM_DONE:
            return content_view(as_dict(payload.get("item"))) != content_view(self.item)
        return False

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
        elif event_type == tools.INPUT_DONE:
            payload["input"] = str(self.flush().get("input") or "")
        elif event_type == ITEM_DONE:
            self.flush()
            item = {**as_dict(payload.get("item")), "id": self.id}
            keys = {
                "message": ("content",),
                "reasoning": ("summary", "content"),
                "function_call": ("arguments", "name", "call_id"),
                "custom_tool_call": ("input", "name", "call_id"),
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
        if event_type in (ARGUMENTS_DELTA, tools.INPUT_DELTA):
            self._append(self.item, "arguments" if event_type == ARGUMENTS_DELTA else "input", delta)
            return
        if event_type == ANNOTATION_ADDED:
            if part:
                self._annotate(part, payload)
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
        elif event_type == tools.INPUT_DONE:
            self.item["input"] = str(payload.get("input", ""))
        elif event_type == ITEM_DONE:
            self.item = copy.deepcopy(as_dict(payload.get("item")))
            self.done, self.open_part = True, None

    @staticmethod
    def _annotate(part: dict[str, Any], payload: dict[str, Any]) -> None:
        """Record an annotation on its part, at its `annotation_index` (appended when out of range)."""
        annotations = part.get("annotations")
        if not isinstance(annotations, list):
            annotations = part["annotations"] = []
        listed = cast(list[Any], annotations)
        annotation = copy.deepcopy(payload.get("annotation"))
        index = payload.get("annotation_index")
        if isinstance(index, int) and 0 <= index < len(listed):
            listed[index] = annotation
        else:
            listed.append(annotation)


def content_view(item: dict[str, Any]) -> Any:
    """What a client acts on in an output item: compared to keep `*.done` and `output` honest."""
    item_type = item.get("type")
    if tools.is_tool_item(item):
        return (item_type, tools.call_of(item))
    if item_type in ("message", "reasoning"):
        parts = map(as_dict, [*as_list(item.get("summary")), *as_list(item.get("content"))])
        return (item_type, [(part.get("type"), part.get("text"), part.get("refusal")) for part in parts])
    return item


def _kept(item: SentItem, final: dict[str, Any] | None) -> bool:
    """Whether the upstream's final form of an item may be sent: unchanged, and what was streamed."""
    return not item.modified and final is not None and content_view(final) == content_view(item.flush())


def diverges(sent: list[SentItem], upstream: Any) -> bool:
    """Whether an upstream's final `output` lists other items, or says other things, than were sent."""
    final = [as_dict(item) for item in as_list(upstream)]
    if [str(item.get("id")) for item in final] != [item.id for item in sent]:
        return True
    return not all(_kept(item, entry) for item, entry in zip(sent, final, strict=True))


def final_output(sent: list[SentItem], upstream: Any) -> list[dict[str, Any]]:
    """The terminal response's `output`: the items sent, in upstream's final form where unchanged."""
    final = {str(item.get("id")): item for item in map(as_dict, as_list(upstream))}
    return [
        final[item.id] if _kept(item, final.get(item.id)) else copy.deepcopy(item.flush()) for item in sent
    ]
