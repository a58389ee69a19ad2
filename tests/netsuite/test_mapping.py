"""Pure canonical ↔ NetSuite translation, as fixture tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canonical import (
    Address,
    ApprovalState,
    BillingType,
    Customer,
    DateRange,
    Expense,
    Invoice,
    InvoiceLine,
    Money,
    Project,
    ProjectStatus,
    SystemName,
    SystemRef,
    Task,
)
from connectors.netsuite import AccountingPeriod, JobRecord, MappingError, TimeBillRow, mapping
from connectors.netsuite._values import differences, format_duration, parse_date, parse_duration
from connectors.netsuite.settings import DEMO_CURRENCY_IDS, DEMO_TERMS_IDS
from tests.netsuite.conftest import OPEN_DAY, time_entry

ADDRESS = Address(line1="141 King Street", city="London", region="Greater London", postal_code="EC4X 7EA", country="GB")


@pytest.mark.parametrize(
    ("minutes", "duration"),
    [(450, "7:30"), (480, "8:00"), (15, "0:15"), (80, "1:20"), (440, "7:20"), (1440, "24:00"), (1, "0:01")],
)
def test_minutes_become_durations_exactly(minutes: int, duration: str) -> None:
    assert format_duration(minutes) == duration


@pytest.mark.parametrize(
    ("value", "minutes"),
    [("7:30", 450), ("0:20", 20), ("24:00", 1440), (7.5, 450), (8, 480), ("1.25", 75), (7.33, 440), (7.42, 445)],
)
def test_durations_and_suiteql_hours_read_back_as_whole_minutes(value: Any, minutes: int) -> None:
    assert parse_duration(value) == minutes


@given(st.integers(min_value=1, max_value=24 * 60))
def test_every_minute_survives_the_round_trip_through_rest_and_suiteql(minutes: int) -> None:
    assert parse_duration(format_duration(minutes)) == minutes
    suiteql_hours = float((Decimal(minutes) / 60).quantize(Decimal("0.01")))  # what SuiteQL shows
    assert parse_duration(suiteql_hours) == minutes


@pytest.mark.parametrize(
    ("value", "day"),
    [("2026-11-03", date(2026, 11, 3)), ("11/3/2026", date(2026, 11, 3)), ("1/31/2027", date(2027, 1, 31)),
     ("2026-11-03T10:00:00Z", date(2026, 11, 3))],
)  # fmt: skip
def test_rest_and_suiteql_dates_are_both_read(value: str, day: date) -> None:
    assert parse_date(value) == day


CUSTOMER_CASES = [
    (
        Customer(id="salesforce:001A", name="Oakhurst Water", currency="GBP"),
        {
            "externalId": "salesforce:001A",
            "companyName": "Oakhurst Water",
            "isPerson": False,
            "subsidiary": {"id": "1"},
            "currency": {"id": "2"},
        },
    ),
    (
        Customer(id="C-0001", name="Oakhurst Water", currency="USD", payment_terms="Net 45", billing_address=ADDRESS),
        {
            "externalId": "C-0001",
            "companyName": "Oakhurst Water",
            "isPerson": False,
            "subsidiary": {"id": "1"},
            "currency": {"id": "1"},
            "terms": {"id": "3"},
            "addressBook": {
                "items": [
                    {
                        "defaultBilling": True,
                        "defaultShipping": False,
                        "addressBookAddress": {
                            "addr1": "141 King Street",
                            "city": "London",
                            "state": "Greater London",
                            "zip": "EC4X 7EA",
                            "country": {"id": "GB"},
                        },
                    }
                ]
            },
        },
    ),
]


@pytest.mark.parametrize(("customer", "body"), CUSTOMER_CASES)
def test_customer_body(customer: Customer, body: dict[str, Any]) -> None:
    assert (
        mapping.customer_body(customer, subsidiary_id="1", currency_ids=DEMO_CURRENCY_IDS, terms_ids=DEMO_TERMS_IDS)
        == body
    )


@pytest.mark.parametrize(("customer", "body"), CUSTOMER_CASES)
def test_customer_round_trips_through_a_record(customer: Customer, body: dict[str, Any]) -> None:
    record = {**body, "id": "51", "currency": {"id": body["currency"]["id"], "links": []}}
    back = mapping.customer_from_record(
        record,
        currency_codes={v: k for k, v in DEMO_CURRENCY_IDS.items()},
        terms_names={v: k for k, v in DEMO_TERMS_IDS.items()},
    )
    assert back == customer


def test_a_customer_created_in_netsuite_gets_a_netsuite_canonical_id() -> None:
    record = {"id": "7", "companyName": "Walk-in Ltd", "currency": {"id": "1"}}
    customer = mapping.customer_from_record(record, currency_codes={"1": "USD"}, terms_names={})
    assert (customer.id, customer.source) == ("netsuite:7", SystemRef(system=SystemName.NETSUITE, id="7"))


def test_an_unmapped_currency_names_the_setting_to_extend() -> None:
    with pytest.raises(MappingError, match="PSFLOW_NETSUITE_CURRENCY_IDS"):
        mapping.customer_body(
            Customer(id="c", name="Yen Corp", currency="JPY"), subsidiary_id="1", currency_ids={}, terms_ids={}
        )


PROJECT = Project(
    id="PRJ-0001",
    code="PRJ-0001",
    name="Data platform modernisation",
    customer_id="C-0017",
    budget=Money.of("55480", "USD"),
    start_date=date(2026, 7, 6),
    end_date=date(2027, 1, 8),
)


@pytest.mark.parametrize(
    ("billing_type", "status", "billing_id", "status_id"),
    [
        (BillingType.TIME_AND_MATERIALS, ProjectStatus.ACTIVE, "TM", "2"),
        (BillingType.FIXED_FEE, ProjectStatus.ON_HOLD, "FBM", "4"),
        (BillingType.FIXED_FEE, ProjectStatus.CLOSED, "FBM", "1"),
    ],
)
def test_job_body(billing_type: BillingType, status: ProjectStatus, billing_id: str, status_id: str) -> None:
    project = PROJECT.model_copy(update={"status": status})
    body = mapping.job_body(
        project,
        customer_internal_id="51",
        billing_type=billing_type,
        currency_id="1",
        terms_id="2",
        rate_card_id="RC-USD",
        subsidiary_id="1",
    )
    assert body == {
        "externalId": "PRJ-0001",
        "entityId": "PRJ-0001",
        "companyName": "Data platform modernisation",
        "parent": {"id": "51"},
        "subsidiary": {"id": "1"},
        "currency": {"id": "1"},
        "jobBillingType": {"id": billing_id},
        "entityStatus": {"id": status_id},
        "startDate": "2026-07-06",
        "projectedEndDate": "2027-01-08",
        "isInactive": False,
        "terms": {"id": "2"},
        "custentity_psflow_rate_card": "RC-USD",
    }


@pytest.mark.parametrize(
    ("task", "extra"),
    [
        (
            Task(id="PRJ-0001-T01", project_id="PRJ-0001", name="Build", budget_hours=Decimal(112)),
            {"plannedWork": 112.0},
        ),
        (Task(id="t2", project_id="PRJ-0001", name="Internal", billable=False), {"nonBillableTask": True}),
    ],
)
def test_project_task_body(task: Task, extra: dict[str, Any]) -> None:
    body = mapping.project_task_body(task, job_internal_id="52")
    assert body == {
        "externalId": task.id,
        "title": task.name,
        "project": {"id": "52"},
        "constraintType": "ASAP",
        "nonBillableTask": False,
        **extra,
    }


@pytest.mark.parametrize(
    ("entry_extra", "task_id", "expected"),
    [
        ({}, None, {}),
        ({"notes": "Workshop prep", "billable": False}, "60", {"memo": "Workshop prep", "isBillable": False,
                                                              "casetaskevent": {"id": "60"}}),
    ],
)  # fmt: skip
def test_time_bill_body(entry_extra: dict[str, Any], task_id: str | None, expected: dict[str, Any]) -> None:
    entry = time_entry("kantata:te-9", minutes=510, **entry_extra)
    body = mapping.time_bill_body(
        entry, job_internal_id="52", employee_internal_id="1", rate=Decimal("187.50"), task_internal_id=task_id
    )
    assert body == {
        "externalId": "kantata:te-9",
        "employee": {"id": "1"},
        "customer": {"id": "52"},
        "tranDate": OPEN_DAY.isoformat(),
        "hours": "8:30",
        "isBillable": True,
        "rate": 187.5,
        "approvalStatus": {"id": "2"},
        **expected,
    }


def test_expense_report_body() -> None:
    expense = Expense(
        id="kantata:ex-1",
        consultant_id="E-1001",
        project_id="PRJ-0001",
        date_incurred=date(2026, 11, 4),
        category="Rail",
        amount=Money.of("123.45", "GBP"),
        description="Rail to client",
        approval=ApprovalState.SUBMITTED,
    )
    body = mapping.expense_report_body(
        expense, employee_internal_id="1", job_internal_id="52", category_id="5", currency_id="2"
    )
    assert body == {
        "externalId": "kantata:ex-1",
        "entity": {"id": "1"},
        "tranDate": "2026-11-04",
        "approvalStatus": {"id": "1"},
        "memo": "Rail to client",
        "expense": {
            "items": [
                {
                    "category": {"id": "5"},
                    "amount": 123.45,
                    "currency": {"id": "2"},
                    "expenseDate": "2026-11-04",
                    "customer": {"id": "52"},
                    "isBillable": True,
                    "memo": "Rail to client",
                }
            ]
        },
    }


def test_invoice_body_rounds_line_amounts() -> None:
    invoice = Invoice(
        id="psflow:inv-1",
        customer_id="C-0017",
        project_id="PRJ-0001",
        period=DateRange(start=date(2026, 11, 1), end=date(2026, 11, 30)),
        currency="USD",
        issue_date=date(2026, 11, 30),
        due_date=date(2026, 12, 30),
        lines=(
            InvoiceLine(description="Consultant hours", quantity=Decimal("7.333"), unit_price=Money.of("150", "USD")),
        ),
    )
    body = mapping.invoice_body(
        invoice, customer_internal_id="51", job_internal_id="52", currency_id="1", item_id="9", subsidiary_id="1"
    )
    assert body["item"]["items"] == [
        {"item": {"id": "9"}, "description": "Consultant hours", "quantity": 7.333, "rate": 150.0, "amount": 1099.95}
    ]
    assert {k: body[k] for k in ("tranDate", "dueDate", "startDate", "endDate")} == {
        "tranDate": "2026-11-30",
        "dueDate": "2026-12-30",
        "startDate": "2026-11-01",
        "endDate": "2026-11-30",
    }


@pytest.mark.parametrize(
    ("existing", "desired", "changed"),
    [
        ({"employee": {"id": "1", "links": []}, "hours": "7:30"}, {"employee": {"id": "1"}, "hours": "7:30"}, []),
        ({"rate": 150}, {"rate": 150.0}, []),
        ({"rate": 150}, {"rate": 160.0}, ["rate"]),
        ({"customer": {"id": "52"}}, {"customer": {"id": "53"}}, ["customer"]),
        ({}, {"memo": "x"}, ["memo"]),
        ({"item": {"items": [{"rate": 1, "item": {"id": "9"}}]}}, {"item": {"items": [{"rate": 1.0}]}}, []),
        ({"item": {"links": []}}, {"item": {"items": [{"rate": 1.0}]}}, ["item"]),
        ({"item": {"items": [{"rate": 1}]}}, {"item": {"items": [{"rate": 1}, {"rate": 2}]}}, ["item"]),
        ({"isBillable": 1}, {"isBillable": True}, ["isBillable"]),
    ],
)
def test_differences(existing: dict[str, Any], desired: dict[str, Any], changed: list[str]) -> None:
    assert differences(existing, desired) == changed


def test_suiteql_rows_become_models() -> None:
    bill = TimeBillRow.from_row(
        {"id": "9", "externalid": "kantata:1", "employee": "1", "customer": 52, "trandate": "11/3/2026",
         "hours": 7.5, "rate": 150, "isbillable": "F"}
    )  # fmt: skip
    assert (bill.job_internal_id, bill.tran_date, bill.minutes, bill.amount, bill.billable) == (
        "52", date(2026, 11, 3), 450, Decimal("1125"), False
    )  # fmt: skip
    period = AccountingPeriod.from_row(
        {"id": "13", "periodname": "Nov 2026", "startdate": "11/1/2026", "enddate": "11/30/2026", "closed": "F"}
    )
    assert period.is_open and period.end_date == date(2026, 11, 30)
    job = JobRecord.from_row({"id": "52", "externalid": "PRJ-0001", "parent": "51", "isinactive": "T"})
    assert (job.customer_internal_id, job.inactive, job.start_date) == ("51", True, None)
