"""Building transaction records for storage tests."""

from __future__ import annotations

from typing import Any

import orjson

from luthien.records.model import RecordedEvent, Timing, TransactionRecord, TransactionStatus, Usage

T0 = 1_767_000_000.0


def anthropic_request(prompt: str, history: int = 0) -> bytes:
    messages: list[dict[str, Any]] = []
    for turn in range(history):
        messages.append({"role": "user", "content": f"earlier question {turn}"})
        messages.append(
            {"role": "assistant", "content": [{"type": "text", "text": f"earlier answer {turn}"}]}
        )
    messages.append({"role": "user", "content": [{"type": "text", "text": prompt}]})
    return orjson.dumps({"model": "claude-test", "max_tokens": 100, "messages": messages})


def anthropic_response(text: str, tool: str | None = None, arguments: dict[str, Any] | None = None) -> bytes:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if tool is not None:
        content.append({"type": "tool_use", "id": "toolu_1", "name": tool, "input": arguments or {}})
    return orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": content,
            "stop_reason": "tool_use" if tool else "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
    )


def make_record(index: int = 0, **overrides: Any) -> TransactionRecord:
    """A record with every field set (override any of them)."""
    values: dict[str, Any] = {
        "transaction_id": f"tx-{index:05d}",
        "session_id": f"session-{index % 3}",
        "client_api": "anthropic_messages",
        "endpoint": "/v1/messages",
        "model": "claude-test",
        "upstream": "anthropic",
        "policy": "noop",
        "status": TransactionStatus.OK,
        "http_status": 200,
        "streaming": True,
        "timing": Timing(
            received_at=T0 + index,
            upstream_first_byte_at=T0 + index + 0.25,
            first_token_at=T0 + index + 0.5,
            ended_at=T0 + index + 1.75,
        ),
        "usage": Usage(
            input_tokens=100 + index, output_tokens=20, cache_read_tokens=7, cache_creation_tokens=3
        ),
        "request_headers": {"anthropic-version": "2023-06-01", "user-agent": "test/1.0"},
        "original_request": anthropic_request(f"question number {index}", history=index % 4),
        "final_request": None,
        "original_response": anthropic_response(
            f"answer number {index}", tool="Bash", arguments={"command": "ls"}
        ),
        "final_response": None,
        "events": (
            RecordedEvent(
                type="policy.decision", data={"index": index, "ok": True}, policy="noop", timestamp=T0 + index
            ),
        ),
        "error": None,
    }
    values.update(overrides)
    return TransactionRecord(**values)


async def write_records(engine: Any, records: list[TransactionRecord]) -> None:
    """Store `records` through a real writer, and wait until they are written."""
    from luthien.storage.writer import RecordWriter

    writer = RecordWriter(engine, queue_size=len(records) + 1)
    writer.start()
    for record in records:
        writer.submit(record)
    await writer.close()
    assert writer.stats.written == len(records)
