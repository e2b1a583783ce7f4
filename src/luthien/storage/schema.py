"""The records schema (SQLAlchemy Core tables), one for SQLite and PostgreSQL.

- `transactions`: one row per model call, with a column for every list filter and summary field,
  so lists never touch bodies. `search_text` is the lower-cased text free-text search matches
  (see `luthien.storage.extract`).
- `events`: a call's activity events, in order.
- `bodies`: up to four bodies per call (original/final request/response), each a manifest: the ids
  of its content chunks, in order.
- `shadows`: what each shadow policy would have done in a call (name, outcome, error, its activity
  events); the bodies it would have sent are `bodies` rows of kind `shadow_body_kind(seq, ...)`.
- `chunks`: content-addressed, compressed pieces of bodies, stored once however many bodies share
  them (see `luthien.storage.content`). `used_day` is the last day a body was written with the chunk;
  retention deletes chunks not used since before the oldest kept record.
- `replay_runs`, `replay_items`: replays of recorded calls through a policy (`luthien.replay`): one
  row per run with its filters, progress and totals; one row per call replayed, with both final
  responses kept for the calls where the replay disagrees with what happened.

Sessions have no table: they are derived from `transactions.session_id` by query. Migrations in
`luthien/storage/migrations/` create exactly these tables (a test compares them).
"""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
)

# Constraint names are fixed so that migrations (and downgrades) name the same objects everywhere.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

STATUS_LENGTH = 32
DIGEST_LENGTH = 32


class BodyKind(IntEnum):
    """Which body of a call a `bodies` row holds (shadow bodies: `shadow_body_kind`)."""

    ORIGINAL_REQUEST = 0
    FINAL_REQUEST = 1
    ORIGINAL_RESPONSE = 2
    FINAL_RESPONSE = 3


SHADOW_BODY_BASE = 16
"""`bodies.kind` of the first shadow's request; each shadow takes two kinds (request, response)."""


def shadow_body_kind(seq: int, response: bool) -> int:
    """The `bodies.kind` of shadow number `seq`'s request or response."""
    return SHADOW_BODY_BASE + 2 * seq + int(response)


def shadow_of_body_kind(kind: int) -> tuple[int, bool] | None:
    """(shadow seq, is response) of a shadow body kind; None for the call's own four bodies."""
    if kind < SHADOW_BODY_BASE:
        return None
    seq, response = divmod(kind - SHADOW_BODY_BASE, 2)
    return seq, bool(response)


transactions = Table(
    "transactions",
    metadata,
    Column("pk", Id, primary_key=True, autoincrement=True),
    Column("transaction_id", Text, nullable=False, unique=True),
    Column("session_id", Text),
    Column("client_api", Text, nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("model", Text),
    Column("upstream", Text),
    Column("policy", Text),
    Column("status", String(STATUS_LENGTH), nullable=False),
    Column("http_status", Integer),
    Column("streaming", Boolean, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("upstream_first_byte_at", Double),
    Column("first_token_at", Double),
    Column("ended_at", Double),
    Column("input_tokens", BigInteger),
    Column("output_tokens", BigInteger),
    Column("cache_read_tokens", BigInteger),
    Column("cache_creation_tokens", BigInteger),
    Column("request_headers", Text, nullable=False),
    Column("tool_names", Text, nullable=False),
    Column("event_types", Text, nullable=False),
    Column("preview", Text, nullable=False),
    Column("error", Text),
    Column("search_text", Text, nullable=False),
    Column("shadow_disagreed", Boolean, nullable=False, server_default=false()),
    Index("ix_transactions_received", "received_at", "pk"),
    Index("ix_transactions_session", "session_id", "received_at", "pk"),
    Index("ix_transactions_model", "model", "received_at", "pk"),
    Index("ix_transactions_policy", "policy", "received_at", "pk"),
    Index("ix_transactions_status", "status", "received_at", "pk"),
    Index("ix_transactions_shadow_disagreed", "shadow_disagreed", "received_at", "pk"),
    sqlite_autoincrement=True,
)

events = Table(
    "events",
    metadata,
    Column(
        "transaction_pk",
        Id,
        ForeignKey("transactions.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("type", Text, nullable=False),
    Column("policy", Text),
    Column("timestamp", Double, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_events_type", "type", "transaction_pk"),
)

shadows = Table(
    "shadows",
    metadata,
    Column(
        "transaction_pk",
        Id,
        ForeignKey("transactions.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("outcome", String(STATUS_LENGTH), nullable=False),
    Column("error", Text),
    Column("events", Text, nullable=False),
)

bodies = Table(
    "bodies",
    metadata,
    Column(
        "transaction_pk",
        Id,
        ForeignKey("transactions.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", SmallInteger, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("manifest", LargeBinary, nullable=False),
)

chunks = Table(
    "chunks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("digest", LargeBinary(DIGEST_LENGTH), nullable=False, unique=True),
    Column("size", Integer, nullable=False),
    Column("used_day", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_chunks_used_day", "used_day"),
    sqlite_autoincrement=True,
)

REPLAY_STATUS_LENGTH = 16
RUN_ID_LENGTH = 32
"""A replay run id: a UUID4 in hex."""

replay_runs = Table(
    "replay_runs",
    metadata,
    Column("id", String(RUN_ID_LENGTH), primary_key=True),
    Column("policy", Text, nullable=False),
    Column("filters", Text, nullable=False),
    Column("status", String(REPLAY_STATUS_LENGTH), nullable=False),
    Column("started_at", Double, nullable=False),
    Column("finished_at", Double),
    Column("total", Integer),
    Column("done", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("newly_blocked", Integer, nullable=False),
    Column("newly_allowed", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("judge_calls", Integer, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost_usd", Double, nullable=False),
    Column("error", Text),
    Index("ix_replay_runs_started", "started_at"),
)

replay_items = Table(
    "replay_items",
    metadata,
    Column(
        "run_id",
        String(RUN_ID_LENGTH),
        ForeignKey("replay_runs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("transaction_id", Text, nullable=False),
    Column("client_api", Text, nullable=False),
    Column("model", Text),
    Column("streaming", Boolean, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("policy_then", Text),
    Column("skipped", Text),
    Column("changed", Boolean, nullable=False),
    Column("disagrees", Boolean, nullable=False),
    Column("newly_blocked", Text, nullable=False),
    Column("newly_allowed", Text, nullable=False),
    Column("error", Text),
    Column("judge_calls", Integer, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("events", Text, nullable=False),
    Column("recorded_response", LargeBinary),
    Column("replayed_response", LargeBinary),
    Index("ix_replay_items_disagrees", "run_id", "disagrees", "seq"),
)
