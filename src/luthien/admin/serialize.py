"""Records, summaries and sessions as the admin API's JSON.

A transaction's detail groups the request and the response, each with its original and final
version (parsed JSON; text when a body is not JSON) and their structured diff (`luthien.admin.diff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from luthien.admin.diff import Change, json_diff
from luthien.records.model import RecordedEvent, ShadowResult, Timing, TransactionRecord
from luthien.records.query import SessionSummary, TransactionSummary
from luthien.records.summary import summary_fields, usage_fields

MAX_DIFF_CHANGES = 2000
"""Changes listed per body; past this the diff is cut and marked `diff_truncated`."""


def parse_body(body: bytes | None) -> Any:
    """A stored body as JSON when it parses, else as text (None when there is no body)."""
    if body is None:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", errors="replace")


def timing_json(timing: Timing) -> dict[str, float | None]:
    """Timestamps (epoch seconds) and the derived durations (milliseconds)."""
    return {
        "received_at": timing.received_at,
        "upstream_first_byte_at": timing.upstream_first_byte_at,
        "first_token_at": timing.first_token_at,
        "ended_at": timing.ended_at,
        "duration_ms": timing.duration_ms,
        "time_to_first_token_ms": timing.time_to_first_token_ms,
    }


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """One recorded activity event."""
    return {"type": event.type, "data": event.data, "policy": event.policy, "timestamp": event.timestamp}


def summary_json(summary: TransactionSummary) -> dict[str, Any]:
    """One row of a transaction list: the same fields the live feed's `transaction.completed` carries."""
    return summary_fields(summary)


def session_json(session: SessionSummary) -> dict[str, Any]:
    """One agent session of a list."""
    return {
        "session_id": session.session_id,
        "first_at": session.first_at,
        "last_at": session.last_at,
        "transaction_count": session.transaction_count,
        "blocked_count": session.blocked_count,
        "models": list(session.models),
    }


@dataclass(frozen=True, slots=True)
class BodyPair:
    """The original and final version of a request or a response, and how they differ."""

    original: Any
    final: Any
    changed: bool
    changes: list[Change]

    def to_json(self, with_diff: bool) -> dict[str, Any]:
        """`original`, `final`, `changed`, and (`with_diff`) `diff` with `diff_truncated`."""
        out: dict[str, Any] = {"original": self.original, "final": self.final, "changed": self.changed}
        if with_diff:
            out["diff"] = [change.to_json() for change in self.changes[:MAX_DIFF_CHANGES]]
            out["diff_truncated"] = len(self.changes) > MAX_DIFF_CHANGES
        return out


def body_pair(original: bytes | None, final: bytes | None, with_diff: bool = True) -> BodyPair:
    """Pair two stored bodies; a final of None means the original went through unchanged."""
    original_value = parse_body(original)
    if final is None or final == original:
        return BodyPair(original_value, original_value, False, [])
    final_value = parse_body(final)
    changes = json_diff(original_value, final_value) if with_diff else []
    return BodyPair(original_value, final_value, True, changes)


def shadow_json(shadow: ShadowResult, record: TransactionRecord, with_diff: bool = True) -> dict[str, Any]:
    """One shadow policy's result: its outcome, and what it would have sent against what was sent.

    `request` and `response` pair what was actually sent (`original`) with what the shadow would
    have sent (`final`), with their diff.
    """
    sent_request = record.final_request if record.final_request is not None else record.original_request
    sent_response = record.final_response if record.final_response is not None else record.original_response
    return {
        "name": shadow.name,
        "outcome": shadow.outcome.value,
        "disagreed": shadow.disagreed,
        "error": shadow.error,
        "events": [event_json(event) for event in shadow.events],
        "request": body_pair(sent_request, shadow.final_request, with_diff).to_json(with_diff),
        "response": body_pair(sent_response, shadow.final_response, with_diff).to_json(with_diff),
    }


def record_json(record: TransactionRecord, with_diff: bool = True) -> dict[str, Any]:
    """A whole transaction: its fields, both versions of request and response, and their diffs."""
    request = body_pair(record.original_request, record.final_request, with_diff)
    response = body_pair(record.original_response, record.final_response, with_diff)
    return {
        "transaction_id": record.transaction_id,
        "session_id": record.session_id,
        "client_api": record.client_api,
        "endpoint": record.endpoint,
        "model": record.model,
        "upstream": record.upstream,
        "policy": record.policy,
        "status": record.status.value,
        "blocked": record.blocked,
        "http_status": record.http_status,
        "streaming": record.streaming,
        "timing": timing_json(record.timing),
        "usage": usage_fields(record.usage),
        "request_headers": record.request_headers,
        "events": [event_json(event) for event in record.events],
        "error": record.error,
        "request": request.to_json(with_diff),
        "response": response.to_json(with_diff),
        "shadow_disagreed": record.shadow_disagreed,
        "shadows": [shadow_json(shadow, record, with_diff) for shadow in record.shadows],
    }
