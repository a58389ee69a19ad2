"""exceptions: one model for every flow's exceptions, with their history

Creates ``exception`` (one row per business key: state, owner, occurrences, escalation) and
``exception_history`` (who did what, when). Revision 0007 moves the posting exceptions into them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    text, utc = sqlmodel.sql.sqltypes.AutoString, sqlmodel.sql.sqltypes.UTCDateTime
    op.create_table(
        "exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow", text(length=16), nullable=False),
        sa.Column("system", text(length=32), nullable=False),
        sa.Column("kind", text(length=32), nullable=False),
        sa.Column("business_key", text(length=255), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("reason", text(length=32), nullable=False),
        sa.Column("message", text(length=2000), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("retry_input", sa.JSON(), nullable=True),
        sa.Column("state", text(length=16), nullable=False),
        sa.Column("owner", text(length=128), nullable=True),
        sa.Column("first_seen", utc(), nullable=False),
        sa.Column("last_seen", utc(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("last_run_id", text(length=255), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", utc(), nullable=True),
        sa.Column("next_escalation_at", utc(), nullable=True),
        sa.Column("closed_at", utc(), nullable=True),
        sa.Column("resolved_by", text(length=255), nullable=True),
        sa.Column("note", text(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("flow", "system", "kind", "business_key", name="uq_exception_key"),
    )
    with op.batch_alter_table("exception", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exception_business_date"), ["business_date"], unique=False)
        batch_op.create_index("ix_exception_state_flow", ["state", "flow", "kind"], unique=False)
        batch_op.create_index("ix_exception_due", ["next_escalation_at", "id"], unique=False)
        batch_op.create_index("ix_exception_state_id", ["state", "id"], unique=False)
        batch_op.create_index("ix_exception_business_key", ["business_key"], unique=False)
    op.create_table(
        "exception_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exception_id", sa.Integer(), sa.ForeignKey("exception.id"), nullable=False),
        sa.Column("at", utc(), nullable=False),
        sa.Column("actor", text(length=128), nullable=False),
        sa.Column("action", text(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("exception_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exception_history_exception_id"), ["exception_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("exception_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exception_history_exception_id"))
    op.drop_table("exception_history")
    with op.batch_alter_table("exception", schema=None) as batch_op:
        batch_op.drop_index("ix_exception_business_key")
        batch_op.drop_index("ix_exception_state_id")
        batch_op.drop_index("ix_exception_due")
        batch_op.drop_index("ix_exception_state_flow")
        batch_op.drop_index(batch_op.f("ix_exception_business_date"))
    op.drop_table("exception")
