"""daily span rollups (summed from the hourly ones) and a covering index for the dashboard's score scan

The rollups are derived data: the upgrade empties them and their watermarks so the next refresh
rebuilds both levels from the spans.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "span_rollups_daily",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("prompt_name", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("latency_hist", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_span_rollups_daily_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "day", "model", "prompt_name", "prompt_version", name=op.f("pk_span_rollups_daily")
        ),
    )
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scores_project_id_created_at_target_type_source_name_value"),
            ["project_id", "created_at", "target_type", "source", "name", "value"],
            unique=False,
        )
    op.execute("DELETE FROM span_rollups")
    op.execute("DELETE FROM rollup_watermarks")


def downgrade() -> None:
    with op.batch_alter_table("scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scores_project_id_created_at_target_type_source_name_value"))
    op.drop_table("span_rollups_daily")
