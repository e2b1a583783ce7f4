"""Converting between records and table rows (`transactions`, `events`, `shadows`), both ways."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Row

from luthien.records.model import (
    RecordedEvent,
    ShadowOutcome,
    ShadowResult,
    Timing,
    TransactionRecord,
    TransactionStatus,
    Usage,
)
from luthien.records.query import TransactionSummary
from luthien.storage.extract import Extracted
from luthien.storage.schema import BodyKind, shadow_body_kind, shadow_of_body_kind, transactions

# The columns a list reads: everything but the search text.
SUMMARY_COLUMNS = tuple(column for column in transactions.c if column.name != "search_text")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _text(value: str) -> str:
    """`value` storable in any text column: PostgreSQL text cannot hold NUL characters."""
    return value.replace("\x00", "\ufffd")


def _optional_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def distinct_event_types(events: Sequence[RecordedEvent]) -> list[str]:
    """Event types in order of first occurrence."""
    return list(dict.fromkeys(event.type for event in events))


def transaction_row(record: TransactionRecord, extracted: Extracted) -> dict[str, Any]:
    """The `transactions` row of `record` (without `pk`)."""
    timing, usage = record.timing, record.usage
    return {
        "transaction_id": _text(record.transaction_id),
        "session_id": _optional_text(record.session_id),
        "client_api": _text(record.client_api),
        "endpoint": _text(record.endpoint),
        "model": _optional_text(record.model),
        "upstream": _optional_text(record.upstream),
        "policy": _optional_text(record.policy),
        "status": record.status.value,
        "http_status": record.http_status,
        "streaming": record.streaming,
        "received_at": timing.received_at,
        "upstream_first_byte_at": timing.upstream_first_byte_at,
        "first_token_at": timing.first_token_at,
        "ended_at": timing.ended_at,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_creation_tokens": usage.cache_creation_tokens,
        "request_headers": _dumps(record.request_headers),
        "tool_names": _dumps(extracted.tool_names),
        "event_types": _dumps(distinct_event_types(record.events)),
        "preview": _text(extracted.preview),
        "error": _optional_text(record.error),
        "search_text": _text(extracted.search_text),
        "shadow_disagreed": record.shadow_disagreed,
    }


def _event_json(event: RecordedEvent) -> dict[str, Any]:
    return {"type": event.type, "policy": event.policy, "timestamp": event.timestamp, "data": event.data}


def shadow_rows(shadows: Sequence[ShadowResult]) -> list[dict[str, Any]]:
    """The `shadows` rows of a record, in order (the writer adds `transaction_pk`)."""
    return [
        {
            "seq": seq,
            "name": _text(shadow.name),
            "outcome": shadow.outcome.value,
            "error": _optional_text(shadow.error),
            "events": _text(_dumps([_event_json(event) for event in shadow.events])),
        }
        for seq, shadow in enumerate(shadows)
    ]


def event_rows(events: Sequence[RecordedEvent]) -> list[dict[str, Any]]:
    """The `events` rows of a record, in order (the writer adds `transaction_pk`)."""
    return [
        {
            "seq": seq,
            "type": _text(event.type),
            "policy": _optional_text(event.policy),
            "timestamp": event.timestamp,
            "data": _dumps(event.data),
        }
        for seq, event in enumerate(events)
    ]


def record_bodies(record: TransactionRecord) -> list[tuple[int, bytes]]:
    """The bodies a record has, by `bodies.kind` (absent ones are not stored), shadows' included."""
    candidates: list[tuple[int, bytes | None]] = [
        (BodyKind.ORIGINAL_REQUEST, record.original_request),
        (BodyKind.FINAL_REQUEST, record.final_request),
        (BodyKind.ORIGINAL_RESPONSE, record.original_response),
        (BodyKind.FINAL_RESPONSE, record.final_response),
    ]
    for seq, shadow in enumerate(record.shadows):
        candidates.append((shadow_body_kind(seq, response=False), shadow.final_request))
        candidates.append((shadow_body_kind(seq, response=True), shadow.final_response))
    return [(kind, body) for kind, body in candidates if body is not None]


def _usage(row: Row[Any]) -> Usage:
    return Usage(
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_creation_tokens=row.cache_creation_tokens,
    )


def _timing(row: Row[Any]) -> Timing:
    return Timing(
        received_at=row.received_at,
        upstream_first_byte_at=row.upstream_first_byte_at,
        first_token_at=row.first_token_at,
        ended_at=row.ended_at,
    )


def summary_from_row(row: Row[Any]) -> TransactionSummary:
    """A list entry from a `transactions` row."""
    timing = _timing(row)
    return TransactionSummary(
        transaction_id=row.transaction_id,
        session_id=row.session_id,
        client_api=row.client_api,
        model=row.model,
        upstream=row.upstream,
        policy=row.policy,
        status=TransactionStatus(row.status),
        http_status=row.http_status,
        streaming=row.streaming,
        received_at=row.received_at,
        duration_ms=timing.duration_ms,
        time_to_first_token_ms=timing.time_to_first_token_ms,
        usage=_usage(row),
        tool_names=tuple(orjson.loads(row.tool_names)),
        event_types=tuple(orjson.loads(row.event_types)),
        preview=row.preview,
        shadow_disagreed=row.shadow_disagreed,
    )


def _shadows(rows: Sequence[Row[Any]], bodies: Mapping[int, bytes]) -> tuple[ShadowResult, ...]:
    shadow_bodies: dict[tuple[int, bool], bytes] = {}
    for kind, body in bodies.items():
        position = shadow_of_body_kind(kind)
        if position is not None:
            shadow_bodies[position] = body
    return tuple(
        ShadowResult(
            name=row.name,
            outcome=ShadowOutcome(row.outcome),
            final_request=shadow_bodies.get((row.seq, False)),
            final_response=shadow_bodies.get((row.seq, True)),
            events=tuple(
                RecordedEvent(event["type"], event["data"], event["policy"], event["timestamp"])
                for event in orjson.loads(row.events)
            ),
            error=row.error,
        )
        for row in rows
    )


def record_from_row(
    row: Row[Any],
    events: Sequence[Row[Any]],
    bodies: Mapping[int, bytes],
    shadows: Sequence[Row[Any]] = (),
) -> TransactionRecord:
    """A whole record from its rows: `transactions`, `events` and `shadows` in order, bodies by kind."""
    return TransactionRecord(
        transaction_id=row.transaction_id,
        session_id=row.session_id,
        client_api=row.client_api,
        endpoint=row.endpoint,
        model=row.model,
        upstream=row.upstream,
        policy=row.policy,
        status=TransactionStatus(row.status),
        http_status=row.http_status,
        streaming=row.streaming,
        timing=_timing(row),
        usage=_usage(row),
        request_headers=orjson.loads(row.request_headers),
        original_request=bodies.get(BodyKind.ORIGINAL_REQUEST, b""),
        final_request=bodies.get(BodyKind.FINAL_REQUEST),
        original_response=bodies.get(BodyKind.ORIGINAL_RESPONSE),
        final_response=bodies.get(BodyKind.FINAL_RESPONSE),
        events=tuple(
            RecordedEvent(
                type=event.type, data=orjson.loads(event.data), policy=event.policy, timestamp=event.timestamp
            )
            for event in events
        ),
        error=row.error,
        shadows=_shadows(shadows, bodies),
    )
