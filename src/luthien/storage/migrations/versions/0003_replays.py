"""Replays: runs of recorded calls through a policy, and each call's outcome.

Revision ID: 0003_replays
Revises: 0002_shadow
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_replays"
down_revision: str | None = "0002_shadow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_ID = sa.String(length=32)
STATUS = sa.String(length=16)


def upgrade() -> None:
    """Create `replay_runs` and `replay_items`."""
    op.create_table(
        "replay_runs",
        sa.Column("id", RUN_ID, nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double, nullable=True),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("newly_blocked", sa.Integer(), nullable=False),
        sa.Column("newly_allowed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("judge_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Double, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_runs")),
    )
    op.create_index("ix_replay_runs_started", "replay_runs", ["started_at"])
    op.create_table(
        "replay_items",
        sa.Column("run_id", RUN_ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("client_api", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("policy_then", sa.Text(), nullable=True),
        sa.Column("skipped", sa.Text(), nullable=True),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("disagrees", sa.Boolean(), nullable=False),
        sa.Column("newly_blocked", sa.Text(), nullable=False),
        sa.Column("newly_allowed", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("judge_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("recorded_response", sa.LargeBinary(), nullable=True),
        sa.Column("replayed_response", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["replay_runs.id"],
            name=op.f("fk_replay_items_run_id_replay_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_replay_items")),
    )
    op.create_index("ix_replay_items_disagrees", "replay_items", ["run_id", "disagrees", "seq"])


def downgrade() -> None:
    """Drop everything `upgrade` created."""
    op.drop_index("ix_replay_items_disagrees", table_name="replay_items")
    op.drop_table("replay_items")
    op.drop_index("ix_replay_runs_started", table_name="replay_runs")
    op.drop_table("replay_runs")
