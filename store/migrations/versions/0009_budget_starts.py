"""budget_start and psflow_budget_try_slot: the budgets every worker shares (store/budgets.py)

``budget_start``: one row per allowed request in a window (``count`` rows per budget), the time
the request that last used the row started. A request may start when some row's start is a
window old.

``psflow_budget_try_slot(key, slots)`` (PostgreSQL only): takes the first free advisory lock
``(key, 0..slots-1)`` and returns its number, or -1. A function, because PostgreSQL does not
promise that ``SELECT … WHERE pg_try_advisory_lock(…) LIMIT 1`` stops locking at the first row.

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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TRY_SLOT)


TRY_SLOT = """
CREATE OR REPLACE FUNCTION psflow_budget_try_slot(key integer, slots integer) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    FOR slot IN 0 .. slots - 1 LOOP
        IF pg_try_advisory_lock(key, slot) THEN
            RETURN slot;
        END IF;
    END LOOP;
    RETURN -1;
END
$$
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS psflow_budget_try_slot(integer, integer)")
    op.drop_index("ix_budget_start_budget_started_at", table_name="budget_start")
    op.drop_table("budget_start")
