"""A record's list row: `summarize(record)`, shared by storage (list queries) and the live bus.

`summary_fields` turns a summary into the JSON-ready mapping a `transaction.completed` event and the
admin API carry; `activity_summary` is what a `transaction.activity` event carries of an activity event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from luthien.activity.log import ActivityEvent
from luthien.apis.registry import named
from luthien.call.request import CallRequest
from luthien.policy.base import BLOCKED_EVENT
from luthien.records.content import parse_json_object, preview_of, tool_names_of
from luthien.records.model import TransactionRecord, Usage
from luthien.records.query import TransactionSummary
from luthien.wire.formats import WireFormat


def wire_format_of(client_api: str) -> WireFormat:
    """The API family of a record's `client_api`."""
    return named(client_api).format


def summarize(
    record: TransactionRecord,
    *,
    request_body: Mapping[str, Any] | None = None,
    original_message: dict[str, Any] | None = None,
) -> TransactionSummary:
    """The list row of `record`.

    Its fields without bodies, the tool calls the model made (from the original response), the
    activity event types in order of first occurrence, and a preview of the last user message.

    Args:
        record: the record.
        request_body: the original request already parsed, to skip parsing it again.
        original_message: the original response already parsed (or assembled), likewise.
    """
    body = request_body if request_body is not None else parse_json_object(record.original_request)
    preview = preview_of(CallRequest(wire_format_of(record.client_api), body, None)) if body else ""
    if original_message is None:
        original_message = parse_json_object(record.original_response)
    event_types = tuple(dict.fromkeys(event.type for event in record.events))
    return TransactionSummary(
        transaction_id=record.transaction_id,
        session_id=record.session_id,
        client_api=record.client_api,
        model=record.model,
        upstream=record.upstream,
        policy=record.policy,
        status=record.status,
        http_status=record.http_status,
        streaming=record.streaming,
        received_at=record.timing.received_at,
        duration_ms=record.timing.duration_ms,
        time_to_first_token_ms=record.timing.time_to_first_token_ms,
        usage=record.usage,
        tool_names=tool_names_of(record.client_api, original_message),
        event_types=event_types,
        preview=preview,
        shadow_disagreed=record.shadow_disagreed,
    )


def usage_fields(usage: Usage) -> dict[str, int | None]:
    """Token counts as JSON-ready fields."""
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_creation_tokens": usage.cache_creation_tokens,
    }


def summary_fields(summary: TransactionSummary) -> dict[str, Any]:
    """`summary` as JSON-ready fields (status as its string, usage as a mapping, tuples as lists)."""
    return {
        "transaction_id": summary.transaction_id,
        "session_id": summary.session_id,
        "client_api": summary.client_api,
        "model": summary.model,
        "upstream": summary.upstream,
        "policy": summary.policy,
        "status": summary.status.value,
        "http_status": summary.http_status,
        "streaming": summary.streaming,
        "received_at": summary.received_at,
        "duration_ms": summary.duration_ms,
        "time_to_first_token_ms": summary.time_to_first_token_ms,
        "usage": usage_fields(summary.usage),
        "tool_names": list(summary.tool_names),
        "event_types": list(summary.event_types),
        "preview": summary.preview,
        "shadow_disagreed": summary.shadow_disagreed,
    }


def activity_summary(event: ActivityEvent) -> dict[str, Any]:
    """The small fields of an activity event that a live monitor shows (tool, verdict, probability)."""
    summary: dict[str, Any] = {"event_type": event.type, "policy": event.policy}
    data = event.data
    tool = data.get("tool")
    if isinstance(tool, str):
        summary["tool_name"] = tool
    blocked = data.get("blocked")
    if event.type == BLOCKED_EVENT:
        summary["verdict"] = "block"
    elif isinstance(blocked, bool):
        summary["verdict"] = "block" if blocked else "allow"
    for key in ("probability", "latency_ms"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            summary[key] = value
    return summary
