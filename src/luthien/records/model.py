"""The transaction record: one model call as it is stored, queried and shown.

A record is built while the call runs (`luthien.records.recorder`), handed to storage without
waiting (`luthien.storage`), and read back by the admin API and the web UI. It never holds
credentials: auth headers, cookies and API keys are removed before a record is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class TransactionStatus(StrEnum):
    """How a call ended, from the client's point of view.

    Attributes:
        OK: answered, and no policy changed anything.
        CHANGED: answered, with the request or response changed by a policy.
        BLOCKED: a policy blocked something (a tool call replaced by a blocked message, a refusal).
        ERROR: the client got an error (upstream error, policy failure, bad request after auth).
        CLIENT_DISCONNECTED: the client left before the answer was complete.
    """

    OK = "ok"
    CHANGED = "changed"
    BLOCKED = "blocked"
    ERROR = "error"
    CLIENT_DISCONNECTED = "client_disconnected"


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts the upstream reported (None where it reported nothing)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """When things happened, in seconds since the epoch (None: did not happen).

    Attributes:
        received_at: the request arrived.
        upstream_first_byte_at: the upstream's response headers arrived.
        first_token_at: the first model output (text, thinking or tool call) was sent to the client.
        ended_at: the last byte was sent to the client (or the call ended otherwise).
    """

    received_at: float
    upstream_first_byte_at: float | None = None
    first_token_at: float | None = None
    ended_at: float | None = None

    @property
    def duration_ms(self) -> float | None:
        """Total time, received to end, in milliseconds."""
        return None if self.ended_at is None else (self.ended_at - self.received_at) * 1000

    @property
    def time_to_first_token_ms(self) -> float | None:
        """Received to first token sent, in milliseconds."""
        return None if self.first_token_at is None else (self.first_token_at - self.received_at) * 1000


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One activity event of the call (policy decision, repair, judge verdict, error), in order.

    Attributes:
        type: dotted name, e.g. `judge.decision`, `policy.repaired`, `policy.error`.
        data: JSON-serializable details (never credentials).
        policy: the policy instance that produced it, if any.
        timestamp: seconds since the epoch.
    """

    type: str
    data: dict[str, Any]
    policy: str | None
    timestamp: float


class ShadowOutcome(StrEnum):
    """What a shadow policy would have done to a call, compared with what the client was actually sent.

    Attributes:
        WOULD_BLOCK: it blocked something (`policy.blocked`) and its response differs from the one sent.
        WOULD_CHANGE: its request or response differs from what was sent, without a block.
        SAME: it would have sent the same.
        ERROR: it failed, timed out or fell too far behind (`shadow.overflow`); the call was unaffected.
    """

    WOULD_BLOCK = "would_block"
    WOULD_CHANGE = "would_change"
    SAME = "same"
    ERROR = "error"


DISAGREEING_OUTCOMES = frozenset({ShadowOutcome.WOULD_BLOCK, ShadowOutcome.WOULD_CHANGE})


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """One shadow policy's run of a call: what it would have sent, never sent.

    Attributes:
        name: the shadow's policy instance name.
        outcome: how it compares with what the client was sent.
        final_request: the request it would have forwarded, or None when it is the client's unchanged.
        final_response: the response it would have sent (assembled like `TransactionRecord.final_response`),
            or None when it is what the client was sent (or it produced none).
        events: its activity events (verdicts, blocks, errors), in order.
        error: why it failed, for `error`.
    """

    name: str
    outcome: ShadowOutcome
    final_request: bytes | None = None
    final_response: bytes | None = None
    events: tuple[RecordedEvent, ...] = ()
    error: str | None = None

    @property
    def disagreed(self) -> bool:
        """Whether it would have blocked or changed something."""
        return self.outcome in DISAGREEING_OUTCOMES


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """Everything kept of one model call.

    Bodies are the exact bytes (JSON in the client's wire format). A streamed response is stored
    assembled into the whole message the same API would have returned without streaming, so the
    original and final versions can be compared field by field.

    Attributes:
        transaction_id: the id sent to the client in `X-Luthien-Transaction-Id`.
        session_id: the agent session the call belongs to, if any (see `luthien.records.session`).
        client_api: the API the client spoke (`WireApi.name`: `anthropic_messages`, `openai_chat`,
            `openai_responses`).
        endpoint: the request path, without query string.
        model: the model the client asked for (None if the body had none).
        upstream: the configured upstream the call went to (None if it never left Luthien).
        policy: the policy instance that served the call (None for calls no policy sees).
        status: how the call ended.
        http_status: the HTTP status sent to the client (None if the client left first).
        streaming: whether the response was a stream.
        timing: when things happened.
        usage: token counts.
        request_headers: the client's request headers that are not credentials (names lower-case).
        original_request: the body the client sent.
        final_request: the body forwarded upstream, or None when it is the original unchanged.
        original_response: the upstream's response (assembled when streamed), or None if none came.
        final_response: what the client received (assembled), or None when it is the original
            unchanged.
        events: the call's activity events, in order.
        error: a short description of the failure for `error` status.
        shadows: what each shadow policy would have done (`luthien.shadow`), in configured order.
    """

    transaction_id: str
    session_id: str | None
    client_api: str
    endpoint: str
    model: str | None
    upstream: str | None
    policy: str | None
    status: TransactionStatus
    http_status: int | None
    streaming: bool
    timing: Timing
    usage: Usage = field(default_factory=Usage)
    request_headers: dict[str, str] = field(default_factory=dict[str, str])
    original_request: bytes = b""
    final_request: bytes | None = None
    original_response: bytes | None = None
    final_response: bytes | None = None
    events: tuple[RecordedEvent, ...] = ()
    error: str | None = None
    shadows: tuple[ShadowResult, ...] = ()

    @property
    def shadow_disagreed(self) -> bool:
        """Whether some shadow policy would have blocked or changed this call."""
        return any(shadow.disagreed for shadow in self.shadows)

    @property
    def blocked(self) -> bool:
        """Whether a policy blocked something in this call."""
        return self.status is TransactionStatus.BLOCKED


class RecordSink(Protocol):
    """Where finished records go (the storage writer). `submit` never blocks and never raises."""

    def submit(self, record: TransactionRecord) -> None:
        """Queue `record` for storage; drop it (counted and logged) when the queue is full."""
        ...
