"""The posting rules, case by case: what posts, at which rate, and why the rest does not."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from activities.posting.rejections import Reason, Rejection, refused, unreadable
from activities.posting.rules import (
    Approved,
    ErpJob,
    ErpSetup,
    Findings,
    check_expense,
    check_time_entry,
    fingerprint,
    rate_in_force,
)
from canonical import ApprovalState, Expense, Money, RateSchedule, RateVersion, RoleRate, TimeEntry, bill_for_minutes
from connectors._core import FieldError, FieldProblem, Unreadable

DAY = date(2026, 11, 25)
APPROVED_AT = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
ERP = ErpSetup(currencies=frozenset({"USD", "GBP", "EUR", "CAD"}), expense_categories=frozenset({"Meals", "Airfare"}))
USD_JOB = ErpJob(internal_id="52", currency="USD", currency_id="1")
FOUND = Findings(job=USD_JOB, employee_id="5", period_open=True)


def entry(**changes: Any) -> TimeEntry:
    fields: dict[str, Any] = {
        "id": "kantata:485",
        "consultant_id": "tariq.byrne@psflow-demo.example",
        "project_id": "PRJ-0004",
        "date_performed": DAY,
        "minutes": 450,
        "role": "Director",
        "bill_rate": Money.of("380.00", "USD"),
        "approval": ApprovalState.APPROVED,
        "approved_at": APPROVED_AT,
        "notes": "Configuration & build",
    }
    return TimeEntry(**{**fields, **changes})


def expense(**changes: Any) -> Expense:
    fields: dict[str, Any] = {
        "id": "kantata:90",
        "consultant_id": "julia.novak@psflow-demo.example",
        "project_id": "PRJ-0001",
        "date_incurred": DAY,
        "category": "Meals",
        "amount": Money.of("42.50", "USD"),
        "approval": ApprovalState.APPROVED,
        "approved_at": APPROVED_AT,
    }
    return Expense(**{**fields, **changes})


TIME_CASES: list[tuple[str, TimeEntry, Findings, Reason | None, dict[str, str]]] = [
    ("posts", entry(), FOUND, None, {}),
    ("unknown project", entry(), replace(FOUND, job=None), Reason.UNKNOWN_PROJECT, {"project_id": "PRJ-0004"}),
    (
        "inactive job",
        entry(),
        replace(FOUND, job=replace(USD_JOB, inactive=True)),
        Reason.PROJECT_INACTIVE,
        {"project_id": "PRJ-0004", "job_id": "52"},
    ),
    ("closed period", entry(), replace(FOUND, period_open=False), Reason.PERIOD_CLOSED, {"date": "2026-11-25"}),
    (
        "consultant not an employee",
        entry(),
        replace(FOUND, employee_id=None),
        Reason.UNKNOWN_CONSULTANT,
        {"consultant_id": "tariq.byrne@psflow-demo.example"},
    ),
    (
        "billable without a rate",
        entry(bill_rate=None),
        FOUND,
        Reason.MISSING_RATE,
        {"role": "Director", "project_id": "PRJ-0004", "bill_rate": "missing"},
    ),
    (
        "billable at a zero rate",
        entry(bill_rate=Money.of(0, "USD")),
        FOUND,
        Reason.MISSING_RATE,
        {"role": "Director", "project_id": "PRJ-0004", "bill_rate": "0 USD"},
    ),
    (
        "rate in another currency than the job",
        entry(bill_rate=Money.of("150.00", "EUR")),
        FOUND,
        Reason.WRONG_CURRENCY,
        {"currency": "EUR", "job_currency": "USD", "project_id": "PRJ-0004"},
    ),
    (
        "currency the ERP is not set up for",
        entry(bill_rate=Money.of("150", "JPY")),
        FOUND,
        Reason.WRONG_CURRENCY,
        {"currency": "JPY"},
    ),
    (
        "job in a currency the ERP table does not name",
        entry(),
        replace(FOUND, job=ErpJob(internal_id="52", currency=None, currency_id="9")),
        Reason.WRONG_CURRENCY,
        {"project_id": "PRJ-0004", "job_currency_id": "9"},
    ),
    (
        "same content as an earlier record",
        entry(),
        replace(FOUND, duplicate_of="kantata:484"),
        Reason.DUPLICATE,
        {"duplicate_of": "kantata:484"},
    ),
    # The first rule broken is the one reported: the project before the period, before the consultant.
    (
        "several problems",
        entry(bill_rate=None),
        Findings(job=None, employee_id=None, period_open=False),
        Reason.UNKNOWN_PROJECT,
        {"project_id": "PRJ-0004"},
    ),
]


@pytest.mark.parametrize(
    ("record", "found", "reason", "values"), [c[1:] for c in TIME_CASES], ids=[c[0] for c in TIME_CASES]
)
def test_time_entry_rules(record: TimeEntry, found: Findings, reason: Reason | None, values: dict[str, str]) -> None:
    decision = check_time_entry(record, found, ERP)
    if reason is None:
        assert decision == Approved(
            job_id="52", employee_id="5", amount=Money.of("2850.00", "USD"), rate=Money.of("380.00", "USD")
        )
    else:
        assert isinstance(decision, Rejection) and decision.reason is reason and decision.values == values
        assert record.id in decision.message and all(value in decision.message for value in values.values())


@pytest.mark.parametrize(
    ("minutes", "rate", "amount"),
    [
        (450, "380.00", "2850.00"),
        (7, "150.00", "17.50"),
        (440, "187.50", "1375.00"),  # 7:20, not representable in 4-decimal hours
        (445, "133.33", "988.86"),  # 7:25
        (105, "212.50", "371.88"),  # half a cent: up
        (15, "212.50", "53.13"),
    ],
)
def test_time_is_minutes_times_rate_rounded_half_up_once(minutes: int, rate: str, amount: str) -> None:
    decision = check_time_entry(entry(minutes=minutes, bill_rate=Money.of(rate, "USD")), FOUND, ERP)
    assert isinstance(decision, Approved) and decision.amount == Money.of(amount, "USD")
    assert str(decision.amount.amount) == amount


def test_non_billable_time_without_a_rate_posts_at_zero_in_the_jobs_currency() -> None:
    decision = check_time_entry(entry(billable=False, bill_rate=None), FOUND, ERP)
    assert decision == Approved(job_id="52", employee_id="5", amount=Money.of(0, "USD"), rate=Money.of(0, "USD"))


EXPENSE_CASES: list[tuple[str, Expense, Findings, Reason | None, dict[str, str]]] = [
    ("posts", expense(), FOUND, None, {}),
    ("unknown project", expense(), replace(FOUND, job=None), Reason.UNKNOWN_PROJECT, {"project_id": "PRJ-0001"}),
    ("closed period", expense(), replace(FOUND, period_open=False), Reason.PERIOD_CLOSED, {"date": "2026-11-25"}),
    (
        "consultant not an employee",
        expense(),
        replace(FOUND, employee_id=None),
        Reason.UNKNOWN_CONSULTANT,
        {"consultant_id": "julia.novak@psflow-demo.example"},
    ),
    (
        "another currency than the job",
        expense(amount=Money.of("42.50", "GBP")),
        FOUND,
        Reason.WRONG_CURRENCY,
        {"currency": "GBP", "job_currency": "USD", "project_id": "PRJ-0001"},
    ),
    (
        "category the ERP does not know",
        expense(category="Entertainment"),
        FOUND,
        Reason.UNKNOWN_CATEGORY,
        {"category": "Entertainment"},
    ),
    (
        "same content as an earlier record",
        expense(),
        replace(FOUND, duplicate_of="kantata:89"),
        Reason.DUPLICATE,
        {"duplicate_of": "kantata:89"},
    ),
]


@pytest.mark.parametrize(
    ("record", "found", "reason", "values"), [c[1:] for c in EXPENSE_CASES], ids=[c[0] for c in EXPENSE_CASES]
)
def test_expense_rules(record: Expense, found: Findings, reason: Reason | None, values: dict[str, str]) -> None:
    decision = check_expense(record, found, ERP)
    if reason is None:
        amount = Money.of("42.50", "USD")
        assert decision == Approved(job_id="52", employee_id="5", amount=amount, rate=amount)
    else:
        assert isinstance(decision, Rejection) and decision.reason is reason and decision.values == values
        assert record.id in decision.message and all(value in decision.message for value in values.values())


def test_fingerprints_stored_before_minutes_still_match() -> None:
    """Fingerprints were made of decimal hours; a record read again must match the one stored for it."""
    legacy = "\x1f".join(
        ["time_entry", "tariq.byrne@psflow-demo.example", "PRJ-0004", "", DAY.isoformat(), "7.5", "True",
         "Configuration & build"]
    )  # fmt: skip
    assert fingerprint(entry()) == hashlib.sha256(legacy.encode()).hexdigest()
    twenty = legacy.replace("\x1f7.5\x1f", "\x1f1.3333333333\x1f")
    assert fingerprint(entry(minutes=80)) == hashlib.sha256(twenty.encode()).hexdigest()


def test_the_fingerprint_is_the_content_not_the_identity() -> None:
    assert fingerprint(entry()) == fingerprint(entry(id="kantata:999"))
    for changed in (
        entry(minutes=480),
        entry(notes="Something else"),
        entry(consultant_id="someone@psflow-demo.example"),
        entry(date_performed=date(2026, 11, 24)),
        entry(billable=False),
        entry(task_id="PRJ-0004-T01"),
    ):
        assert fingerprint(changed) != fingerprint(entry())
    assert fingerprint(expense()) == fingerprint(expense(id="kantata:91"))
    assert fingerprint(expense(amount=Money.of("42.51", "USD"))) != fingerprint(expense())


def _unreadable(kind: str, raw_id: str, broken: dict[str, Any]) -> Unreadable:
    """What the Kantata connector hands back for a record it cannot read as canonical."""
    model, build = (TimeEntry, entry) if kind == "time entry" else (Expense, expense)
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**build().model_dump(), **broken})
    return Unreadable.of(raw_id, f"kantata:{raw_id}", caught.value)


@pytest.mark.parametrize(
    ("kind", "broken", "reason", "problem", "values"),
    [
        (
            "time entry",
            {"minutes": 1500},
            Reason.INVALID_HOURS,
            "minutes: must be more than 0:00 and at most 24:00 hours, got 25:00 (1500 minutes)",
            {"minutes": "1500"},
        ),
        (
            "time entry",
            {"minutes": 0},
            Reason.INVALID_HOURS,
            "minutes: must be more than 0:00 and at most 24:00 hours, got 0:00 (0 minutes)",
            {"minutes": "0"},
        ),
        (
            "time entry",
            {"minutes": -120},
            Reason.INVALID_HOURS,
            "minutes: must be more than 0:00 and at most 24:00 hours, got -2:00 (-120 minutes)",
            {"minutes": "-120"},
        ),
        (
            "expense",
            {"amount": Money.of(0, "USD")},
            Reason.INVALID_AMOUNT,
            "amount: must be greater than zero, got 0 USD",
            {"amount": "0 USD"},
        ),
        (
            "expense",
            {"amount": Money.of("-12.00", "USD")},
            Reason.INVALID_AMOUNT,
            "amount: must be greater than zero, got -12.00 USD",
            {"amount": "-12.00 USD"},
        ),
        (
            "expense",
            {"amount": {"amount": "12.00", "currency": "XYZ"}},
            Reason.WRONG_CURRENCY,
            "amount.currency: 'XYZ' is not an ISO 4217 currency code (e.g. USD, EUR, GBP)",
            {"amount.currency": "XYZ"},
        ),
    ],
)
def test_records_the_connector_cannot_read_are_rejected_with_the_broken_value(
    kind: str, broken: dict[str, Any], reason: Reason, problem: str, values: dict[str, str]
) -> None:
    rejection = unreadable(kind, _unreadable(kind, "645", broken))
    assert rejection.reason is reason and rejection.values == {**values, "problem": problem}
    assert rejection.message == f"{kind} kantata:645 in the PSA cannot be posted: {problem}: correct it in the PSA"


def test_the_broken_field_not_its_wording_gives_the_reason() -> None:
    no_currency = Unreadable("7", "kantata:7", (FieldError("amount.currency", "the expense has no currency").problem,))
    assert unreadable("expense", no_currency).reason is Reason.WRONG_CURRENCY
    # Words that name another field's reason do not count: only the field does.
    other = Unreadable("8", "kantata:8", (FieldProblem("approved_at", "the amount and the hours are unknown"),))
    assert unreadable("time entry", other).reason is Reason.UNREADABLE
    whole = Unreadable("9", "kantata:9", (FieldProblem("", "approved_at is required"), FieldProblem("minutes", "0")))
    assert unreadable("time entry", whole).reason is Reason.INVALID_HOURS


def test_an_erp_refusal_names_the_record_and_the_erp_message() -> None:
    closed = refused("time entry", "kantata:1", "The period is closed", closed_period=True)
    other = refused("expense", "kantata:2", "Invalid employee reference", closed_period=False)
    assert closed.reason is Reason.PERIOD_CLOSED and "time entry kantata:1" in closed.message
    assert other.reason is Reason.ERP_REFUSED and other.values == {"erp_error": "Invalid employee reference"}


RAISE_FROM = date(2026, 11, 16)
SCHEDULE = RateSchedule(
    currency="USD",
    versions=(
        RateVersion(
            effective_date=date(2026, 1, 1), rates=(RoleRate(role="Director", hourly_rate=Money.of("380", "USD")),)
        ),
        RateVersion(effective_date=RAISE_FROM, rates=(RoleRate(role="Director", hourly_rate=Money.of("400", "USD")),)),
    ),
)


@pytest.mark.parametrize(
    ("case", "record", "rate"),
    [
        ("the day before the raise: the old rate", entry(date_performed=date(2026, 11, 15)), "380"),
        ("from the raise on: the new rate, whatever the entry carries", entry(date_performed=RAISE_FROM), "400"),
        (
            "a role the schedule lacks: the entry's own rate",
            entry(role="Analyst", bill_rate=Money.of("140", "USD")),
            "140",
        ),
        ("no role: the entry's own rate", entry(role=None, bill_rate=Money.of("150", "USD")), "150"),
        (
            "before the first version: the entry's own rate",
            entry(date_performed=date(2025, 12, 31), bill_rate=Money.of("1", "USD")),
            "1",
        ),
    ],
)
def test_time_posts_at_the_rate_in_force_on_its_date(case: str, record: TimeEntry, rate: str) -> None:
    decision = check_time_entry(record, FOUND, ERP, SCHEDULE)
    assert isinstance(decision, Approved), case
    assert decision.rate == Money.of(rate, "USD")
    assert decision.amount == bill_for_minutes(Money.of(rate, "USD"), record.minutes)
    assert rate_in_force(record, SCHEDULE) == Money.of(rate, "USD")


def test_without_a_schedule_time_posts_at_its_own_rate() -> None:
    decision = check_time_entry(entry(date_performed=RAISE_FROM), FOUND, ERP, None)
    assert isinstance(decision, Approved) and decision.rate == Money.of("380.00", "USD")
