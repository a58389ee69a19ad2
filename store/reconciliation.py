"""What reconciliation keeps: a staging table of the systems' records per run, and the runs' results.

A run copies each side's records of the period (PSA time entries and expenses of every status, ERP
time bills and expense reports, the posting ledger's rows) into ``reconciliation_staging``, keyed
by (run, side, kind, record id), page by page: a redone page overwrites what it wrote, so a retried
snapshot duplicates nothing. The compare then pages through the staged keys in record id order and
joins the three sides per record in SQL (`compare_page`): only the records of one page are ever in
memory. ``reconciliation_run`` holds each run's counts and differences for ``psflow reconcile status``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, CursorResult, Index, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel, col, delete, select

from store.db import Store, upsert_insert
from store.exceptions import ACTIVE
from store.tables import AuditEvent, ExceptionRecord, LedgerEntry

SIDES = ("psa", "erp", "ledger")
RECORD_KINDS = ("time_entry", "expense")
KINDS = (*RECORD_KINDS, "project", "invoice")


def _now() -> datetime:
    return datetime.now(UTC)


class StagedRecord(SQLModel, table=True):
    """One record of one side as a reconciliation run read it.

    ``record_id`` is the PSA record's id (the ERP's external id and the ledger's source id), or for an
    ERP record psflow did not write ``netsuite:<internal id>``; for projects, the project id.
    """

    __tablename__ = "reconciliation_staging"
    __table_args__ = (
        UniqueConstraint("run_key", "side", "kind", "record_id", name="uq_reconciliation_staging"),
        Index("ix_reconciliation_staging_keys", "run_key", "kind", "record_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_key: str = Field(max_length=255)
    side: str = Field(max_length=8, description="psa | erp | ledger")
    kind: str = Field(max_length=16, description="time_entry | expense | project | invoice")
    record_id: str = Field(max_length=255)
    project_id: str | None = Field(default=None, max_length=255)
    business_date: date | None = None
    minutes: int | None = None
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(18, 4), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    approved: bool | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ReconciliationRun(SQLModel, table=True):
    """One reconciliation of a period (or of one project in it): what was compared, what differed."""

    __tablename__ = "reconciliation_run"
    __table_args__ = (UniqueConstraint("run_key", name="uq_reconciliation_run"),)

    id: int | None = Field(default=None, primary_key=True)
    run_key: str = Field(max_length=255)
    workflow_id: str = Field(max_length=255)
    period: str = Field(max_length=7, index=True)
    project_id: str | None = Field(default=None, max_length=255)
    status: str = Field(default="running", max_length=32, description="running | clean | differences | failed")
    provisional: bool = False
    compared: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    differences: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fixed: int = 0
    started_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Staged:
    """One record to stage (a plain dataclass: 100k of them a period must stay cheap)."""

    side: str
    kind: str
    record_id: str
    project_id: str | None = None
    business_date: date | None = None
    minutes: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    approved: bool | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Side:
    """One side's view of one record in a compare page; None fields where the side has no value."""

    present: bool
    minutes: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    approved: bool | None = None
    project_id: str | None = None
    business_date: date | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Compared:
    """One record id of one kind with what each side holds of it."""

    kind: str
    record_id: str
    psa: Side
    erp: Side
    ledger: Side


def start_run(
    store: Store, *, run_key: str, workflow_id: str, period: str, project_id: str | None, provisional: bool
) -> None:
    """Record a run as running and clear whatever an earlier attempt of it staged."""
    with store.session() as session:
        session.exec(delete(StagedRecord).where(col(StagedRecord.run_key) == run_key))
        row = session.exec(select(ReconciliationRun).where(ReconciliationRun.run_key == run_key)).first()
        if row is None:
            row = ReconciliationRun(run_key=run_key, workflow_id=workflow_id, period=period, project_id=project_id)
        row.status, row.provisional, row.started_at, row.finished_at = "running", provisional, _now(), None
        session.add(row)


def stage(store: Store, run_key: str, records: Sequence[Staged]) -> int:
    """Write one page of records; a record staged before (a redone page) is overwritten. Returns how many."""
    if not records:
        return 0
    with store.session() as session:
        table = StagedRecord.__table__  # type: ignore[attr-defined]
        statement = upsert_insert(session, table)
        columns = ("project_id", "business_date", "minutes", "amount", "currency", "approved", "detail")
        statement = statement.on_conflict_do_update(
            index_elements=["run_key", "side", "kind", "record_id"],
            set_={name: statement.excluded[name] for name in columns},
        )
        rows = [
            {
                "run_key": run_key,
                "side": r.side,
                "kind": r.kind,
                "record_id": r.record_id,
                "project_id": r.project_id,
                "business_date": r.business_date,
                "minutes": r.minutes,
                "amount": r.amount,
                "currency": r.currency,
                "approved": r.approved,
                "detail": r.detail or {},
            }
            for r in records
        ]
        session.execute(statement, rows)
    return len(records)


def clear_staged(store: Store, run_key: str, side: str, kind: str) -> None:
    """Drop what a run staged of one side and kind, before that side is read again."""
    with store.session() as session:
        session.exec(
            delete(StagedRecord).where(
                col(StagedRecord.run_key) == run_key, col(StagedRecord.side) == side, col(StagedRecord.kind) == kind
            )
        )


def stage_ledger(
    store: Store, run_key: str, *, start: date, end: date, period: str, project_id: str | None, target: str
) -> int:
    """Copy the ledger's rows of the period (and project), and its invoices' totals, into the staging table.

    Two ``INSERT … SELECT`` statements: the rows dated in the period, one per posted record; and per
    invoice of the period (``inv:{project}:{period}``, its supplementary and per-currency ones) the sum
    of the rows it billed, whatever their dates.
    """
    project = "AND project_id = :project" if project_id is not None else ""
    columns = "run_key, side, kind, record_id, project_id, business_date, minutes, amount, currency, approved, detail"
    records = text(
        f"INSERT INTO reconciliation_staging ({columns}) "
        "SELECT :run_key, 'ledger', kind, source_id, project_id, business_date, minutes, amount, currency, NULL, '{}' "
        f"FROM posting_ledger WHERE target_system = :target AND business_date BETWEEN :start AND :end {project}"
    )
    invoices = text(
        f"INSERT INTO reconciliation_staging ({columns}) "
        "SELECT :run_key, 'ledger', 'invoice', invoice_id, MIN(project_id), NULL, NULL, SUM(amount), MIN(currency), "
        "NULL, '{}' FROM posting_ledger WHERE target_system = :target AND invoice_id LIKE :invoices "
        f"{project} GROUP BY invoice_id"
    )
    pattern = f"inv:{project_id}:{period}%" if project_id is not None else f"inv:%:{period}%"
    params: dict[str, Any] = {"run_key": run_key, "target": target, "start": start, "end": end, "invoices": pattern}
    if project_id is not None:
        params["project"] = project_id
    with store.session() as session:
        session.exec(
            delete(StagedRecord).where(col(StagedRecord.run_key) == run_key, col(StagedRecord.side) == "ledger")
        )
        inserted: CursorResult[Any] = session.execute(records, params)  # type: ignore[assignment]
        session.execute(invoices, params)
        return int(inserted.rowcount or 0)


def staged_counts(store: Store, run_key: str) -> dict[str, dict[str, int]]:
    """How many records of each kind each side staged: the counts compared."""
    counts: dict[str, dict[str, int]] = {side: {} for side in SIDES}
    with store.session() as session:
        rows = session.execute(
            text(
                "SELECT side, kind, COUNT(*) FROM reconciliation_staging WHERE run_key = :run_key GROUP BY side, kind"
            ),
            {"run_key": run_key},
        ).all()
    for side, kind, count in rows:
        counts.setdefault(side, {})[kind] = int(count)
    return counts


_PLACES = Decimal("0.0001")
_SIDE_COLUMNS = ("minutes", "amount", "currency", "approved", "project_id", "business_date", "detail")


def compare_page(store: Store, run_key: str, kind: str, *, after: str | None, limit: int) -> list[Compared]:
    """The next ``limit`` record ids of ``kind`` (after ``after``, in id order), each with all three sides.

    One query: the page's keys from the staging index, each left-joined to its PSA, ERP and ledger rows.
    """
    selected = ", ".join(
        f"{alias}.id IS NOT NULL, " + ", ".join(f"{alias}.{c}" for c in _SIDE_COLUMNS) for alias in "pel"
    )
    query = text(
        f"SELECT k.record_id, {selected} FROM ("
        "  SELECT DISTINCT record_id FROM reconciliation_staging"
        "  WHERE run_key = :run_key AND kind = :kind AND record_id > :after ORDER BY record_id LIMIT :limit"
        ") k "
        "LEFT JOIN reconciliation_staging p ON p.run_key = :run_key AND p.side = 'psa' AND p.kind = :kind "
        "  AND p.record_id = k.record_id "
        "LEFT JOIN reconciliation_staging e ON e.run_key = :run_key AND e.side = 'erp' AND e.kind = :kind "
        "  AND e.record_id = k.record_id "
        "LEFT JOIN reconciliation_staging l ON l.run_key = :run_key AND l.side = 'ledger' AND l.kind = :kind "
        "  AND l.record_id = k.record_id "
        "ORDER BY k.record_id"
    )
    with store.session() as session:
        rows = session.execute(query, {"run_key": run_key, "kind": kind, "after": after or "", "limit": limit}).all()
    width = 1 + len(_SIDE_COLUMNS)

    def side(row: Sequence[Any], at: int) -> Side:
        present, *values = row[at : at + width]
        if not present:
            return Side(present=False)
        fields = dict(zip(_SIDE_COLUMNS, values, strict=True))
        return Side(
            present=True,
            minutes=fields["minutes"],
            amount=_as_decimal(fields["amount"]),
            currency=fields["currency"],
            approved=None if fields["approved"] is None else bool(fields["approved"]),
            project_id=fields["project_id"],
            business_date=_as_date(fields["business_date"]),
            detail=_as_json(fields["detail"]),
        )

    return [
        Compared(
            kind=kind,
            record_id=row[0],
            psa=side(row, 1),
            erp=side(row, 1 + width),
            ledger=side(row, 1 + 2 * width),
        )
        for row in rows
    ]


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {} if value is None else dict(json.loads(value))


def _as_decimal(value: Any) -> Decimal | None:
    """A raw query's Numeric(18, 4) (a float on SQLite) as the Decimal it was written as."""
    return None if value is None else Decimal(str(value)).quantize(_PLACES)


_VANISHED = (
    "FROM reconciliation_staging l "
    "JOIN reconciliation_staging p ON p.run_key = l.run_key AND p.side = 'psa' AND p.kind = l.kind "
    "  AND p.record_id = l.record_id AND p.approved "
    "JOIN posting_ledger posted ON posted.target_system = :target AND posted.kind = l.kind "
    "  AND posted.source_id = l.record_id AND posted.invoice_id IS NULL "
    "LEFT JOIN reconciliation_staging e ON e.run_key = l.run_key AND e.side = 'erp' AND e.kind = l.kind "
    "  AND e.record_id = l.record_id "
    "WHERE l.run_key = :run_key AND l.side = 'ledger' AND e.id IS NULL "
)
"""Ledger rows whose ERP record is gone while the PSA still has the record approved, and no invoice billed them
(posted again, an invoiced record would be billed a second time)."""


def vanished_page(
    store: Store, run_key: str, kind: str, *, after: str | None, limit: int, target: str
) -> list[tuple[str, date]]:
    """One page of the rows auto-fix may post again (see ``_VANISHED``): (record id, business date)."""
    query = text(
        f"SELECT l.record_id, l.business_date {_VANISHED} AND l.kind = :kind AND l.record_id > :after "
        "ORDER BY l.record_id LIMIT :limit"
    )
    with store.session() as session:
        params = {"run_key": run_key, "kind": kind, "after": after or "", "limit": limit, "target": target}
        rows = session.execute(query, params).all()
    return [(record_id, _as_date(day) or date.min) for record_id, day in rows]


def vanished_count(store: Store, run_key: str, *, target: str) -> int:
    """How many rows auto-fix may post again (see ``_VANISHED``)."""
    with store.session() as session:
        found = session.execute(text(f"SELECT COUNT(*) {_VANISHED}"), {"run_key": run_key, "target": target})
        return int(found.scalar_one())


def with_posting_exception(store: Store, source_ids: Sequence[str]) -> set[str]:
    """Which of these PSA records the posting holds as an active exception (rejected, waiting for a person)."""
    if not source_ids:
        return set()
    with store.session() as session:
        rows = session.exec(
            select(ExceptionRecord.business_key).where(
                ExceptionRecord.flow == "posting",
                col(ExceptionRecord.state).in_(ACTIVE),
                col(ExceptionRecord.business_key).in_(list(source_ids)),
            )
        ).all()
    return set(rows)


def finish_run(
    store: Store,
    run_key: str,
    *,
    status: str,
    compared: dict[str, Any],
    differences: dict[str, int],
    fixed: int,
    keep_staging: bool = False,
) -> None:
    """Record a run's outcome and (unless asked to keep it) drop its staged records."""
    with store.session() as session:
        row = session.exec(select(ReconciliationRun).where(ReconciliationRun.run_key == run_key)).one()
        row.status, row.compared, row.differences, row.fixed, row.finished_at = (
            status,
            compared,
            dict(differences),
            fixed,
            _now(),
        )
        session.add(row)
        if not keep_staging:
            session.exec(delete(StagedRecord).where(col(StagedRecord.run_key) == run_key))


def runs_of(store: Store, period: str, project_id: str | None = None, *, limit: int = 20) -> list[ReconciliationRun]:
    """The period's runs, newest first (one project's when given)."""
    with store.session() as session:
        query = select(ReconciliationRun).where(ReconciliationRun.period == period)
        if project_id is not None:
            query = query.where(ReconciliationRun.project_id == project_id)
        return list(session.exec(query.order_by(col(ReconciliationRun.id).desc()).limit(limit)).all())


def remove_from_ledger(store: Store, *, target: str, kind: str, source_ids: Sequence[str], actor: str) -> int:
    """Remove ledger rows whose ERP record vanished, each written to the audit trail first (what it held).

    The posting then sees the record as never posted and posts it again, by the same external id.
    """
    removed = 0
    with store.session() as session:
        rows = session.exec(
            select(LedgerEntry).where(
                LedgerEntry.target_system == target,
                LedgerEntry.kind == kind,
                col(LedgerEntry.source_id).in_(list(source_ids)),
            )
        ).all()
        for row in rows:
            session.add(
                AuditEvent(
                    actor=actor,
                    action="ledger.removed_vanished",
                    entity=row.kind,
                    entity_id=row.source_id,
                    detail={
                        "reason": "its ERP record is gone; re-posted by reconciliation",
                        "target_id": row.target_id,
                        "project_id": row.project_id,
                        "business_date": row.business_date.isoformat(),
                        "amount": str(row.amount),
                        "currency": row.currency,
                        "minutes": row.minutes,
                        "run_id": row.run_id,
                        "invoice_id": row.invoice_id,
                    },
                )
            )
            session.delete(row)
            removed += 1
    return removed
