"""Experiment tracking: tags and a note per run, and per-run metrics the runs table filters on

``run_metrics`` is derived data (each scorer's mean and CI, and the run's cost, latency, errors and
item count, recomputed from run_items + scores); runs already stored get theirs the first time the
runs table is read. Nothing existing is changed.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopstack.store._types import UTCDateTime

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["runs.id"], name=op.f(f"fk_{table}_run_id_runs"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        _run_fk("run_tags"),
        sa.PrimaryKeyConstraint("run_id", "tag", name=op.f("pk_run_tags")),
    )
    op.create_index(op.f("ix_run_tags_tag"), "run_tags", ["tag"], unique=False)
    op.create_table(
        "run_notes",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        _run_fk("run_notes"),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_notes")),
    )
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("scorer_version", sa.String(length=50), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        _run_fk("run_metrics"),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_run_metrics")),
    )
    op.create_index(op.f("ix_run_metrics_name_mean"), "run_metrics", ["name", "mean"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_run_metrics_name_mean"), table_name="run_metrics")
    op.drop_table("run_metrics")
    op.drop_table("run_notes")
    op.drop_index(op.f("ix_run_tags_tag"), table_name="run_tags")
    op.drop_table("run_tags")
