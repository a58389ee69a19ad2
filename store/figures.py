"""The business figures dashboards read from the store: time to post, invoice lag, sync success rate, exceptions.

The exception figures are SQL aggregates (counts per age bucket, the oldest, percentiles by rank), so
they cost the same few queries over a hundred thousand exceptions as over ten.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, case, func, inspect, or_
from sqlalchemy import select as select_columns
from sqlmodel import col, select

from store.db import Store
from store.exceptions import ACTIVE, RESOLVED
from store.invoicing import INVOICE_POSTED
from store.tables import AuditEvent, ExceptionRecord, LedgerEntry

ERP_REFUSED = "erp_refused"
"""The posting exception reason of records the ERP refused (every other reason is a rejection)."""
POSTING = "posting"


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
    store has no exception table: the failures are then unknown, not zero.
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
        if not inspect(store.engine).has_table(ExceptionRecord.__tablename__):
            return SyncRate(posted=posted)
        reasons = session.exec(
            select(ExceptionRecord.reason, func.count())
            .where(
                ExceptionRecord.flow == POSTING,
                ExceptionRecord.first_seen >= low,
                ExceptionRecord.first_seen < high,
            )
            .group_by(col(ExceptionRecord.reason))
        ).all()
    failed = sum(count for reason, count in reasons if reason == ERP_REFUSED)
    return SyncRate(posted=posted, rejected=sum(count for _, count in reasons) - failed, failed=failed)


AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("<1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
    (">30d", None),
)
"""The age buckets of open exceptions: each holds ages below its bound and at or above the previous one's."""


@dataclass(frozen=True)
class OpenExceptions:
    """The exceptions of one flow and kind open at an instant, counted by age (since first seen)."""

    flow: str
    kind: str
    by_age: tuple[int, ...]
    """One count per `AGE_BUCKETS` entry."""
    oldest: timedelta
    escalated: int
    """How many of them had been escalated (level 1 or more) by then."""

    @property
    def count(self) -> int:
        """How many were open."""
        return sum(self.by_age)


def open_exceptions(store: Store, as_of: datetime) -> list[OpenExceptions]:
    """Exceptions open at ``as_of`` per flow and kind, by age bucket, with the oldest's age: one grouped query.

    Open at ``as_of``: first seen by then, and active now or closed only after it (so a past
    ``as_of`` counts what was resolved since). Sorted by flow and kind.
    """
    first_seen = col(ExceptionRecord.first_seen)
    bucket: ColumnElement[int] = case(
        *((first_seen > as_of - bound, index) for index, (_, bound) in enumerate(AGE_BUCKETS) if bound is not None),
        else_=len(AGE_BUCKETS) - 1,
    )
    escalated = case(
        (
            (col(ExceptionRecord.escalation_level) > 0) & (col(ExceptionRecord.escalated_at) <= as_of),
            1,
        ),
        else_=0,
    )
    # Grouped over a subquery's labels: Postgres would not match a GROUP BY expression whose bound
    # parameters are other placeholders than the SELECT's.
    aged = (
        select_columns(
            col(ExceptionRecord.flow).label("flow"),
            col(ExceptionRecord.kind).label("kind"),
            bucket.label("bucket"),
            first_seen.label("first_seen"),
            escalated.label("escalated"),
        )
        .where(
            first_seen <= as_of,
            or_(col(ExceptionRecord.state).in_(ACTIVE), col(ExceptionRecord.closed_at) > as_of),
        )
        .subquery()
    )
    query = select_columns(
        aged.c.flow, aged.c.kind, aged.c.bucket, func.count(), func.min(aged.c.first_seen), func.sum(aged.c.escalated)
    ).group_by(aged.c.flow, aged.c.kind, aged.c.bucket)
    with store.session() as session:
        rows = session.execute(query).all()
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(AGE_BUCKETS))
    oldest: dict[tuple[str, str], datetime] = {}
    flagged: dict[tuple[str, str], int] = defaultdict(int)
    for flow, kind, index, count, first, raised in rows:
        counts[flow, kind][index] += count
        first = _utc(first)
        oldest[flow, kind] = min(oldest.get((flow, kind), first), first)
        flagged[flow, kind] += int(raised or 0)
    return [
        OpenExceptions(flow, kind, tuple(counts[flow, kind]), as_of - oldest[flow, kind], flagged[flow, kind])
        for flow, kind in sorted(counts)
    ]


def time_to_resolve(store: Store, start: date, end: date) -> dict[str, Distribution]:
    """First seen → resolved, for exceptions resolved on the days ``start``..``end`` (UTC), per flow.

    Ignored exceptions are not resolutions and do not count. The percentiles are nearest-rank,
    each one row read at its rank (``ORDER BY … OFFSET``), never the durations themselves.
    """
    low, high = _window(start, end)
    closed_at = col(ExceptionRecord.closed_at)
    resolved = (col(ExceptionRecord.state) == RESOLVED, closed_at >= low, closed_at < high)
    result: dict[str, Distribution] = {}
    with store.session() as session:
        seconds = _seconds_between(session.get_bind().dialect.name, col(ExceptionRecord.first_seen), closed_at)
        totals = session.exec(
            select(col(ExceptionRecord.flow), func.count(), func.max(seconds))
            .where(*resolved)
            .group_by(col(ExceptionRecord.flow))
            .order_by(col(ExceptionRecord.flow))
        ).all()
        for flow, count, longest in totals:

            def ranked(percent: int, flow: str = flow, count: int = count) -> timedelta:
                offset = max(0, math.ceil(percent / 100 * count) - 1)
                value = session.exec(
                    select(seconds)
                    .where(*resolved, ExceptionRecord.flow == flow)
                    .order_by(seconds, col(ExceptionRecord.id))
                    .offset(offset)
                    .limit(1)
                ).one()
                return _duration(value)

            result[flow] = Distribution(count, ranked(50), ranked(95), _duration(longest))
    return result


def _seconds_between(dialect: str, early: Any, late: Any) -> ColumnElement[float]:
    """``late - early`` in seconds, in SQL: SQLite keeps instants as text, Postgres subtracts them."""
    if dialect == "postgresql":
        return cast(ColumnElement[float], func.extract("epoch", late - early))
    return (func.julianday(late) - func.julianday(early)) * 86400.0


def _duration(seconds: float | Decimal) -> timedelta:
    return timedelta(seconds=round(float(seconds)))


def _utc(instant: datetime) -> datetime:
    """An instant read back from the store as UTC (SQLite returns them without their zone)."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
