"""Running recorded calls through a policy offline, and comparing with what happened at the time.

Per record, exactly as the gateway runs a call (and as `luthien.evaluation.runner` runs a corpus
item): a `PolicyContext` with its own activity log and the config's `ModelCaller` (so a judge calls
its configured upstream), a `PolicyStage` whose `process_request` sees the recorded request (as
stored: credentials already redacted), and the recorded original response through the real pipeline:
`run_body` for a whole body, `run_stream` for a stream rebuilt from the stored message
(`luthien.replay.rebuild`), assembled back into a message like the recorder does.

Compared with the record:

- **changed**: the replayed final response differs from the recorded final response in content
  (blocks, tool calls, stop reason, as the codec reads them; ids and usage are not compared);
- **tool calls**: a tool call of the original response is *blocked* on a side when a
  `policy.blocked` event names it, or it is missing from that side's final response; newly blocked
  = blocked now, sent at the time; newly allowed = the reverse;
- **error**: the policy failed closed, or the replayed stream ended with an error event.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from luthien.activity.log import ActivityEvent, ActivityLog
from luthien.admin.turns import APIS
from luthien.call.events import BlockComplete, BlockKind, CallEvent, MessageEnd
from luthien.call.request import CallRequest
from luthien.evaluation.runner import DEFAULT_CONCURRENCY, JUDGE_DECISION_EVENT
from luthien.pipeline.run import run_body, run_stream
from luthien.pipeline.stage import PolicyStage, codec_for
from luthien.policy.base import BLOCKED_EVENT, Policy, PolicyContext
from luthien.policy.runner import PolicyFailure
from luthien.records.assemble import assemble_stream
from luthien.records.model import RecordedEvent, TransactionRecord
from luthien.replay.rebuild import NotReplayable, stream_frames
from luthien.upstream.caller import ModelCaller
from luthien.wire.apis import WireApi, response_event
from luthien.wire.errors import GatewayError

TRUNCATED_MARKER = "luthien_response_truncated"

Finished = Callable[[int, "ReplayOutcome"], Awaitable["ReplayOutcome"]]
"""Told each outcome as it is ready, with the record's position in the selection; returns the outcome
to keep in the result (e.g. without the responses of a call that agrees)."""


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """One recorded call replayed through one policy.

    Attributes:
        transaction_id: the record replayed.
        client_api: its API.
        model: the model it asked for.
        streaming: whether it streamed.
        received_at: when it was received (seconds since the epoch).
        policy_then: the policy that served it.
        skipped: why it could not be replayed (no response recorded, truncated, unreadable), or None.
        changed: whether the final response now differs from the one the client received.
        newly_blocked: tool-call names (`name#id`) blocked now that were sent at the time.
        newly_allowed: tool-call names sent now that were blocked at the time.
        error: the replay's failure (the policy failed closed, the stream ended with an error).
        recorded_response: what the client received at the time (assembled for streams).
        replayed_response: what the client would receive now (assembled for streams).
        events: the replay's activity events, as (type, data) pairs.
        judge_calls: `judge.decision` events recorded.
        input_tokens: judge input tokens.
        output_tokens: judge output tokens.
    """

    transaction_id: str
    client_api: str
    model: str | None
    streaming: bool
    received_at: float
    policy_then: str | None
    skipped: str | None = None
    changed: bool = False
    newly_blocked: tuple[str, ...] = ()
    newly_allowed: tuple[str, ...] = ()
    error: str | None = None
    recorded_response: bytes | None = None
    replayed_response: bytes | None = None
    events: tuple[tuple[str, dict[str, Any]], ...] = field(
        default_factory=tuple[tuple[str, dict[str, Any]], ...]
    )
    judge_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def disagrees(self) -> bool:
        """Whether the replay differs from what happened at the time in any way."""
        return self.changed or bool(self.newly_blocked or self.newly_allowed) or self.error is not None


def _json_object(body: bytes | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        value: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _decoded(api: WireApi, body: bytes | None) -> list[CallEvent]:
    data = _json_object(body)
    if data is None or body is None:
        return []
    try:
        return codec_for(api).decode_body(response_event(body, data))
    except Exception:  # content a codec refuses is compared as having no blocks
        return []


def content_of(api: WireApi, body: bytes | None) -> tuple[Any, ...]:
    """A response's content as compared: each block's kind, text and tool call, and the stop reason."""
    parts: list[Any] = []
    for event in _decoded(api, body):
        if isinstance(event, BlockComplete):
            block = event.block
            call = block.tool_call
            arguments = None if call is None else (call.parsed_arguments or call.arguments)
            parts.append(
                (block.kind.value, block.text, None if call is None else (call.id, call.name, arguments))
            )
        elif isinstance(event, MessageEnd):
            parts.append(("end", event.stop_reason.value))
    return tuple(parts)


def tool_calls_of(api: WireApi, body: bytes | None) -> dict[str, str]:
    """Tool-call id → name, for the tool calls in a response."""
    calls: dict[str, str] = {}
    for event in _decoded(api, body):
        if isinstance(event, BlockComplete) and event.block.kind is BlockKind.TOOL_CALL:
            call = event.block.tool_call
            if call is not None:
                calls[call.id] = call.name
    return calls


def _blocked_ids(events: Sequence[tuple[str, dict[str, Any]]]) -> set[str]:
    return {
        str(data["tool_call_id"])
        for type, data in events
        if type == BLOCKED_EVENT and data.get("tool_call_id") is not None
    }


def _tokens(events: Sequence[ActivityEvent], key: str) -> int:
    counts: list[Any] = [event.data.get(key) for event in events]
    return sum(count for count in counts if isinstance(count, int) and not isinstance(count, bool))


def _recorded(events: Sequence[RecordedEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(event.type, event.data) for event in events]


async def _chunks(frames: Sequence[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


def _skip_reason(record: TransactionRecord, api: WireApi | None) -> str | None:
    if api is None:
        return f"unknown client API {record.client_api!r}"
    if record.original_response is None:
        return "no response was recorded"
    message = _json_object(record.original_response)
    if message is None:
        return "the recorded response is not a JSON object"
    if message.get(TRUNCATED_MARKER):
        return "the recorded response was truncated"
    return None


async def _run(
    stage: PolicyStage, api: WireApi, record: TransactionRecord, response: bytes
) -> tuple[bytes | None, str | None]:
    """The final response the client would get now, and the failure, if any."""
    body = _json_object(record.original_request) or {}
    await stage.process_request(CallRequest(api.format, body, record.original_request))
    if not record.streaming:
        return await run_body(api, response, stage), None
    frames = stream_frames(api, response)
    sent = [chunk async for chunk in run_stream(api, _chunks(frames), stage)]
    assembly = assemble_stream(api.name, sent)
    message = None if assembly.message is None else orjson.dumps(assembly.message)
    return message, assembly.error


async def replay_record(
    policy: Policy[Any], name: str, record: TransactionRecord, models: ModelCaller | None
) -> ReplayOutcome:
    """Replay one record through `policy` and compare with what happened at the time."""
    api = APIS.get(record.client_api)
    then = record.final_response if record.final_response is not None else record.original_response
    base = ReplayOutcome(
        transaction_id=record.transaction_id,
        client_api=record.client_api,
        model=record.model,
        streaming=record.streaming,
        received_at=record.timing.received_at,
        policy_then=record.policy,
        recorded_response=then,
    )
    skipped = _skip_reason(record, api)
    if skipped is not None or api is None or record.original_response is None:
        return _replace(base, skipped=skipped)
    activity = ActivityLog()
    transaction_id = f"replay-{record.transaction_id}"
    ctx = PolicyContext(transaction_id, name, activity, models)
    stage = PolicyStage(policy, ctx, api)
    now: bytes | None = None
    error: str | None = None
    try:
        now, error = await _run(stage, api, record, record.original_response)
    except NotReplayable as failure:
        return _replace(base, skipped=str(failure))
    except PolicyFailure as failure:
        error = f"policy {failure.policy_name!r} failed closed"
    except GatewayError as failure:
        error = failure.message
    happened = activity.events(transaction_id)
    events = tuple((event.type, dict(event.data)) for event in happened)
    judged = [event for event in happened if event.type == JUDGE_DECISION_EVENT]
    newly_blocked: tuple[str, ...] = ()
    newly_allowed: tuple[str, ...] = ()
    if error is None:
        original = tool_calls_of(api, record.original_response)
        sent_then = tool_calls_of(api, then)
        sent_now = tool_calls_of(api, now)
        blocked_then = _blocked_ids(_recorded(record.events)) | (original.keys() - sent_then.keys())
        blocked_now = _blocked_ids(events) | (original.keys() - sent_now.keys())
        newly_blocked = tuple(f"{original[i]}#{i}" for i in original if i in blocked_now - blocked_then)
        newly_allowed = tuple(f"{original[i]}#{i}" for i in original if i in blocked_then - blocked_now)
    return _replace(
        base,
        changed=error is None and content_of(api, then) != content_of(api, now),
        newly_blocked=newly_blocked,
        newly_allowed=newly_allowed,
        error=error,
        replayed_response=now,
        events=events,
        judge_calls=len(judged),
        input_tokens=_tokens(judged, "input_tokens"),
        output_tokens=_tokens(judged, "output_tokens"),
    )


def _replace(outcome: ReplayOutcome, **changes: Any) -> ReplayOutcome:
    return dataclasses.replace(outcome, **changes)


async def replay_records(
    policy: Policy[Any],
    name: str,
    records: AsyncIterator[TransactionRecord],
    models: ModelCaller | None,
    concurrency: int = DEFAULT_CONCURRENCY,
    finished: Finished | None = None,
) -> list[ReplayOutcome]:
    """Every record through `policy`, at most `concurrency` at a time; outcomes in record order.

    Records are read as they are replayed, so at most `concurrency` whole records are in memory.
    """
    gate = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task[ReplayOutcome]] = []

    async def one(seq: int, record: TransactionRecord) -> ReplayOutcome:
        try:
            outcome = await replay_record(policy, name, record, models)
        finally:
            gate.release()
        return outcome if finished is None else await finished(seq, outcome)

    try:
        seq = 0
        async for record in records:
            await gate.acquire()
            tasks.append(asyncio.create_task(one(seq, record)))
            seq += 1
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
