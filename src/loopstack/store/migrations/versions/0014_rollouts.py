"""gradual rollouts of prompt versions: the rollouts table (issue 12, parts 3-5)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

import loopstack.store._types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _json() -> Any:
    """The JSON type every JSON column uses (JSONB on PostgreSQL)."""
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    when = loopstack.store._types.UTCDateTime(timezone=True)
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("prompt_id", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("control_version", sa.Integer(), nullable=False),
        sa.Column("candidate_version", sa.Integer(), nullable=False),
        sa.Column("steps", _json(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_started_at", when, nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("policy", _json(), nullable=False),
        sa.Column("decisions", _json(), nullable=False),
        sa.Column("last_check", _json(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("alert_rule_id", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("ended_at", when, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_rollouts_alert_rule_id_alert_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_rollouts_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"], ["prompts.id"], name=op.f("fk_rollouts_prompt_id_prompts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
    )
    op.create_index(op.f("ix_rollouts_project_id_state"), "rollouts", ["project_id", "state"])
    op.create_index(op.f("ix_rollouts_prompt_id_label"), "rollouts", ["prompt_id", "label"])


def downgrade() -> None:
    op.drop_index(op.f("ix_rollouts_prompt_id_label"), table_name="rollouts")
    op.drop_index(op.f("ix_rollouts_project_id_state"), table_name="rollouts")
    op.drop_table("rollouts")
