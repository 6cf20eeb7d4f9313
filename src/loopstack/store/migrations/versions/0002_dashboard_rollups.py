"""dashboard rollups: hourly span aggregates, their watermark, and spans by ingest time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopstack.store._types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "span_rollups",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
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
            name=op.f("fk_span_rollups_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "hour", "model", "prompt_name", "prompt_version", name=op.f("pk_span_rollups")
        ),
    )
    op.create_table(
        "rollup_watermarks",
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("ingested_until", loopstack.store._types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_rollup_watermarks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_rollup_watermarks")),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spans_ingested_at_project_id"), ["ingested_at", "project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spans_ingested_at_project_id"))
    op.drop_table("rollup_watermarks")
    op.drop_table("span_rollups")
