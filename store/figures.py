"""The business figures dashboards read from the store: time to post, invoice lag, sync success rate."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, inspect
from sqlmodel import col, select

from store.db import Store
from store.invoicing import INVOICE_POSTED
from store.tables import AuditEvent, LedgerEntry, PostingException

ERP_REFUSED = "erp_refused"
"""The posting exception reason of records the ERP refused (every other reason is a rejection)."""


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
