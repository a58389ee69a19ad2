"""A posting exception's retry input: the record's editable fields, and the canonical record an edit makes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from activities.posting._retry_input import InvalidEdit, edited_input, edited_record, retry_input_of
from canonical import ApprovalState, Expense, Money, TimeEntry

APPROVED_AT = datetime(2027, 1, 6, 9, 30, tzinfo=UTC)
ENTRY = TimeEntry(
    id="kantata:41",
    consultant_id="ana@firm.example",
    project_id="PRJ-0001",
    task_id="PRJ-0001-T01",
    date_performed=date(2027, 1, 5),
    minutes=450,
    role="Partner",
    bill_rate=Money.of("0.00", "GBP"),
    approval=ApprovalState.APPROVED,
    approved_at=APPROVED_AT,
    notes="Workshop",
)
EXPENSE = Expense(
    id="kantata:42",
    consultant_id="ana@firm.example",
    project_id="PRJ-0001",
    date_incurred=date(2027, 1, 5),
    category="Meals",
    amount=Money.of("25.50", "GBP"),
    approval=ApprovalState.APPROVED,
    approved_at=APPROVED_AT,
)


def test_a_record_without_edits_comes_back_as_it_was_read() -> None:
    assert retry_input_of(ENTRY)["hours"] == "7:30"
    assert edited_record("time_entry", ENTRY.id, retry_input_of(ENTRY), {}) == ENTRY
    assert edited_record("expense", EXPENSE.id, retry_input_of(EXPENSE), {}) == EXPENSE


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        ({"rate": "150", "hours": "7.25"}, {"bill_rate": Money.of(150, "GBP"), "minutes": 435}),
        ({"hours": "0:20"}, {"minutes": 20}),
        ({"project_id": "PRJ-0002", "task_id": ""}, {"project_id": "PRJ-0002", "task_id": None}),
        ({"rate": "", "currency": "", "billable": "false"}, {"bill_rate": None, "billable": False}),
        ({"date": "2027-01-07", "role": "Consultant"}, {"date_performed": date(2027, 1, 7), "role": "Consultant"}),
    ],
)
def test_edits_change_the_record_they_name(edits: dict[str, str], expected: dict[str, object]) -> None:
    edited = edited_record("time_entry", ENTRY.id, retry_input_of(ENTRY), edits)
    assert edited == ENTRY.model_copy(update=expected)


@pytest.mark.parametrize(
    ("kind", "edits", "message"),
    [
        ("time_entry", {"colour": "blue"}, "the time entry has no field 'colour'; its fields are billable, "),
        ("time_entry", {"approved_at": "2027-01-01T00:00:00Z"}, "approved_at is what the PSA recorded"),
        ("time_entry", {"hours": "-2"}, "hours: must be more than 0:00 and at most 24:00 hours, got -2:00"),
        ("time_entry", {"hours": "25:00"}, "hours: must be more than 0:00 and at most 24:00 hours, got 25:00"),
        ("time_entry", {"hours": "7h"}, "hours: '7h' is no duration"),
        ("time_entry", {"rate": "-5"}, "rate: must not be negative, got -5 GBP"),
        ("time_entry", {"rate": "ten"}, "rate: 'ten' is not a number"),
        ("time_entry", {"currency": "ZZZ"}, "currency: 'ZZZ' is not an ISO 4217 currency code"),
        ("time_entry", {"currency": ""}, "rate 0.00 needs a currency"),
        ("time_entry", {"project_id": " "}, "project_id: is required: it cannot be empty"),
        ("time_entry", {"date": "2027-02-30"}, "date: "),
        ("time_entry", {"billable": "maybe"}, "billable: 'maybe' is neither true nor false"),
        ("expense", {"amount": "0"}, "amount: must be greater than zero, got 0 GBP"),
        ("expense", {"category": ""}, "category: is required"),
    ],
)
def test_an_edit_that_makes_no_valid_record_is_refused_in_one_line(
    kind: str, edits: dict[str, str], message: str
) -> None:
    record = ENTRY if kind == "time_entry" else EXPENSE
    with pytest.raises(InvalidEdit) as refused:
        edited_record(kind, record.id, retry_input_of(record), edits)
    assert str(refused.value).startswith(message), str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_edited_input_keeps_the_edits_for_the_next_retry() -> None:
    edited = edited_input(retry_input_of(ENTRY), {"rate": " 150 ", "notes": ""})
    assert (edited["rate"], edited["notes"], edited["hours"]) == ("150", None, "7:30")
    assert edited_record("time_entry", ENTRY.id, edited, {}).bill_rate == Money.of(Decimal(150), "GBP")
