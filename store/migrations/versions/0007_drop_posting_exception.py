"""posting exceptions move into the one exceptions model, and their old table goes

Copies every ``posting_exception`` row into ``exception`` as flow ``posting`` (system = target
system, business key = PSA record id, the PSA record in ``records``, attempts -> occurrences),
then drops ``posting_exception``. Copied open ones escalate on the default posting SLA (1 and 3
business days from first seen, UTC); exceptions recorded after the upgrade use the firm's
settings. The downgrade puts the posting exceptions back in their own table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 02:55:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

from store._sla import Sla, SlaPolicy

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTING_POLICY = SlaPolicy(by_kind={"posting": Sla(1, 3)})
_TEXT = ("kind", "source_system", "source_id", "target_system", "reason", "message", "status", "last_run_id", "note")
_UTC = sqlmodel.sql.sqltypes.UTCDateTime


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _old_table() -> sa.TableClause:
    return sa.table(
        "posting_exception",
        sa.column("id", sa.Integer()),
        sa.column("attempts", sa.Integer()),
        *(sa.column(name) for name in _TEXT),
        sa.column("business_date", sa.Date()),
        sa.column("values", sa.JSON()),
        *(sa.column(name, _UTC()) for name in ("first_seen", "last_seen", "closed_at")),
    )


def _new_table() -> sa.TableClause:
    texts = ("flow", "system", "kind", "business_key", "reason", "message", "state", "owner", "last_run_id")
    return sa.table(
        "exception",
        sa.column("id", sa.Integer()),
        *(sa.column(name) for name in (*texts, "resolved_by", "note")),
        sa.column("business_date", sa.Date()),
        *(sa.column(name, sa.JSON()) for name in ("values", "records", "retry_input")),
        *(sa.column(name, sa.Integer()) for name in ("occurrences", "escalation_level")),
        *(sa.column(name, _UTC()) for name in ("first_seen", "last_seen", "escalated_at", "next_escalation_at")),
        sa.column("closed_at", _UTC()),
    )


def upgrade() -> None:
    connection = op.get_bind()
    old = _old_table()
    copied = []
    for row in connection.execute(sa.select(old).order_by(old.c.id)).mappings():
        first_seen = _aware(row["first_seen"])
        assert first_seen is not None
        due = _POSTING_POLICY.due("posting", row["kind"], first_seen, 0) if row["status"] == "open" else None
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
                "next_escalation_at": due,
                "closed_at": _aware(row["closed_at"]),
                "resolved_by": None,
                "note": row["note"],
            }
        )
    if copied:
        op.bulk_insert(_new_table(), copied)  # type: ignore[arg-type]
    with op.batch_alter_table("posting_exception", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_exception_status"))
        batch_op.drop_index(batch_op.f("ix_posting_exception_business_date"))
    op.drop_table("posting_exception")


def downgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "posting_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", text(length=16), nullable=False),
        sa.Column("source_system", text(length=32), nullable=False),
        sa.Column("source_id", text(length=255), nullable=False),
        sa.Column("target_system", text(length=32), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("reason", text(length=32), nullable=False),
        sa.Column("message", text(length=2000), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("status", text(length=16), nullable=False),
        sa.Column("first_seen", _UTC(), nullable=False),
        sa.Column("last_seen", _UTC(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_run_id", text(length=255), nullable=False),
        sa.Column("closed_at", _UTC(), nullable=True),
        sa.Column("note", text(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("target_system", "kind", "source_id", name="uq_posting_exception_source"),
    )
    with op.batch_alter_table("posting_exception", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posting_exception_business_date"), ["business_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_posting_exception_status"), ["status"], unique=False)
    connection = op.get_bind()
    new = _new_table()
    posting = connection.execute(sa.select(new).where(new.c.flow == "posting").order_by(new.c.id)).mappings().all()
    back = [
        {
            "kind": row["kind"][:16],
            "source_system": (row["records"] or [{}])[0].get("system", "kantata"),
            "source_id": row["business_key"],
            "target_system": row["system"],
            "business_date": row["business_date"],
            "reason": row["reason"],
            "message": row["message"],
            "values": row["values"],
            "status": "open" if row["state"] == "acknowledged" else row["state"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "attempts": row["occurrences"],
            "last_run_id": row["last_run_id"],
            "closed_at": row["closed_at"],
            "note": row["note"],
        }
        for row in posting
        if row["business_date"] is not None
    ]
    if back:
        op.bulk_insert(_old_table(), back)  # type: ignore[arg-type]
    ids = [row["id"] for row in posting]
    history = sa.table("exception_history", sa.column("exception_id", sa.Integer()))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        connection.execute(sa.delete(history).where(history.c.exception_id.in_(chunk)))
        connection.execute(sa.delete(new).where(new.c.id.in_(chunk)))
