"""run_items.cluster: the item's cluster key, so clustered standard errors come from stored rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cluster", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_items", schema=None) as batch_op:
        batch_op.drop_column("cluster")
