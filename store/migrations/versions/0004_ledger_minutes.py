"""ledger minutes: time entries' durations in whole minutes instead of 4-decimal hours

Hours to 4 decimal places cannot hold 20 or 25 minutes (1.3333 h is 79.998 minutes), so a row's
hours disagreed with the duration NetSuite's time bill has. Each row's ``hours * 60`` becomes
``minutes``; a value that is not a whole number of minutes is rounded half-up to the nearest one,
as its time bill's ``H:MM`` was written, and counted. The count and the first rows are reported:
in the log, to ``Store.upgrade``'s caller (``psflow db upgrade`` prints them) and as a
``ledger.minutes_migrated`` audit event. Amounts are not touched: they are what was posted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00.000000
"""

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHOWN = 20
"""Inexact rows named in the report; the count covers all of them."""
_INEXACT = "ABS(hours * 60 - ROUND(hours * 60)) > 0.001"
"""4-decimal hours times 60 is either whole or at least 0.006 away from it, on SQLite's floats too."""

log = logging.getLogger("alembic.runtime.migration")


def report(message: str) -> None:
    """Log the message and hand it to `Store.upgrade`'s caller."""
    log.warning(message)
    context.config.attributes.setdefault("reports", []).append(message)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("posting_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minutes", sa.Integer(), nullable=True))
    converted = bind.execute(sa.text("SELECT COUNT(*) FROM posting_ledger WHERE hours IS NOT NULL")).scalar_one()
    inexact = bind.execute(sa.text(f"SELECT COUNT(*) FROM posting_ledger WHERE hours IS NOT NULL AND {_INEXACT}"))
    inexact_count = inexact.scalar_one()
    shown = bind.execute(
        sa.text(
            f"SELECT source_id, hours, CAST(ROUND(hours * 60) AS INTEGER) FROM posting_ledger "
            f"WHERE hours IS NOT NULL AND {_INEXACT} ORDER BY id LIMIT {SHOWN}"
        )
    ).all()
    bind.execute(
        sa.text("UPDATE posting_ledger SET minutes = CAST(ROUND(hours * 60) AS INTEGER) WHERE hours IS NOT NULL")
    )
    with op.batch_alter_table("posting_ledger", schema=None) as batch_op:
        batch_op.drop_column("hours")
    if not converted:
        return
    examples = [f"{source_id} ({float(hours):g} h -> {minutes} min)" for source_id, hours, minutes in shown]
    message = (
        f"posting ledger: {converted} time entries converted from hours to whole minutes, {inexact_count} inexactly"
    )
    if inexact_count:
        message += (
            " (hours x 60 not a whole number; rounded to the nearest minute, as NetSuite's H:MM was written; "
            "their amounts were computed from the rounded hours and may differ from the time bill by a minor unit"
            f" - compare them with NetSuite): {', '.join(examples)}{', ...' if inexact_count > len(shown) else ''}"
        )
    report(message)
    audit = sa.table(
        "audit_trail",
        sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("action", sa.String()),
        sa.column("entity", sa.String()),
        sa.column("entity_id", sa.String()),
        sa.column("detail", sa.JSON()),
    )
    detail = {"converted": converted, "inexact": inexact_count, "inexact_rows": [row[0] for row in shown]}
    bind.execute(
        audit.insert().values(
            at=datetime.now(UTC),
            actor="migration 0004",
            action="ledger.minutes_migrated",
            entity="posting_ledger",
            entity_id="hours",
            detail=detail,
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("posting_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hours", sa.Numeric(precision=9, scale=4), nullable=True))
    op.get_bind().execute(
        sa.text("UPDATE posting_ledger SET hours = ROUND(minutes / 60.0, 4) WHERE minutes IS NOT NULL")
    )
    with op.batch_alter_table("posting_ledger", schema=None) as batch_op:
        batch_op.drop_column("minutes")
