"""Reconciliation's pure parts: the difference rules per record, and the Schedule's backfill window."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from activities.reconciliation.differences import classify, classify_invoice, classify_project
from stack.schedules import RECONCILIATION, SCHEDULES, ScheduleError, reconciliation_backfill
from stack.settings import Settings
from store.reconciliation import Compared, Side

DAY = date(2026, 10, 3)
ABSENT = Side(present=False)


def psa(minutes: int = 60, *, approved: bool = True) -> Side:
    return Side(present=True, minutes=minutes, approved=approved, project_id="P", business_date=DAY)


def erp(minutes: int = 60, rate: str = "150") -> Side:
    return Side(present=True, minutes=minutes, business_date=DAY, detail={"rate": rate, "internal_id": "77"})


def ledger(minutes: int = 60, amount: str = "150") -> Side:
    return Side(
        present=True, minutes=minutes, amount=Decimal(amount), currency="USD", project_id="P", business_date=DAY
    )


def kind_of(p: Side, e: Side, led: Side) -> str | None:
    found = classify(Compared(kind="time_entry", record_id="kantata:1", psa=p, erp=e, ledger=led))
    return None if found is None else found.kind


@pytest.mark.parametrize(
    ("sides", "expected"),
    [
        ((psa(), erp(), ledger()), None),
        ((psa(approved=False), ABSENT, ABSENT), None),
        ((psa(), ABSENT, ABSENT), "not_posted"),
        ((psa(), ABSENT, ledger()), "missing_in_erp"),
        ((ABSENT, erp(), ABSENT), "not_in_ledger"),
        ((psa(approved=False), erp(), ledger()), "unapproved_after_posting"),
        ((ABSENT, erp(), ledger()), "unapproved_after_posting"),
        ((psa(), erp(180), ledger()), "hours_mismatch"),
        ((psa(), erp(rate="175"), ledger()), "amount_mismatch"),
        # 20 minutes at 187.50 bill 62.50: the ERP's rate x minutes is rounded as posting rounds.
        ((psa(20), erp(20, "187.50"), ledger(20, "62.50")), None),
    ],
)
def test_each_record_gets_the_first_difference_that_holds(sides: tuple[Side, Side, Side], expected: str | None) -> None:
    assert kind_of(*sides) == expected


def test_a_difference_carries_every_sides_values_and_only_fixable_ones_are_marked_so() -> None:
    edited = classify(Compared(kind="time_entry", record_id="kantata:1", psa=psa(), erp=erp(180), ledger=ledger()))
    assert edited is not None and not edited.fixable
    assert edited.values["erp"] == {"minutes": 180, "hours": "3.00", "amount": "450.00", "date": "2026-10-03",
                                    "rate": "150", "internal_id": "77"}  # fmt: skip
    assert edited.values["psa"] is not None and edited.values["psa"]["minutes"] == 60
    vanished = classify(Compared(kind="time_entry", record_id="kantata:1", psa=psa(), erp=ABSENT, ledger=ledger()))
    gone_and_unapproved = classify(
        Compared(kind="time_entry", record_id="kantata:1", psa=psa(approved=False), erp=ABSENT, ledger=ledger())
    )
    assert vanished is not None and vanished.fixable and vanished.values["erp"] is None
    assert gone_and_unapproved is not None and not gone_and_unapproved.fixable


def project(client: str, currency: str = "USD", status: str = "active") -> Side:
    return Side(present=True, currency=currency, project_id="P", detail={"client": client, "status": status})


def test_projects_and_invoices() -> None:
    def compare(p: Side, e: Side) -> str | None:
        found = classify_project(Compared(kind="project", record_id="P", psa=p, erp=e, ledger=ABSENT))
        return None if found is None else found.kind + ": " + found.message

    assert compare(project("C-1"), project("C-1")) is None
    assert compare(project("C-1"), ABSENT) == "project_missing_in_erp: PSA project P has no ERP job"
    assert compare(project("C-1"), project("C-2", status="closed")) == (
        "project_mismatch: project P: client C-1 in the PSA, C-2 in the ERP, "
        "status active in the PSA, closed in the ERP"
    )
    total = Side(present=True, amount=Decimal("300"), currency="USD")
    assert (
        classify_invoice(Compared(kind="invoice", record_id="inv:P:2026-10", psa=ABSENT, erp=total, ledger=total))
        is None
    )
    edited = Side(present=True, amount=Decimal("151"), currency="USD")
    found = classify_invoice(Compared(kind="invoice", record_id="inv:P:2026-10", psa=ABSENT, erp=edited, ledger=total))
    assert found is not None and found.kind == "invoice_mismatch"
    assert (
        found.values["erp"] == {"amount": "151.00", "currency": "USD"} and found.values["ledger"]["amount"] == "300.00"
    )


def test_the_schedule_runs_on_the_2nd_and_a_backfill_covers_the_months_scheduled_runs() -> None:
    settings = Settings(firm_time_zone="Europe/London")
    [calendar] = SCHEDULES[RECONCILIATION].build(settings).spec.calendars
    assert (calendar.day_of_month[0].start, calendar.hour[0].start) == (2, 4)
    window = reconciliation_backfill(settings, "2026-07", "2026-09", now=datetime(2026, 11, 26, tzinfo=UTC))
    london = ZoneInfo("Europe/London")
    assert window.start_at == datetime(2026, 8, 2, 3, 59, tzinfo=london)
    assert window.end_at == datetime(2026, 10, 2, 4, 1, tzinfo=london)
    with pytest.raises(ScheduleError, match="--to 2026-11: its reconciliation is scheduled for 2026-12-02 04:00 GMT"):
        reconciliation_backfill(settings, "2026-10", "2026-11", now=datetime(2026, 11, 26, tzinfo=UTC))
    with pytest.raises(ScheduleError, match="--to 2026-07 is before --from 2026-09"):
        reconciliation_backfill(settings, "2026-09", "2026-07", now=datetime(2026, 11, 26, tzinfo=UTC))
