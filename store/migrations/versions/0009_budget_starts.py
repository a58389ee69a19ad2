"""budget_start: request starts of the rolling-window budgets every worker shares (store/budgets.py)

One row per allowed request in a window (``count`` rows per budget): the time the request that
last used the row started. A request may start when some row's start is a window old.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_start",
        sa.Column("budget", sa.String(length=255), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(precision=53), nullable=False),
        sa.PrimaryKeyConstraint("budget", "slot"),
    )
    op.create_index("ix_budget_start_budget_started_at", "budget_start", ["budget", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_budget_start_budget_started_at", table_name="budget_start")
    op.drop_table("budget_start")
