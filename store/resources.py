"""What the resource sync keeps: the people it applied, its marks, and the time off it set in the PSA.

- ``resource``: one row per HR worker (key: the canonical worker id, e.g. ``bamboohr:17``) with
  what psflow last applied to the PSA (user id, title, role, cost centre, skills, hours, dates)
  and the fingerprint of that apply, so an unchanged worker is skipped without a PSA call. The
  manager is kept here only (Kantata users have no manager field).
- ``resource_sync_state``: per legal entity and HR system, the change feed's high-water mark and
  when the last full sweep started; both only ever move forward (`save_mark`).
- ``resource_time_off``: the time off psflow APPLIED to the PSA, one row per worker-day. A run
  diffs HR's approved time off (staged) against it and sets or clears only the difference.
- ``resource_time_off_staging``: one run's copy of HR's approved time off, per worker-day, with
  the hours of each request behind it; re-staging a request overwrites its hours (idempotent), two
  requests on one day keep the larger. The run drops it when done (`clear_staging`).

`availability` answers "who is free between two dates" in pages of workers: capacity from the
standard hours within employment, less the applied time off summed per worker in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint, func, or_, tuple_
from sqlmodel import Field, SQLModel, col, delete, select

from store.db import Store, upsert_insert

DEFAULT_HOURS_PER_WEEK = Decimal(40)
"""A worker without standard hours works a 40-hour week (8 hours a day) for availability."""
_PAGE = 1000
_KEYS_PER_QUERY = 500
_HOURS = Decimal("0.01")


def _now() -> datetime:
    return datetime.now(UTC)


class Source(Protocol):
    """A legal entity and its HR system (``activities.resources.models.HRSource`` is one)."""

    @property
    def legal_entity(self) -> str: ...

    @property
    def hr_system(self) -> str: ...


class ResourceRow(SQLModel, table=True):
    """One HR worker as psflow last applied them to the PSA."""

    __tablename__ = "resource"
    __table_args__ = (
        UniqueConstraint("worker_id", name="uq_resource_worker"),
        Index("ix_resource_source", "legal_entity", "hr_system", "worker_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    worker_id: str = Field(max_length=255, description="The canonical HR worker id, e.g. bamboohr:17")
    legal_entity: str = Field(max_length=64)
    hr_system: str = Field(max_length=16)
    employee_id: str | None = Field(default=None, max_length=255, index=True)
    email: str | None = Field(default=None, max_length=320, index=True, description="Lower case")
    name: str | None = Field(default=None, max_length=255)
    psa_user_id: str | None = Field(default=None, max_length=64, index=True)
    title: str | None = Field(default=None, max_length=255)
    role: str | None = Field(default=None, max_length=255)
    cost_centre: str | None = Field(default=None, max_length=128, index=True)
    skills: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    manager_id: str | None = Field(default=None, max_length=255)
    standard_hours_per_week: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 2), nullable=True))
    hire_date: date | None = None
    termination_date: date | None = None
    active: bool = True
    disabled_at: datetime | None = None
    allocations_removed_on: date | None = Field(default=None, description="The last day allocations were cut at")
    applied_fingerprint: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(default_factory=_now)


class ResourceSyncStateRow(SQLModel, table=True):
    """Where one source's sync stands."""

    __tablename__ = "resource_sync_state"
    __table_args__ = (UniqueConstraint("legal_entity", "hr_system", name="uq_resource_sync_state"),)

    id: int | None = Field(default=None, primary_key=True)
    legal_entity: str = Field(max_length=64)
    hr_system: str = Field(max_length=16)
    high_water_mark: datetime | None = None
    last_full_sweep_at: datetime | None = None
    updated_at: datetime = Field(default_factory=_now)


class AppliedTimeOff(SQLModel, table=True):
    """Hours off psflow set in the PSA for one worker on one day."""

    __tablename__ = "resource_time_off"
    __table_args__ = (UniqueConstraint("worker_id", "day", name="uq_resource_time_off"),)

    id: int | None = Field(default=None, primary_key=True)
    worker_id: str = Field(max_length=255)
    day: date = Field(index=True)
    hours: Decimal = Field(sa_column=Column(Numeric(6, 2), nullable=False))
    updated_at: datetime = Field(default_factory=_now)


class StagedTimeOff(SQLModel, table=True):
    """HR's approved hours off for one worker-day, as one run read them; ``requests``: request id → hours."""

    __tablename__ = "resource_time_off_staging"
    __table_args__ = (UniqueConstraint("run_id", "worker_id", "day", name="uq_resource_time_off_staging"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=255)
    worker_id: str = Field(max_length=255)
    day: date
    hours: Decimal = Field(sa_column=Column(Numeric(6, 2), nullable=False))
    requests: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


@dataclass(frozen=True, slots=True)
class SyncState:
    """A source's high-water mark and when its last full sweep started (None: never)."""

    high_water_mark: datetime | None = None
    last_full_sweep_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Availability:
    """One worker's hours in a date range: capacity within employment, applied time off, what is left."""

    worker_id: str
    name: str | None
    email: str | None
    psa_user_id: str | None
    cost_centre: str | None
    skills: tuple[str, ...]
    capacity_hours: Decimal
    time_off_hours: Decimal
    free_hours: Decimal
    active: bool


@dataclass(frozen=True, slots=True)
class TimeOffDiff:
    """One worker's time off in a window: what HR approved (staged) and what psflow applied, by day."""

    worker_id: str
    psa_user_id: str | None
    staged: dict[date, Decimal]
    applied: dict[date, Decimal]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _later(old: datetime | None, new: datetime | None) -> datetime | None:
    old, new = _utc(old), _utc(new)
    if old is None or new is None:
        return new or old
    return max(old, new)


# -- marks -----------------------------------------------------------------------------------------


def sync_state(store: Store, source: Source) -> SyncState:
    """The source's mark and last full sweep; both None for a source never synced."""
    with store.session() as session:
        row = session.exec(
            select(ResourceSyncStateRow).where(
                ResourceSyncStateRow.legal_entity == source.legal_entity,
                ResourceSyncStateRow.hr_system == source.hr_system,
            )
        ).first()
    if row is None:
        return SyncState()
    return SyncState(_utc(row.high_water_mark), _utc(row.last_full_sweep_at))


def save_mark(store: Store, source: Source, mark: datetime | None, full_sweep_at: datetime | None = None) -> SyncState:
    """Move the source's mark (and last full sweep) forward; an older or None value leaves it as it is.

    Returns:
        The state now stored.
    """
    with store.session() as session:
        row = session.exec(
            select(ResourceSyncStateRow).where(
                ResourceSyncStateRow.legal_entity == source.legal_entity,
                ResourceSyncStateRow.hr_system == source.hr_system,
            )
        ).first()
        if row is None:
            row = ResourceSyncStateRow(legal_entity=source.legal_entity, hr_system=source.hr_system)
        row.high_water_mark = _later(row.high_water_mark, mark)
        row.last_full_sweep_at = _later(row.last_full_sweep_at, full_sweep_at)
        row.updated_at = _now()
        session.add(row)
        return SyncState(_utc(row.high_water_mark), _utc(row.last_full_sweep_at))


# -- resources -------------------------------------------------------------------------------------


def resource(store: Store, worker_id: str) -> ResourceRow | None:
    """The worker's row, or None when psflow never applied them."""
    with store.session() as session:
        return session.exec(select(ResourceRow).where(ResourceRow.worker_id == worker_id)).first()


def resource_by_user(store: Store, psa_user_id: str) -> ResourceRow | None:
    """The worker linked to a PSA user, or None."""
    with store.session() as session:
        return session.exec(
            select(ResourceRow).where(ResourceRow.psa_user_id == psa_user_id).order_by(col(ResourceRow.id))
        ).first()


def resources(store: Store, worker_ids: Iterable[str]) -> dict[str, ResourceRow]:
    """The rows of these workers that exist, by worker id."""
    ids = list(dict.fromkeys(worker_ids))
    found: dict[str, ResourceRow] = {}
    with store.session() as session:
        for start in range(0, len(ids), _KEYS_PER_QUERY):
            chunk = ids[start : start + _KEYS_PER_QUERY]
            for row in session.exec(select(ResourceRow).where(col(ResourceRow.worker_id).in_(chunk))):
                found[row.worker_id] = row
    return found


def save_resource(store: Store, worker_id: str, *, now: datetime | None = None, **values: Any) -> ResourceRow:
    """Create or update the worker's row with ``values`` (column name → value); e-mail kept lower case.

    ``legal_entity`` and ``hr_system`` are required when the row is new. ``updated_at`` becomes ``now``
    (default: the clock), which the HR reads compare with the feed's mark.
    """
    if values.get("email"):
        values["email"] = str(values["email"]).strip().lower()
    if "skills" in values:
        values["skills"] = list(values["skills"])
    with store.session() as session:
        row = session.exec(select(ResourceRow).where(ResourceRow.worker_id == worker_id)).first()
        if row is None:
            row = ResourceRow(worker_id=worker_id, **values)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        row.updated_at = now or _now()
        session.add(row)
        return row


def due_disable(
    store: Store, source: Source, today: date, *, after: str | None = None, limit: int = 200
) -> list[ResourceRow]:
    """Linked workers of the source whose last day is before ``today`` and who are not disabled yet.

    Keyset-paged by worker id (``after``).
    """
    query = select(ResourceRow).where(
        ResourceRow.legal_entity == source.legal_entity,
        ResourceRow.hr_system == source.hr_system,
        col(ResourceRow.termination_date) < today,
        col(ResourceRow.disabled_at).is_(None),
        col(ResourceRow.psa_user_id).is_not(None),
    )
    if after is not None:
        query = query.where(col(ResourceRow.worker_id) > after)
    with store.session() as session:
        return list(session.exec(query.order_by(col(ResourceRow.worker_id)).limit(limit)).all())


# -- time off --------------------------------------------------------------------------------------


def stage_time_off(store: Store, run_id: str, rows: Iterable[tuple[str, date, Decimal, str]]) -> int:
    """Stage (worker id, day, hours, request id) rows for a run; returns the worker-days written.

    Idempotent: staging a request again replaces its hours for the day. Two requests on one
    worker-day keep the larger hours (the HR activity reports the overlap).
    """
    wanted: dict[tuple[str, date], dict[str, Decimal]] = {}
    for worker_id, day, hours, request_id in rows:
        wanted.setdefault((worker_id, day), {})[request_id] = Decimal(hours)
    if not wanted:
        return 0
    keys = list(wanted)
    table = StagedTimeOff.__table__  # type: ignore[attr-defined]
    with store.session() as session:
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            chunk = keys[start : start + _KEYS_PER_QUERY]
            existing = session.exec(
                select(StagedTimeOff).where(
                    StagedTimeOff.run_id == run_id,
                    tuple_(col(StagedTimeOff.worker_id), col(StagedTimeOff.day)).in_(chunk),
                )
            ).all()
            earlier = {(row.worker_id, row.day): row.requests for row in existing}
            values = []
            for key in chunk:
                requests = {rid: Decimal(h) for rid, h in earlier.get(key, {}).items()} | wanted[key]
                values.append(
                    {
                        "run_id": run_id,
                        "worker_id": key[0],
                        "day": key[1],
                        "hours": max(requests.values()).quantize(_HOURS),
                        "requests": {rid: str(h) for rid, h in sorted(requests.items())},
                    }
                )
            statement = upsert_insert(session, table)
            statement = statement.on_conflict_do_update(
                index_elements=["run_id", "worker_id", "day"],
                set_={"hours": statement.excluded.hours, "requests": statement.excluded.requests},
            )
            session.execute(statement, values)
    return len(keys)


def clear_staging(store: Store, run_id: str) -> int:
    """Drop what a run staged; returns how many worker-days went."""
    with store.session() as session:
        result = session.exec(delete(StagedTimeOff).where(col(StagedTimeOff.run_id) == run_id))
        return int(result.rowcount or 0)


def time_off_workers(
    store: Store, source: Source, run_id: str, start: date, end: date, *, after: str | None, limit: int
) -> list[str]:
    """The next ``limit`` workers of the source (by id, after ``after``) with staged or applied time off in the window.

    Only workers psflow knows (a ``resource`` row of the source) are listed.
    """
    bound = after or ""
    staged = select(StagedTimeOff.worker_id).where(
        StagedTimeOff.run_id == run_id,
        col(StagedTimeOff.day).between(start, end),
        col(StagedTimeOff.worker_id) > bound,
    )
    applied = select(AppliedTimeOff.worker_id).where(
        col(AppliedTimeOff.day).between(start, end), col(AppliedTimeOff.worker_id) > bound
    )
    query = (
        select(ResourceRow.worker_id)
        .where(
            ResourceRow.legal_entity == source.legal_entity,
            ResourceRow.hr_system == source.hr_system,
            col(ResourceRow.worker_id) > bound,
            or_(col(ResourceRow.worker_id).in_(staged), col(ResourceRow.worker_id).in_(applied)),
        )
        .order_by(col(ResourceRow.worker_id))
        .limit(limit)
    )
    with store.session() as session:
        return list(session.exec(query).all())


def time_off_diffs(store: Store, run_id: str, worker_ids: Sequence[str], start: date, end: date) -> list[TimeOffDiff]:
    """Per worker (in the order given): the run's staged and the applied hours by day in the window."""
    staged: dict[str, dict[date, Decimal]] = {w: {} for w in worker_ids}
    applied: dict[str, dict[date, Decimal]] = {w: {} for w in worker_ids}
    users: dict[str, str | None] = {}
    with store.session() as session:
        for first in range(0, len(worker_ids), _KEYS_PER_QUERY):
            chunk = list(worker_ids[first : first + _KEYS_PER_QUERY])
            for s in session.exec(
                select(StagedTimeOff).where(
                    StagedTimeOff.run_id == run_id,
                    col(StagedTimeOff.worker_id).in_(chunk),
                    col(StagedTimeOff.day).between(start, end),
                )
            ):
                staged[s.worker_id][s.day] = Decimal(s.hours)
            for a in session.exec(
                select(AppliedTimeOff).where(
                    col(AppliedTimeOff.worker_id).in_(chunk), col(AppliedTimeOff.day).between(start, end)
                )
            ):
                applied[a.worker_id][a.day] = Decimal(a.hours)
            for worker_id, user_id in session.exec(
                select(ResourceRow.worker_id, ResourceRow.psa_user_id).where(col(ResourceRow.worker_id).in_(chunk))
            ):
                users[worker_id] = user_id
    return [TimeOffDiff(w, users.get(w), staged[w], applied[w]) for w in worker_ids]


def record_time_off(
    store: Store, worker_id: str, *, set_days: dict[date, Decimal] | None = None, cleared: Iterable[date] = ()
) -> None:
    """Write down time off psflow set (day → hours) and cleared in the PSA for a worker."""
    gone = list(cleared)
    with store.session() as session:
        if gone:
            session.exec(
                delete(AppliedTimeOff).where(
                    col(AppliedTimeOff.worker_id) == worker_id, col(AppliedTimeOff.day).in_(gone)
                )
            )
        if set_days:
            table = AppliedTimeOff.__table__  # type: ignore[attr-defined]
            statement = upsert_insert(session, table)
            statement = statement.on_conflict_do_update(
                index_elements=["worker_id", "day"],
                set_={"hours": statement.excluded.hours, "updated_at": statement.excluded.updated_at},
            )
            at = _now()
            session.execute(
                statement,
                [{"worker_id": worker_id, "day": d, "hours": h, "updated_at": at} for d, h in sorted(set_days.items())],
            )


def applied_time_off(store: Store, worker_id: str, start: date, end: date) -> dict[date, Decimal]:
    """The hours off psflow applied for a worker in the window, by day."""
    with store.session() as session:
        rows = session.exec(
            select(AppliedTimeOff).where(
                AppliedTimeOff.worker_id == worker_id, col(AppliedTimeOff.day).between(start, end)
            )
        ).all()
    return {row.day: Decimal(row.hours) for row in rows}


# -- availability ----------------------------------------------------------------------------------


def weekdays(start: date, end: date) -> int:
    """Monday-to-Friday days from ``start`` to ``end``, both included (0 when ``end`` is before ``start``)."""
    if end < start:
        return 0
    days = (end - start).days + 1
    weeks, rest = divmod(days, 7)
    first = start.weekday()
    return weeks * 5 + sum(1 for offset in range(rest) if (first + offset) % 7 < 5)


def _capacity(row: ResourceRow, start: date, end: date) -> Decimal:
    first = max(start, row.hire_date) if row.hire_date else start
    last = min(end, row.termination_date) if row.termination_date else end
    daily = Decimal(row.standard_hours_per_week or DEFAULT_HOURS_PER_WEEK) / 5
    return (daily * weekdays(first, last)).quantize(_HOURS)


def _employed_pages(
    store: Store, start: date, end: date, cost_centre: str | None, legal_entity: str | None
) -> Iterator[list[ResourceRow]]:
    after = ""
    while True:
        query = select(ResourceRow).where(
            col(ResourceRow.worker_id) > after,
            or_(col(ResourceRow.hire_date).is_(None), col(ResourceRow.hire_date) <= end),
            or_(col(ResourceRow.termination_date).is_(None), col(ResourceRow.termination_date) >= start),
        )
        if cost_centre is not None:
            query = query.where(ResourceRow.cost_centre == cost_centre)
        if legal_entity is not None:
            query = query.where(ResourceRow.legal_entity == legal_entity)
        with store.session() as session:
            page = list(session.exec(query.order_by(col(ResourceRow.worker_id)).limit(_PAGE)).all())
        if page:
            yield page
        if len(page) < _PAGE:
            return
        after = page[-1].worker_id


def availability(
    store: Store,
    start: date,
    end: date,
    *,
    skill: str | None = None,
    cost_centre: str | None = None,
    legal_entity: str | None = None,
) -> list[Availability]:
    """Everyone employed at some point from ``start`` to ``end`` (both included), by worker id.

    ``capacity_hours``: standard hours a week / 5 for each Monday-to-Friday day in the range and
    within employment (hire date to termination date; 40 hours a week when HR gives none);
    ``time_off_hours``: the time off psflow applied in the range; ``free_hours``: capacity less
    time off, never below zero. Allocations are not subtracted here (the PSA holds them).
    ``skill`` matches case-insensitively; the filters combine. Workers are read 1,000 at a time
    and their time off summed per page in one grouped query.
    """
    wanted_skill = skill.strip().lower() if skill else None
    found: list[Availability] = []
    for page in _employed_pages(store, start, end, cost_centre, legal_entity):
        rows = [r for r in page if wanted_skill is None or wanted_skill in {s.lower() for s in r.skills}]
        if not rows:
            continue
        with store.session() as session:
            sums = dict(
                session.exec(
                    select(AppliedTimeOff.worker_id, func.sum(AppliedTimeOff.hours))
                    .where(
                        col(AppliedTimeOff.worker_id).in_([r.worker_id for r in rows]),
                        col(AppliedTimeOff.day).between(start, end),
                    )
                    .group_by(col(AppliedTimeOff.worker_id))
                ).all()
            )
        for row in rows:
            capacity = _capacity(row, start, end)
            off = Decimal(sums.get(row.worker_id) or 0).quantize(_HOURS)
            found.append(
                Availability(
                    worker_id=row.worker_id,
                    name=row.name,
                    email=row.email,
                    psa_user_id=row.psa_user_id,
                    cost_centre=row.cost_centre,
                    skills=tuple(row.skills),
                    capacity_hours=capacity,
                    time_off_hours=off,
                    free_hours=max(capacity - off, Decimal(0)).quantize(_HOURS),
                    active=row.active,
                )
            )
    return found


def business_days(start: date, end: date) -> Iterator[date]:
    """Monday-to-Friday days from ``start`` to ``end``, both included."""
    day = start
    while day <= end:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)
