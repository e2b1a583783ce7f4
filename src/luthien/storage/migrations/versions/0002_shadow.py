"""Shadow policies: the `shadows` table and `transactions.shadow_disagreed`.

Revision ID: 0002_shadow
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_shadow"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 64-bit ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DISAGREED_INDEX = "ix_transactions_shadow_disagreed"
SHADOW_BODY_BASE = 16
"""The first `bodies.kind` of shadow bodies (fixed here: a migration never follows later code)."""


def upgrade() -> None:
    """Add the column (false for every existing record), its index, and the `shadows` table."""
    # In place on both engines (a NOT NULL column with a default); no table copy, so the
    # `transactions` rows' events and bodies are never touched.
    op.add_column(
        "transactions",
        sa.Column("shadow_disagreed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(DISAGREED_INDEX, "transactions", ["shadow_disagreed", "received_at", "pk"])
    op.create_table(
        "shadows",
        sa.Column("transaction_pk", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("events", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_pk"],
            ["transactions.pk"],
            name=op.f("fk_shadows_transaction_pk_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transaction_pk", "seq", name=op.f("pk_shadows")),
    )


def downgrade() -> None:
    """Drop the shadow results (and the shadow bodies) and the column."""
    op.drop_table("shadows")
    op.execute(sa.text(f"DELETE FROM bodies WHERE kind >= {SHADOW_BODY_BASE}"))
    op.drop_index(DISAGREED_INDEX, table_name="transactions")
    op.drop_column("transactions", "shadow_disagreed")  # SQLite 3.35+ drops a column in place
