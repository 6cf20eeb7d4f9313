"""prompt_versions.description: each version keeps the description it was pushed with

Before, the description lived on the prompt row and every push overwrote it, so an old version showed
the newest version's text. The upgrade copies each prompt's description into its existing versions (the
best we know about them) and keeps the prompt row's column as it was: no data is dropped.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prompt_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
    op.execute(
        "UPDATE prompt_versions SET description = "
        "(SELECT prompts.description FROM prompts WHERE prompts.id = prompt_versions.prompt_id) "
        "WHERE description IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("prompt_versions", schema=None) as batch_op:
        batch_op.drop_column("description")
