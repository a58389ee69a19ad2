"""resources: the resource sync's workers, marks, applied time off and time-off staging

Creates ``resource`` (one row per HR worker: what psflow applied to the PSA and its fingerprint),
``resource_sync_state`` (per legal entity and HR system: high-water mark, last full sweep),
``resource_time_off`` (the time off psflow set in the PSA, per worker-day) and
``resource_time_off_staging`` (one run's copy of HR's approved time off, per worker-day).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text, utc = sqlmodel.sql.sqltypes.AutoString, sqlmodel.sql.sqltypes.UTCDateTime
    op.create_table(
        "resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", text(length=255), nullable=False),
        sa.Column("legal_entity", text(length=64), nullable=False),
        sa.Column("hr_system", text(length=16), nullable=False),
        sa.Column("employee_id", text(length=255), nullable=True),
        sa.Column("email", text(length=320), nullable=True),
        sa.Column("name", text(length=255), nullable=True),
        sa.Column("psa_user_id", text(length=64), nullable=True),
        sa.Column("title", text(length=255), nullable=True),
        sa.Column("role", text(length=255), nullable=True),
        sa.Column("cost_centre", text(length=128), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("manager_id", text(length=255), nullable=True),
        sa.Column("standard_hours_per_week", sa.Numeric(6, 2), nullable=True),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("termination_date", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", utc(), nullable=True),
        sa.Column("allocations_removed_on", sa.Date(), nullable=True),
        sa.Column("applied_fingerprint", text(length=64), nullable=True),
        sa.Column("updated_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("worker_id", name="uq_resource_worker"),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index("ix_resource_source", ["legal_entity", "hr_system", "worker_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resource_employee_id"), ["employee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resource_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_resource_psa_user_id"), ["psa_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resource_cost_centre"), ["cost_centre"], unique=False)
    op.create_table(
        "resource_sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("legal_entity", text(length=64), nullable=False),
        sa.Column("hr_system", text(length=16), nullable=False),
        sa.Column("high_water_mark", utc(), nullable=True),
        sa.Column("last_full_sweep_at", utc(), nullable=True),
        sa.Column("updated_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("legal_entity", "hr_system", name="uq_resource_sync_state"),
    )
    op.create_table(
        "resource_time_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("worker_id", text(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hours", sa.Numeric(6, 2), nullable=False),
        sa.Column("updated_at", utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("worker_id", "day", name="uq_resource_time_off"),
    )
    with op.batch_alter_table("resource_time_off", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_time_off_day"), ["day"], unique=False)
    op.create_table(
        "resource_time_off_staging",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", text(length=255), nullable=False),
        sa.Column("worker_id", text(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hours", sa.Numeric(6, 2), nullable=False),
        sa.Column("requests", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "worker_id", "day", name="uq_resource_time_off_staging"),
    )


def downgrade() -> None:
    op.drop_table("resource_time_off_staging")
    with op.batch_alter_table("resource_time_off", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_time_off_day"))
    op.drop_table("resource_time_off")
    op.drop_table("resource_sync_state")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_cost_centre"))
        batch_op.drop_index(batch_op.f("ix_resource_psa_user_id"))
        batch_op.drop_index(batch_op.f("ix_resource_email"))
        batch_op.drop_index(batch_op.f("ix_resource_employee_id"))
        batch_op.drop_index("ix_resource_source")
    op.drop_table("resource")
