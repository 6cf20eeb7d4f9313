"""teacher_labels: a teacher model's answer per dataset item, apart from human labels (issue 10)

A new table; nothing existing changes.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import loopstack.store._types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "teacher_labels",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=False),
        sa.Column("dataset_item_id", sa.String(length=32), nullable=True),
        sa.Column("teacher", sa.String(length=300), nullable=False),
        sa.Column("prompt_ref", sa.String(length=250), nullable=False),
        sa.Column("prompt_name", sa.String(length=200), nullable=True),
        sa.Column("prompt_version", sa.Integer(), nullable=True),
        sa.Column("params", _json(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("value", _json(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", loopstack.store._types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_teacher_labels_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_teacher_labels_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teacher_labels")),
        sa.UniqueConstraint(
            "dataset_id",
            "item_key",
            "teacher",
            "prompt_ref",
            name=op.f("uq_teacher_labels_dataset_id_item_key_teacher_prompt_ref"),
        ),
    )


def downgrade() -> None:
    op.drop_table("teacher_labels")
