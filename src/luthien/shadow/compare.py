"""A shadow's run compared with what the client was actually sent: its `ShadowResult`.

What the shadow would have sent is assembled exactly like a record's final response (a stream into
the whole message its API returns without streaming), then compared as JSON with the response the
client got: equal is `same`; different is `would_block` when the shadow recorded `policy.blocked`,
else `would_change`. A request the shadow would have changed is `would_change` too. A shadow that
raised, was stopped at the timeout or fell behind is `error`; so is one whose stream ended in an
error the client's did not (its policy failed mid-stream).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from luthien.activity.log import CallActivity
from luthien.policy.base import BLOCKED_EVENT
from luthien.policy.runner import PolicyFailure
from luthien.records.assemble import assemble_stream
from luthien.records.content import parse_json_object
from luthien.records.model import RecordedEvent, ShadowOutcome, ShadowResult, TransactionRecord

ERROR_TEXT_CHARS = 500
OVERFLOW_MESSAGE = "fell too far behind the call and was dropped"
TIMEOUT_MESSAGE = "was still running when the shadow timeout expired"
TOO_LARGE_MESSAGE = "its response was larger than LUTHIEN_MAX_RECORD_RESPONSE_BYTES: not kept, not compared"


@dataclass(slots=True)
class ShadowOutput:
    """What a shadow produced.

    Attributes:
        request: the request it would have forwarded, when it differs from the client's.
        body: its whole response (non-streaming calls).
        chunks: its stream, chunk by chunk (streaming calls).
        too_large: its stream grew past `LUTHIEN_MAX_RECORD_RESPONSE_BYTES`, so none of it is kept.
    """

    request: bytes | None = None
    body: bytes | None = None
    chunks: list[bytes] | None = field(default=None)
    too_large: bool = False


class RunState(Protocol):
    """What `compare` reads of a shadow's run (`ShadowRunner`)."""

    name: str
    activity: CallActivity
    output: ShadowOutput
    overflowed: bool
    timed_out: bool
    task: asyncio.Task[None]


def _failure(run: RunState) -> str | None:
    """Why the shadow failed, or None."""
    if run.overflowed:
        return OVERFLOW_MESSAGE
    if run.output.too_large:
        return TOO_LARGE_MESSAGE
    if run.timed_out or run.task.cancelled():  # only the timeout cancels a shadow that was fed
        return TIMEOUT_MESSAGE
    error = run.task.exception()
    if error is None:
        return None
    what = f"policy {error.policy_name!r} failed" if isinstance(error, PolicyFailure) else repr(error)
    return what[:ERROR_TEXT_CHARS]


def _same(left: bytes, right: bytes) -> bool:
    """Equal as JSON (key order and spacing aside), or as bytes when either is not JSON."""
    parsed_left, parsed_right = parse_json_object(left), parse_json_object(right)
    both_json = parsed_left is not None and parsed_right is not None
    return parsed_left == parsed_right if both_json else left == right


def _response(run: RunState, client_api: str) -> tuple[bytes | None, str | None]:
    """(the shadow's response as a record stores it, the error its stream ended with)."""
    output = run.output
    if output.chunks is None:
        return output.body, None
    assembly = assemble_stream(client_api, output.chunks)
    message: Any = assembly.message
    raw = b"".join(output.chunks) or None
    return (raw if message is None else orjson.dumps(message)), assembly.error


def compare(run: RunState, record: TransactionRecord, client_api: str) -> ShadowResult:
    """The result of one shadow's run of the call `record` describes."""
    events = tuple(
        RecordedEvent(event.type, event.data, event.policy, event.timestamp) for event in run.activity.events
    )
    failure = _failure(run)
    if failure is not None:
        return ShadowResult(run.name, ShadowOutcome.ERROR, events=events, error=failure)
    response, stream_error = _response(run, client_api)
    if stream_error is not None and stream_error != record.error:
        return ShadowResult(
            run.name, ShadowOutcome.ERROR, events=events, error=stream_error[:ERROR_TEXT_CHARS]
        )
    sent = record.final_response if record.final_response is not None else record.original_response
    changed_response = response is not None and (sent is None or not _same(response, sent))
    final_response = response if changed_response else None
    if not changed_response and run.output.request is None:
        return ShadowResult(run.name, ShadowOutcome.SAME, events=events)
    blocked = any(event.type == BLOCKED_EVENT for event in events)
    outcome = ShadowOutcome.WOULD_BLOCK if blocked and changed_response else ShadowOutcome.WOULD_CHANGE
    return ShadowResult(
        run.name, outcome, final_request=run.output.request, final_response=final_response, events=events
    )
