"""Reading records back: filters, cursor pages, summaries, and the `RecordStore` protocol.

The admin API and the web UI depend on this protocol only; `luthien.storage` implements it over
SQLAlchemy (SQLite or PostgreSQL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from luthien.records.model import TransactionRecord, TransactionStatus, Usage

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class InvalidQuery(ValueError):
    """A filter, cursor or page size that cannot be used (the API answers 400).

    Attributes:
        field: the query parameter at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class TransactionFilter:
    """Which transactions a list, export or live stream selects. Unset fields select everything.

    Attributes:
        session_id: one agent session.
        model: exact model name.
        policy: exact policy instance name.
        statuses: any of these statuses.
        blocked_only: only calls in which a policy blocked something.
        event_type: only calls with an activity event of this type (e.g. `judge.decision`).
        since: received at or after (seconds since the epoch).
        until: received before (seconds since the epoch).
        text: case-insensitive substring of the request or response bodies.
        shadow_disagreed: only calls where some shadow policy would (True) / would not (False) have
            blocked or changed something.
    """

    session_id: str | None = None
    model: str | None = None
    policy: str | None = None
    statuses: frozenset[TransactionStatus] = frozenset()
    blocked_only: bool = False
    event_type: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None
    shadow_disagreed: bool | None = None


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    """One row of a transaction list (no bodies).

    Attributes:
        transaction_id: the record's id.
        session_id: its agent session.
        client_api: the API the client spoke.
        model: the model asked for.
        upstream: the upstream it went to.
        policy: the policy that served it.
        status: how it ended.
        http_status: the status sent to the client.
        streaming: whether it streamed.
        received_at: seconds since the epoch.
        duration_ms: total time.
        time_to_first_token_ms: time to the first token sent.
        usage: token counts.
        tool_names: names of the tool calls in the original response, in order.
        event_types: distinct activity event types, in order of first occurrence.
        preview: a short excerpt of the last user message, for lists.
        shadow_disagreed: some shadow policy would have blocked or changed the call.
    """

    transaction_id: str
    session_id: str | None
    client_api: str
    model: str | None
    upstream: str | None
    policy: str | None
    status: TransactionStatus
    http_status: int | None
    streaming: bool
    received_at: float
    duration_ms: float | None
    time_to_first_token_ms: float | None
    usage: Usage
    tool_names: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    preview: str = ""
    shadow_disagreed: bool = False


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """One agent session: the calls that share a session id.

    Attributes:
        session_id: the id the agent sent.
        first_at: the first call's arrival (seconds since the epoch).
        last_at: the last call's arrival.
        transaction_count: number of calls.
        blocked_count: calls in which something was blocked.
        models: distinct models used.
    """

    session_id: str
    first_at: float
    last_at: float
    transaction_count: int
    blocked_count: int
    models: tuple[str, ...] = ()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of results, newest first; `next_cursor` fetches the following page (None: last)."""

    items: Sequence[T] = field(default_factory=tuple[T, ...])
    next_cursor: str | None = None


class RecordStore(Protocol):
    """Queries over stored transactions. Implementations raise `InvalidQuery` for bad cursors."""

    async def list_transactions(
        self, filter: TransactionFilter, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Page[TransactionSummary]:
        """Transactions matching `filter`, newest first."""
        ...

    async def get_transaction(self, transaction_id: str) -> TransactionRecord | None:
        """One whole record (bodies reassembled byte for byte), or None if unknown."""
        ...

    async def list_sessions(
        self, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE, text: str | None = None
    ) -> Page[SessionSummary]:
        """Agent sessions, most recently active first; `text` matches the session id."""
        ...

    async def session_transactions(self, session_id: str) -> list[TransactionRecord]:
        """Every record of one session, oldest first (empty if unknown)."""
        ...

    def export(self, filter: TransactionFilter) -> AsyncIterator[TransactionRecord]:
        """Every record matching `filter`, oldest first, read in batches."""
        ...
