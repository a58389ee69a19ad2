"""reconciliation: a staging table of each run's records, and the runs' results

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_staging",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("project_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(18, 4), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_key", "side", "kind", "record_id", name="uq_reconciliation_staging"),
    )
    op.create_index("ix_reconciliation_staging_keys", "reconciliation_staging", ["run_key", "kind", "record_id"])
    op.create_table(
        "reconciliation_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("project_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("compared", sa.JSON(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_key", name="uq_reconciliation_run"),
    )
    op.create_index("ix_reconciliation_run_period", "reconciliation_run", ["period"])


def downgrade() -> None:
    op.drop_index("ix_reconciliation_run_period", table_name="reconciliation_run")
    op.drop_table("reconciliation_run")
    op.drop_index("ix_reconciliation_staging_keys", table_name="reconciliation_staging")
    op.drop_table("reconciliation_staging")
