"""exceptions: one model for every flow's exceptions, with their history

Creates ``exception`` (one row per business key: state, owner, occurrences, escalation) and
``exception_history`` (who did what, when), and copies every posting exception into ``exception``
as flow ``posting``. Copied open ones escalate on the default posting SLA (1 and 3 business days
from first seen, UTC); exceptions recorded after the upgrade use the firm's settings. The old
``posting_exception`` table is left in place here and dropped by a later revision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 02:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from store._sla import Sla, SlaPolicy

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTING_POLICY = SlaPolicy(by_kind={"posting": Sla(1, 3)})


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def upgrade() -> None:
    text, utc = sqlmodel.sql.sqltypes.AutoString, sqlmodel.sql.sqltypes.UTCDateTime
    exception = op.create_table(
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
    _copy_posting_exceptions(exception)


def _copy_posting_exceptions(exception: sa.Table) -> None:
    connection = op.get_bind()
    if not sa.inspect(connection).has_table("posting_exception"):
        return
    utc = sqlmodel.sql.sqltypes.UTCDateTime
    old = sa.table(
        "posting_exception",
        *(sa.column(name) for name in ("id", "kind", "source_system", "source_id", "target_system", "reason")),
        *(sa.column(name) for name in ("message", "status", "attempts", "last_run_id", "note")),
        sa.column("business_date", sa.Date()),
        sa.column("values", sa.JSON()),
        *(sa.column(name, utc()) for name in ("first_seen", "last_seen", "closed_at")),
    )
    rows = connection.execute(sa.select(old).order_by(old.c.id)).mappings()
    copied = []
    for row in rows:
        first_seen = _aware(row["first_seen"])
        assert first_seen is not None
        active = row["status"] == "open"
        copied.append(
            {
                "flow": "posting",
                "system": row["target_system"],
                "kind": row["kind"],
                "business_key": row["source_id"],
                "business_date": row["business_date"],
                "reason": row["reason"],
                "message": row["message"],
                "values": row["values"],
                "records": [{"system": row["source_system"], "type": row["kind"], "id": row["source_id"]}],
                "retry_input": None,
                "state": row["status"],
                "owner": None,
                "first_seen": first_seen,
                "last_seen": _aware(row["last_seen"]),
                "occurrences": row["attempts"],
                "last_run_id": row["last_run_id"],
                "escalation_level": 0,
                "escalated_at": None,
                "next_escalation_at": _POSTING_POLICY.due("posting", row["kind"], first_seen, 0) if active else None,
                "closed_at": _aware(row["closed_at"]),
                "resolved_by": None,
                "note": row["note"],
            }
        )
    if copied:
        op.bulk_insert(exception, copied)


def downgrade() -> None:
    with op.batch_alter_table("exception_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exception_history_exception_id"))
    op.drop_table("exception_history")
    with op.batch_alter_table("exception", schema=None) as batch_op:
        batch_op.drop_index("ix_exception_due")
        batch_op.drop_index("ix_exception_state_flow")
        batch_op.drop_index(batch_op.f("ix_exception_business_date"))
    op.drop_table("exception")
