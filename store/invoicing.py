"""Invoicing over the posting ledger, and the business figures dashboards read from the store.

A billing cycle's invoice for a project takes the project's posted, billable ledger rows dated on
or before the period's last day that no invoice has taken yet. Rows approved late for an earlier
month therefore go on the next cycle's invoice instead of being stranded. The rows are *reserved*
for the invoice (``invoice_id`` set, in one ``UPDATE ... WHERE invoice_id IS NULL``) before the
ERP invoice is written. Two invoices of the same project therefore never bill one row twice, and
a retry rebuilds exactly the rows the first attempt took. The ``invoice.posted`` audit event marks
the moment the ERP invoice exists; rows reserved by an invoice that never posted stay with it
until a re-run of that project and period posts it.

Invoice ids are ``inv:{project_id}:{YYYY-MM}``, or ``inv:{project_id}:{YYYY-MM}:{currency}``
for each currency when one cycle's rows are in several currencies.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, inspect, or_, update
from sqlmodel import col, select

from store.db import Store
from store.tables import AuditEvent, LedgerEntry, PostingException

INVOICE_POSTED = "invoice.posted"
"""The audit action recorded once per invoice when the ERP has it."""
ERP_REFUSED = "erp_refused"
"""The posting exception reason of records the ERP refused (every other reason is a rejection)."""


def invoice_id(project_id: str, period: str) -> str:
    """The invoice id (and ERP external id) of a project's invoice for a ``YYYY-MM`` period."""
    return f"inv:{project_id}:{period}"


def _claimed_by(base_id: str) -> Any:
    """Rows reserved by the invoice ``base_id`` or by one of its per-currency invoices."""
    reserved_by = col(LedgerEntry.invoice_id)
    return or_(reserved_by == base_id, reserved_by.startswith(f"{base_id}:", autoescape=True))


def _unbilled(project_id: str, through: date) -> list[Any]:
    return [
        LedgerEntry.project_id == project_id,
        col(LedgerEntry.billable).is_(True),
        col(LedgerEntry.invoice_id).is_(None),
        LedgerEntry.business_date <= through,
    ]


def has_unbilled(store: Store, project_id: str, through: date) -> bool:
    """Whether the project has billable rows dated on or before ``through`` that no invoice has taken."""
    with store.session() as session:
        return session.exec(select(LedgerEntry.id).where(*_unbilled(project_id, through)).limit(1)).first() is not None


def reserve_for_invoice(store: Store, project_id: str, through: date, base_id: str) -> list[LedgerEntry]:
    """The ledger rows invoice ``base_id`` bills, reserving them on its first call.

    The first call takes the project's unbilled billable rows dated on or before ``through``:
    all of them get ``base_id`` when they share one currency, else ``{base_id}:{currency}``.
    Later calls (retries, re-runs) return the rows already reserved and take no new ones, so an
    invoice's content is fixed once decided.

    Returns:
        The reserved rows, ordered by business date and source id; empty when nothing is billable.
    """
    reserved = rows_of_invoice(store, base_id)
    if reserved:
        return reserved
    with store.session() as session:
        currencies = session.exec(select(LedgerEntry.currency).where(*_unbilled(project_id, through)).distinct()).all()
    if currencies:
        # The write comes first in its transaction: SQLite then never has to upgrade a stale read lock.
        with store.session() as session:
            for currency in sorted(currencies):
                target = base_id if len(currencies) == 1 else f"{base_id}:{currency}"
                session.execute(
                    update(LedgerEntry)
                    .where(*_unbilled(project_id, through), col(LedgerEntry.currency) == currency)
                    .values(invoice_id=target)
                )
    return rows_of_invoice(store, base_id)


def rows_of_invoice(store: Store, base_id: str) -> list[LedgerEntry]:
    """The ledger rows reserved by invoice ``base_id`` (and its per-currency invoices)."""
    with store.session() as session:
        return list(
            session.exec(
                select(LedgerEntry)
                .where(_claimed_by(base_id))
                .order_by(col(LedgerEntry.business_date), col(LedgerEntry.source_id))
            ).all()
        )


def posted_invoices(store: Store, invoice_ids: Iterable[str]) -> set[str]:
    """Which of these invoices the ERP already has (an ``invoice.posted`` audit event exists)."""
    wanted = sorted(set(invoice_ids))
    if not wanted:
        return set()
    with store.session() as session:
        found = session.exec(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == INVOICE_POSTED, col(AuditEvent.entity_id).in_(wanted)
            )
        ).all()
    return set(found)


def record_invoice_posted(store: Store, actor: str, invoice: str, **detail: Any) -> bool:
    """Record that the ERP has ``invoice``, once; False when it was already recorded."""
    if posted_invoices(store, [invoice]):
        return False
    store.audit(actor, INVOICE_POSTED, "invoice", invoice, **detail)
    return True


def projects_to_invoice(store: Store, period: str, through: date) -> list[str]:
    """Projects whose invoice for ``period`` has work to do, sorted.

    That is: unbilled billable rows dated on or before ``through``, or rows reserved by the
    period's invoice that has not posted (an earlier run failed; a re-run finishes it).
    """
    with store.session() as session:
        unbilled = session.exec(
            select(LedgerEntry.project_id)
            .where(
                col(LedgerEntry.billable).is_(True),
                col(LedgerEntry.invoice_id).is_(None),
                LedgerEntry.business_date <= through,
            )
            .distinct()
        ).all()
        reserved = session.exec(
            select(LedgerEntry.project_id, LedgerEntry.invoice_id)
            .where(col(LedgerEntry.invoice_id).contains(f":{period}", autoescape=True))
            .distinct()
        ).all()
    pending: dict[str, str] = {}
    for project_id, reserved_by in reserved:
        base = invoice_id(project_id, period)
        if reserved_by is not None and (reserved_by == base or reserved_by.startswith(f"{base}:")):
            pending[reserved_by] = project_id
    unfinished = {pending[i] for i in set(pending) - posted_invoices(store, pending)}
    return sorted(set(unbilled) | unfinished)


def known_project(store: Store, project_id: str) -> bool:
    """Whether psflow has seen the project: posted work in the ledger, or ids in the id map."""
    with store.session() as session:
        if session.exec(select(LedgerEntry.id).where(LedgerEntry.project_id == project_id).limit(1)).first():
            return True
    return bool(store.ids_of("project", project_id))


# -- business figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """Durations summarised: how many, the median, the 95th percentile and the longest."""

    count: int
    p50: timedelta | None
    p95: timedelta | None
    max: timedelta | None

    @classmethod
    def of(cls, durations: Sequence[timedelta]) -> Distribution:
        """Nearest-rank percentiles of ``durations`` (None when there are none)."""
        ordered = sorted(durations)
        if not ordered:
            return cls(0, None, None, None)
        return cls(len(ordered), _rank(ordered, 50), _rank(ordered, 95), ordered[-1])


def _rank(ordered: Sequence[timedelta], percent: int) -> timedelta:
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _window(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC): instants of the days start..end."""
    return (
        datetime.combine(start, datetime.min.time(), UTC),
        datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC),
    )


def time_to_post(store: Store, start: date, end: date) -> tuple[Distribution, dict[date, Distribution]]:
    """Approval → posted, for ledger rows posted on the days ``start``..``end`` (UTC).

    Returns:
        The distribution over the whole range, and one per posting day.
    """
    low, high = _window(start, end)
    with store.session() as session:
        rows = session.exec(
            select(LedgerEntry.approved_at, LedgerEntry.posted_at).where(
                col(LedgerEntry.approved_at).is_not(None), LedgerEntry.posted_at >= low, LedgerEntry.posted_at < high
            )
        ).all()
    per_day: dict[date, list[timedelta]] = defaultdict(list)
    for approved_at, posted_at in rows:
        assert approved_at is not None
        per_day[posted_at.astimezone(UTC).date()].append(posted_at - approved_at)
    everything = [d for durations in per_day.values() for d in durations]
    return Distribution.of(everything), {day: Distribution.of(per_day[day]) for day in sorted(per_day)}


def invoice_lag(store: Store, start: date, end: date) -> Distribution:
    """Period end → invoice posted, for invoices first posted on the days ``start``..``end`` (UTC)."""
    low, high = _window(start, end)
    with store.session() as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == INVOICE_POSTED, AuditEvent.at >= low, AuditEvent.at < high)
        ).all()
    lags = []
    for event in events:
        closed_at = event.detail.get("period_closed_at")
        if closed_at:
            lags.append(event.at - datetime.fromisoformat(closed_at))
    return Distribution.of(lags)


@dataclass(frozen=True)
class SyncRate:
    """Records posted against records the posting flow could not post.

    ``rejected`` (invalid at the source) and ``failed`` (the ERP refused them) are None when the
    store has no posting-exception table: the failures are then unknown, not zero.
    """

    posted: int
    rejected: int | None = None
    failed: int | None = None

    @property
    def rate(self) -> float | None:
        """posted / (posted + rejected + failed), or None when unknown or nothing happened."""
        if self.rejected is None or self.failed is None:
            return None
        attempted = self.posted + self.rejected + self.failed
        return self.posted / attempted if attempted else None


def sync_success_rate(store: Store, start: date, end: date) -> SyncRate:
    """Ledger rows posted on the days ``start``..``end`` against posting exceptions first seen then.

    An exception counts whatever became of it later (a record fixed and posted afterwards did not
    sync the first time); ``erp_refused`` ones failed, every other reason was rejected.
    """
    low, high = _window(start, end)
    with store.session() as session:
        posted = session.exec(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.posted_at >= low, LedgerEntry.posted_at < high)
        ).one()
        if not inspect(store.engine).has_table(PostingException.__tablename__):
            return SyncRate(posted=posted)
        reasons = session.exec(
            select(PostingException.reason, func.count())
            .where(PostingException.first_seen >= low, PostingException.first_seen < high)
            .group_by(col(PostingException.reason))
        ).all()
    failed = sum(count for reason, count in reasons if reason == ERP_REFUSED)
    return SyncRate(posted=posted, rejected=sum(count for _, count in reasons) - failed, failed=failed)
