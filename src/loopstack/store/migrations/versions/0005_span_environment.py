"""spans.environment (eval traffic apart from production) and the rollups keyed by it

Existing spans are classified as ingest now does (store/environments.py): every span of a trace holding
an eval span (a ``loopstack.run_id`` or ``loopstack.span.type`` = eval) is ``eval``, others take the
resource's ``deployment.environment``, else ``production``. The rollups are derived data: they are
rebuilt with the environment in their key (emptied here with their watermarks; the next refresh
refills them from the spans).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ROLLUPS = (("span_rollups", "hour"), ("span_rollups_daily", "day"))


def _json_text(dialect: str, column: str, key: str) -> str:
    if dialect == "postgresql":
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.\"{key}\"')"


def _classify_existing_spans() -> None:
    dialect = op.get_bind().dialect.name
    run_id = _json_text(dialect, "e.attributes", "loopstack.run_id")
    span_type = _json_text(dialect, "e.attributes", "loopstack.span.type")
    op.execute(
        "UPDATE spans SET environment = 'eval' WHERE EXISTS (SELECT 1 FROM spans e "
        "WHERE e.project_id = spans.project_id AND e.trace_id = spans.trace_id "
        f"AND ({run_id} IS NOT NULL OR {span_type} = 'eval'))"
    )
    named = _json_text(dialect, "resource", "deployment.environment.name")
    plain = _json_text(dialect, "resource", "deployment.environment")
    deployment = f"SUBSTR(TRIM(COALESCE({named}, {plain})), 1, 50)"
    op.execute(
        f"UPDATE spans SET environment = {deployment} WHERE environment = 'production' "
        f"AND COALESCE(TRIM(COALESCE({named}, {plain})), '') <> ''"
    )


def _rollup_table(name: str, period: str, with_environment: bool) -> None:
    key = ["project_id", period, "model", "prompt_name", "prompt_version"]
    columns: list[sa.Column[object]] = [
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column(period, sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("prompt_name", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.Integer(), nullable=False),
    ]
    if with_environment:
        columns.append(sa.Column("environment", sa.String(length=50), nullable=False))
        key.append("environment")
    op.create_table(
        name,
        *columns,
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("latency_hist", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f(f"fk_{name}_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("environment", sa.String(length=50), server_default="production", nullable=False)
        )
    _classify_existing_spans()
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spans_project_id_environment_start_time"),
            ["project_id", "environment", "start_time"],
            unique=False,
        )
    for name, period in _ROLLUPS:
        op.drop_table(name)
        _rollup_table(name, period, with_environment=True)
    op.execute("DELETE FROM rollup_watermarks")


def downgrade() -> None:
    for name, period in _ROLLUPS:
        op.drop_table(name)
        _rollup_table(name, period, with_environment=False)
    op.execute("DELETE FROM rollup_watermarks")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spans_project_id_environment_start_time"))
        batch_op.drop_column("environment")
