"""Pure Workday ↔ canonical mapping: workers (and staffing report rows) to `Consultant`s.

A worker's canonical id is ``workday:<WID>``. Where the staffing report and the worker resource
both carry a field, the report wins: it is what a real tenant configures for cost centre,
skills and cost rate, which the common worker resource does not return.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from canonical import Consultant, DateRange, Money, SystemName, SystemRef
from connectors._core import own_id
from connectors.workday.models import Reference, StaffingRow, TimeOffDetail, Worker

__all__ = [
    "COUNTED_TIME_OFF_STATUSES",
    "canonical_id",
    "consultant_from_worker",
    "report_flag",
    "report_skills",
    "time_off_ranges",
    "wid_of",
]

PREFIX = f"{SystemName.WORKDAY.value}:"
COUNTED_TIME_OFF_STATUSES = frozenset({"approved"})
"""Time off statuses that make a consultant unavailable (compared case-insensitively)."""

_TRUE = frozenset({"1", "true", "yes", "y", "active"})
_FALSE = frozenset({"0", "false", "no", "n", "inactive", "terminated"})


def canonical_id(wid: str) -> str:
    """The canonical id of the consultant behind a worker: ``workday:<WID>``."""
    return f"{PREFIX}{wid}"


def wid_of(worker_id: str) -> str:
    """The WID from a WID or a ``workday:<WID>`` canonical id.

    Raises:
        ValueError: If the value is empty or a canonical id of another system.
    """
    return own_id(worker_id, prefix=PREFIX, kind="Workday worker id", expected="a WID or 'workday:<WID>'")


def report_skills(value: Any) -> tuple[str, ...]:
    """Skills from a report column: ``"a; b"`` text, a list of text, or a list of objects.

    Objects contribute their ``descriptor`` or, failing that, their first text value.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.replace("\n", ";").split(";")
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    skills: list[str] = []
    for item in items:
        if isinstance(item, dict):
            texts = [v for v in item.values() if isinstance(v, str) and v.strip()]
            item = item.get("descriptor") if isinstance(item.get("descriptor"), str) else next(iter(texts), "")
        text = str(item).strip()
        if text:
            skills.append(text)
    return tuple(dict.fromkeys(skills))


def report_flag(value: Any) -> bool | None:
    """A report's boolean column (``"1"``/``"0"``, ``Yes``/``No``, JSON booleans); `None` if unreadable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def time_off_ranges(
    details: Iterable[TimeOffDetail], *, statuses: frozenset[str] = COUNTED_TIME_OFF_STATUSES
) -> tuple[DateRange, ...]:
    """Days of time off merged into ranges of consecutive calendar days, oldest first.

    Entries with a status outside `statuses` (requested, denied, cancelled) and entries of zero
    quantity do not count; an entry without a status does (it is time off the tenant reported).
    """
    days = sorted(
        {
            d.date
            for d in details
            if (d.status is None or (d.status.descriptor or "").strip().lower() in statuses)
            and (d.quantity is None or d.quantity > 0)
        }
    )
    ranges: list[DateRange] = []
    start: date | None = None
    previous: date | None = None
    for day in days:
        if start is None or previous is None or day != previous + timedelta(days=1):
            if start is not None and previous is not None:
                ranges.append(DateRange(start=start, end=previous))
            start = day
        previous = day
    if start is not None and previous is not None:
        ranges.append(DateRange(start=start, end=previous))
    return tuple(ranges)


def _ref_id(reference: Reference | None) -> str | None:
    return reference.id if reference is not None and reference.id else None


def _ref_name(reference: Reference | None) -> str | None:
    return reference.descriptor if reference is not None and reference.descriptor else None


def _cost_rate(row: StaffingRow | None) -> Money | None:
    if row is None or row.hourly_cost_rate is None or not row.currency or row.hourly_cost_rate <= Decimal(0):
        return None
    return Money(amount=row.hourly_cost_rate, currency=row.currency)


def consultant_from_worker(
    worker: Worker,
    *,
    staffing: StaffingRow | None = None,
    time_off: Iterable[DateRange] = (),
) -> Consultant:
    """Map a worker (and its staffing report row, if any) to a canonical consultant.

    Args:
        worker: The worker resource.
        staffing: The worker's row of the staffing report, matched by WID.
        time_off: The worker's time off in the window the caller asked about.

    Returns:
        The consultant; ``employee_id`` falls back to the WID when neither source has one, and
        ``active`` to `True` (the worker resource lists active workers unless asked otherwise).

    Raises:
        ValueError: The worker has no usable work email (every consultant needs one), or a value
            is out of the canonical model's range. The message names the worker.
    """
    if not worker.primary_work_email:
        raise ValueError(
            f"worker {worker.id} ({worker.descriptor}) has no primaryWorkEmail: "
            "add a primary work email in Workday so the consultant can be matched in the PSA"
        )
    row = staffing
    skills = report_skills(row.skills) if row is not None and row.skills is not None else ()
    if not skills:
        skills = tuple(dict.fromkeys(s.descriptor for s in worker.skills if s.descriptor))
    active = report_flag(row.active) if row is not None else None
    if active is None:
        active = worker.active if worker.active is not None else True
    try:
        return Consultant(
            id=canonical_id(worker.id),
            employee_id=(row.employee_id if row else None) or worker.worker_id or worker.id,
            name=worker.descriptor,
            email=worker.primary_work_email,
            title=worker.business_title,
            role=(row.job_profile if row else None) or _ref_name(worker.job_profile),
            cost_centre=(row.cost_center_id if row else None) or _ref_id(worker.cost_center),
            supervisory_org=(row.supervisory_organization_id if row else None)
            or _ref_id(worker.primary_supervisory_organization),
            location=_ref_name(worker.location) or (row.location if row else None),
            skills=skills,
            cost_rate=_cost_rate(row),
            active=active,
            time_off=tuple(time_off),
            source=SystemRef(system=SystemName.WORKDAY, id=worker.id),
            manager_id=canonical_id(row.manager_id) if row and row.manager_id else None,
            standard_hours_per_week=row.scheduled_weekly_hours if row else None,
            hire_date=worker.hire_date,
            termination_date=worker.termination_date,
        )
    except ValueError as exc:
        raise ValueError(f"worker {worker.id} ({worker.descriptor}) cannot be mapped to a consultant: {exc}") from exc
