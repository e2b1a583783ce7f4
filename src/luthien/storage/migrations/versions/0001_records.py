"""Records: transactions, their activity events and bodies, and content chunks.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TRANSACTION_INDEXES = {
    "ix_transactions_received": ["received_at", "pk"],
    "ix_transactions_session": ["session_id", "received_at", "pk"],
    "ix_transactions_model": ["model", "received_at", "pk"],
    "ix_transactions_policy": ["policy", "received_at", "pk"],
    "ix_transactions_status": ["status", "received_at", "pk"],
}


def _transaction_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["transaction_pk"],
        ["transactions.pk"],
        name=op.f(f"fk_{table}_transaction_pk_transactions"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "chunks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("used_day", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chunks")),
        sa.UniqueConstraint("digest", name=op.f("uq_chunks_digest")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_chunks_used_day", "chunks", ["used_day"])
    op.create_table(
        "transactions",
        sa.Column("pk", ID, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Text(), nullable=True),
        sa.Column("client_api", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("upstream", sa.Text(), nullable=True),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("upstream_first_byte_at", sa.Double, nullable=True),
        sa.Column("first_token_at", sa.Double, nullable=True),
        sa.Column("ended_at", sa.Double, nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=True),
        sa.Column("cache_creation_tokens", sa.BigInteger(), nullable=True),
        sa.Column("request_headers", sa.Text(), nullable=False),
        sa.Column("tool_names", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_transactions")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_transactions_transaction_id")),
        sqlite_autoincrement=True,
    )
    for name, columns in TRANSACTION_INDEXES.items():
        op.create_index(name, "transactions", columns)
    op.create_table(
        "bodies",
        sa.Column("transaction_pk", ID, nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.LargeBinary(), nullable=False),
        _transaction_fk("bodies"),
        sa.PrimaryKeyConstraint("transaction_pk", "kind", name=op.f("pk_bodies")),
    )
    op.create_table(
        "events",
        sa.Column("transaction_pk", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("timestamp", sa.Double, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _transaction_fk("events"),
        sa.PrimaryKeyConstraint("transaction_pk", "seq", name=op.f("pk_events")),
    )
    op.create_index("ix_events_type", "events", ["type", "transaction_pk"])


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    op.drop_index("ix_events_type", table_name="events")
    op.drop_table("events")
    op.drop_table("bodies")
    for name in TRANSACTION_INDEXES:
        op.drop_index(name, table_name="transactions")
    op.drop_table("transactions")
    op.drop_index("ix_chunks_used_day", table_name="chunks")
    op.drop_table("chunks")
