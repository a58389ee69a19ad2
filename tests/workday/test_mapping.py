"""Pure mapping: workers and staffing report rows → consultants; time off days → ranges."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from canonical import DateRange, Money, SystemName
from connectors.workday.mapping import (
    canonical_id,
    consultant_from_worker,
    report_flag,
    report_skills,
    time_off_ranges,
    wid_of,
)
from connectors.workday.models import StaffingRow, TimeOffDetail, Worker

WID = "3aa5550b7fe348b98d7b5741afc65534"

WORKER: dict[str, Any] = {
    "id": WID,
    "descriptor": "Logan McNeil",
    "businessTitle": "Engagement Manager",
    "primaryWorkEmail": "Logan.McNeil@Example.COM",
    "location": {"id": "LOC-LONDON", "descriptor": "London"},
    "primarySupervisoryOrganization": {"id": "SO-ADV-UK", "descriptor": "Advisory UK"},
    "workerId": "E-2001",
    "jobProfile": {"id": "JP-MANAGER", "descriptor": "Manager"},
    "costCenter": {"id": "CC-ADV-UK", "descriptor": "Advisory - United Kingdom"},
    "skills": [{"id": "S1", "descriptor": "Strategy"}, {"id": "S2", "descriptor": "Lean"}],
    "active": True,
    "unknownField": {"ignored": True},
}
COMMON_ONLY: dict[str, Any] = {  # what the documented common v1 worker carries, nothing more
    "id": WID,
    "descriptor": "Logan McNeil",
    "businessTitle": "Engagement Manager",
    "primaryWorkEmail": "logan.mcneil@example.com",
    "location": {"id": "9b1c", "descriptor": "London"},
    "primarySupervisoryOrganization": {"id": "77aa", "descriptor": "Advisory UK"},
}
ROW: dict[str, Any] = {
    "WID": WID,
    "Employee_ID": "21001",
    "Job_Profile": "Senior Manager",
    "Supervisory_Organization_ID": "SUP-ORG-7",
    "Cost_Center_ID": "41600",
    "Skills": "Strategy; Change management",
    "Active": "1",
    "Hourly_Cost_Rate": "140.50",
    "Currency": "GBP",
}


def test_worker_with_extensions() -> None:
    consultant = consultant_from_worker(Worker.model_validate(WORKER))
    assert consultant.id == f"workday:{WID}" == canonical_id(WID)
    assert consultant.source is not None and consultant.source.system is SystemName.WORKDAY
    assert consultant.source.id == WID
    assert consultant.employee_id == "E-2001"
    assert consultant.name == "Logan McNeil"
    assert consultant.email == "logan.mcneil@example.com"
    assert (consultant.title, consultant.role) == ("Engagement Manager", "Manager")
    assert (consultant.cost_centre, consultant.supervisory_org, consultant.location) == (
        "CC-ADV-UK",
        "SO-ADV-UK",
        "London",
    )
    assert consultant.skills == ("Strategy", "Lean")
    assert consultant.active is True
    assert consultant.cost_rate is None
    assert consultant.time_off == ()


def test_report_row_wins_over_worker_fields() -> None:
    consultant = consultant_from_worker(Worker.model_validate(WORKER), staffing=StaffingRow.model_validate(ROW))
    assert consultant.employee_id == "21001"
    assert consultant.role == "Senior Manager"
    assert (consultant.cost_centre, consultant.supervisory_org) == ("41600", "SUP-ORG-7")
    assert consultant.skills == ("Strategy", "Change management")
    assert consultant.cost_rate == Money.of("140.50", "GBP")


def test_common_worker_without_report_degrades_to_none() -> None:
    consultant = consultant_from_worker(Worker.model_validate(COMMON_ONLY))
    assert consultant.employee_id == WID  # nothing better to go on
    assert (consultant.role, consultant.cost_centre) == (None, None)
    assert consultant.supervisory_org == "77aa"
    assert consultant.skills == ()
    assert consultant.active is True


@pytest.mark.parametrize(
    ("worker_active", "report_active", "expected"),
    [
        (None, None, True),
        (False, None, False),
        (True, "0", False),
        (False, "Yes", True),
        (True, "maybe", True),
    ],
)
def test_active_flag(worker_active: bool | None, report_active: str | None, expected: bool) -> None:
    worker = Worker.model_validate({**WORKER, "active": worker_active})
    row = StaffingRow.model_validate({"WID": WID, "Active": report_active}) if report_active is not None else None
    assert consultant_from_worker(worker, staffing=row).active is expected


def test_time_off_is_carried() -> None:
    ranges = [DateRange(start=date(2025, 3, 3), end=date(2025, 3, 7))]
    assert consultant_from_worker(Worker.model_validate(WORKER), time_off=ranges).time_off == tuple(ranges)


@pytest.mark.parametrize(
    ("row", "cost_rate"),
    [
        ({"Hourly_Cost_Rate": "99", "Currency": "usd"}, Money.of("99", "USD")),
        ({"Hourly_Cost_Rate": "99"}, None),
        ({"Hourly_Cost_Rate": "0", "Currency": "USD"}, None),
        ({"Currency": "USD"}, None),
    ],
)
def test_cost_rate(row: dict[str, Any], cost_rate: Money | None) -> None:
    staffing = StaffingRow.model_validate({"WID": WID, **row})
    assert consultant_from_worker(Worker.model_validate(WORKER), staffing=staffing).cost_rate == cost_rate


@pytest.mark.parametrize("email", [None, ""])
def test_worker_without_email_is_refused_by_name(email: str | None) -> None:
    with pytest.raises(ValueError, match=rf"worker {WID} \(Logan McNeil\) has no primaryWorkEmail"):
        consultant_from_worker(Worker.model_validate({**WORKER, "primaryWorkEmail": email}))


def test_invalid_email_names_the_worker() -> None:
    with pytest.raises(ValueError, match=rf"worker {WID} \(Logan McNeil\) cannot be mapped"):
        consultant_from_worker(Worker.model_validate({**WORKER, "primaryWorkEmail": "not-an-email"}))


@pytest.mark.parametrize(
    ("value", "skills"),
    [
        (None, ()),
        ("", ()),
        ("Python; SQL;  ; Python", ("Python", "SQL")),
        ("Python\nSQL", ("Python", "SQL")),
        (["Python", " SQL "], ("Python", "SQL")),
        ([{"descriptor": "Python"}, {"Skill": "SQL"}, {}], ("Python", "SQL")),
        ("Strategy", ("Strategy",)),
    ],
)
def test_report_skills(value: Any, skills: tuple[str, ...]) -> None:
    assert report_skills(value) == skills


@pytest.mark.parametrize(
    ("value", "flag"),
    [("1", True), ("0", False), ("Yes", True), ("no", False), (True, True), (0, False), ("", None), (None, None)],
)
def test_report_flag(value: Any, flag: bool | None) -> None:
    assert report_flag(value) is flag


def _day(day: str, status: str | None = "Approved", quantity: str | None = "8") -> TimeOffDetail:
    body: dict[str, Any] = {"date": day, "quantity": quantity}
    if status is not None:
        body["status"] = {"descriptor": status}
    return TimeOffDetail.model_validate(body)


def _range(start: str, end: str) -> DateRange:
    return DateRange(start=date.fromisoformat(start), end=date.fromisoformat(end))


@pytest.mark.parametrize(
    ("days", "ranges"),
    [
        ([], ()),
        ([_day("2025-03-03")], (_range("2025-03-03", "2025-03-03"),)),
        (
            [_day("2025-03-05"), _day("2025-03-03"), _day("2025-03-04"), _day("2025-03-04")],
            (_range("2025-03-03", "2025-03-05"),),
        ),
        (
            [_day("2025-03-07"), _day("2025-03-10")],  # Friday and Monday: two ranges, no weekend invented
            (_range("2025-03-07", "2025-03-07"), _range("2025-03-10", "2025-03-10")),
        ),
        ([_day("2025-03-03", "Submitted"), _day("2025-03-04", "Cancelled")], ()),
        ([_day("2025-03-03", "APPROVED"), _day("2025-03-04", None)], (_range("2025-03-03", "2025-03-04"),)),
        ([_day("2025-03-03", quantity="0"), _day("2025-03-04", quantity=None)], (_range("2025-03-04", "2025-03-04"),)),
        (
            [_day("2025-12-31"), _day("2026-01-01"), _day("2026-01-03")],
            (_range("2025-12-31", "2026-01-01"), _range("2026-01-03", "2026-01-03")),
        ),
    ],
)
def test_time_off_ranges(days: list[TimeOffDetail], ranges: tuple[DateRange, ...]) -> None:
    assert time_off_ranges(days) == ranges


def test_partial_day_counts() -> None:
    assert time_off_ranges([_day("2025-03-03", quantity="4")]) == (_range("2025-03-03", "2025-03-03"),)
    assert _day("2025-03-03", quantity="4").quantity == Decimal(4)


@pytest.mark.parametrize(("value", "wid"), [(WID, WID), (f"workday:{WID}", WID), (f"  {WID} ", WID)])
def test_wid_of(value: str, wid: str) -> None:
    assert wid_of(value) == wid


@pytest.mark.parametrize("value", ["", "workday:", "kantata:123"])
def test_wid_of_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="Workday worker id"):
        wid_of(value)
