"""The pure raw ↔ canonical mapping, table by table."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from canonical import ApprovalState, BillingType, Money, Project, ProjectStatus, Task
from connectors.kantata.mapping import (
    UNASSIGNED_CUSTOMER,
    approval_of,
    cents_from_money,
    consultant_from_user,
    expense_from_raw,
    hours_from_minutes,
    minutes_from_hours,
    money_from_cents,
    project_from_workspace,
    project_status,
    referenced_id,
    story_payload,
    task_from_story,
    time_entry_from_raw,
    user_payload,
    workspace_amendment,
    workspace_payload,
)
from connectors.kantata.models import (
    RawExpense,
    RawExternalReference,
    RawStory,
    RawSubmission,
    RawTimeEntry,
    RawUser,
    RawWorkspace,
)

RESOLVED = datetime(2026, 6, 5, 19, 0, tzinfo=UTC)
CHANGED = datetime(2026, 6, 6, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cents", "currency", "amount"),
    [
        (12345, "USD", Decimal("123.45")),
        (0, "GBP", Decimal("0.00")),
        (5000, "JPY", Decimal("5000")),
        (1234, "BHD", Decimal("1.234")),
        (-250, "EUR", Decimal("-2.50")),
    ],
)
def test_cents_and_money_convert_both_ways_exactly(cents: int, currency: str, amount: Decimal) -> None:
    money = money_from_cents(cents, currency)
    assert money == Money(amount=amount, currency=currency)
    assert cents_from_money(money) == cents


def test_fractions_of_a_cent_are_refused() -> None:
    with pytest.raises(ValueError, match="fractions of a minor unit"):
        cents_from_money(Money.of("10.005", "USD"))


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [
        (60, Decimal("1")),
        (90, Decimal("1.5")),
        (480, Decimal("8")),
        (6, Decimal("0.1")),
        (15, Decimal("0.25")),
        (45, Decimal("0.75")),
        (50, Decimal("0.8333333333")),
        (1, Decimal("0.0166666667")),
    ],
)
def test_minutes_become_hours(minutes: int, hours: Decimal) -> None:
    assert hours_from_minutes(minutes) == hours


@pytest.mark.parametrize(("hours", "minutes"), [(Decimal("1.5"), 90), (Decimal("0.25"), 15), (Decimal("0.0083"), 0)])
def test_hours_become_whole_minutes(hours: Decimal, minutes: int) -> None:
    assert minutes_from_hours(hours) == minutes


def _submission(status: str, resolved: datetime | None = RESOLVED) -> RawSubmission:
    return RawSubmission(id="9", status=status, current_resolution_created_at_date=resolved)


@pytest.mark.parametrize(
    ("approved", "submission", "changed", "expected"),
    [
        (True, _submission("approved"), CHANGED, (ApprovalState.APPROVED, RESOLVED)),
        (True, None, CHANGED, (ApprovalState.APPROVED, CHANGED)),
        (True, _submission("approved", None), CHANGED, (ApprovalState.APPROVED, CHANGED)),
        (False, _submission("pending", None), CHANGED, (ApprovalState.SUBMITTED, None)),
        (False, _submission("rejected"), CHANGED, (ApprovalState.REJECTED, None)),
        (False, _submission("cancelled"), CHANGED, (ApprovalState.DRAFT, None)),
        (False, None, CHANGED, (ApprovalState.DRAFT, None)),
        (True, None, datetime(2026, 6, 6, 8, 30), (ApprovalState.APPROVED, CHANGED)),
    ],
)
def test_approval_state_comes_from_the_flag_and_the_latest_submission(
    approved: bool, submission: RawSubmission | None, changed: datetime, expected: tuple[ApprovalState, Any]
) -> None:
    state, when = approval_of(approved, submission, changed)
    assert (state, when) == expected
    assert when is None or when.tzinfo is not None


def test_an_approval_without_any_time_is_refused() -> None:
    with pytest.raises(ValueError, match="approved"):
        approval_of(True, None, None)


def _workspace(**fields: Any) -> RawWorkspace:
    values: dict[str, Any] = {
        "id": 7,
        "title": "Data platform",
        "start_date": "2026-07-06",
        "due_date": "2027-01-08",
        "price_in_cents": 5548000,
        "currency": "USD",
        **fields,
    }
    return RawWorkspace.model_validate(values)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, ProjectStatus.ACTIVE),
        ({"archived": True}, ProjectStatus.CLOSED),
        ({"status": {"color": "yellow", "key": "305", "message": "On Hold"}}, ProjectStatus.ON_HOLD),
        ({"archived": True, "status": {"message": "On Hold"}}, ProjectStatus.CLOSED),
    ],
)
def test_project_status(fields: dict[str, Any], status: ProjectStatus) -> None:
    assert project_status(_workspace(**fields)) is status


def test_workspace_becomes_a_project() -> None:
    task = Task(id="T-1", project_id="P-1", name="Build")
    project = project_from_workspace(
        _workspace(stories_are_fixed_fee_by_default=True),
        project_id="P-1",
        code="PRJ-0001",
        customer_id="C-0017",
        rate_card_id="RC-USD",
        tasks=[task],
    )
    assert project.id == "P-1" and project.code == "PRJ-0001" and project.customer_id == "C-0017"
    assert project.budget == Money.of("55480.00", "USD")
    assert project.billing_type is BillingType.FIXED_FEE
    assert (project.start_date, project.end_date) == (date(2026, 7, 6), date(2027, 1, 8))
    assert project.tasks == (task,) and project.source is not None and project.source.id == "7"


def test_a_workspace_without_dates_falls_back_to_its_creation_day() -> None:
    raw = _workspace(start_date=None, due_date=None, created_at="2026-05-01T10:00:00Z")
    project = project_from_workspace(
        raw, project_id="kantata:7", code="7", customer_id=UNASSIGNED_CUSTOMER, rate_card_id=None
    )
    assert project.start_date == project.end_date == date(2026, 5, 1)
    with pytest.raises(ValueError, match="no start date or no currency"):
        project_from_workspace(_workspace(currency=None), project_id="x", code="x", customer_id="c", rate_card_id=None)


def test_project_becomes_a_workspace_body_with_its_external_reference() -> None:
    project = Project(
        id="salesforce:006A",
        code="PRJ-9",
        name="Rollout",
        customer_id="C-1",
        billing_type=BillingType.FIXED_FEE,
        budget=Money.of("1250.50", "GBP"),
        start_date=date(2026, 7, 1),
        end_date=date(2026, 9, 30),
    )
    body = workspace_payload(project, group_id="4", rate_card_id=None, service_name="psflow")
    assert body == {
        "title": "Rollout",
        "creator_role": "maven",
        "start_date": "2026-07-01",
        "due_date": "2026-09-30",
        "budgeted": True,
        "price": 1251,
        "currency": "GBP",
        "stories_are_fixed_fee_by_default": True,
        "workspace_group_ids": ["4"],
        "external_reference": {
            "service_name": "psflow",
            "service_model": "Project",
            "service_model_ref": "salesforce:006A",
            "status": "successful",
        },
    }
    assert workspace_payload(project, group_id="4", rate_card_id="2", service_name="psflow")["rate_card_id"] == "2"


@pytest.mark.parametrize(
    ("fields", "price", "end", "changes"),
    [
        ({}, 55480, date(2027, 1, 8), {}),
        ({}, 60000, None, {"budgeted": True, "price": 60000}),
        ({}, None, date(2027, 2, 1), {"due_date": "2027-02-01"}),
        ({"price_in_cents": None, "budgeted": False}, 55480, None, {"budgeted": True, "price": 55480}),
        ({"currency": "JPY", "price_in_cents": 9000000}, 9000000, None, {}),
    ],
)
def test_an_amendment_changes_only_what_the_workspace_lacks(
    fields: dict[str, Any], price: int | None, end: date | None, changes: dict[str, Any]
) -> None:
    assert workspace_amendment(_workspace(**fields), price=price, end_date=end) == changes


def test_task_and_story_round_trip() -> None:
    task = Task(id="T-1", project_id="P-1", name="Discovery", budget_hours=Decimal("12.5"), billable=False)
    body = story_payload(task, workspace_id="3", service_name="psflow")
    assert body["time_estimate_in_minutes"] == 750 and body["billable"] is False and body["story_type"] == "task"
    story = RawStory.model_validate({"id": 11, **body})
    assert task_from_story(story, task_id="T-1", project_id="P-1") == task


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([("psflow", "Project", "P-1")], "P-1"),
        ([("jira", "Project", "J-1"), ("psflow", "Project", "P-2")], "P-2"),
        ([("psflow", "Task", "T-1")], None),
        ([("other", "Project", "X")], None),
        ([], None),
    ],
)
def test_referenced_id_reads_only_psflow_references_of_the_model(
    refs: list[tuple[str, str, str]], expected: str | None
) -> None:
    raw = [
        RawExternalReference(id=str(i), service_name=name, service_model=model, service_model_ref=ref)
        for i, (name, model, ref) in enumerate(refs)
    ]
    assert referenced_id(raw, service_name="psflow", model="Project") == expected


def test_user_becomes_a_consultant_identified_by_email() -> None:
    user = RawUser(id="5", full_name="Mei Müller", email_address="Mei.Muller@Psflow-Demo.example", headline="Partner")
    consultant = consultant_from_user(
        user, employee_id="E-1001", role="Partner", cost_centre="CC-ADV-UK", skills=["b", "a"]
    )
    assert consultant.id == consultant.email == "mei.muller@psflow-demo.example"
    assert (consultant.employee_id, consultant.title, consultant.skills) == ("E-1001", "Partner", ("a", "b"))
    anonymous = consultant_from_user(user, employee_id=None, role=None, cost_centre=None, skills=[])
    assert anonymous.employee_id == "mei.muller@psflow-demo.example"
    assert user_payload(consultant, role_id="2") == {
        "full_name": "Mei Müller",
        "email_address": "mei.muller@psflow-demo.example",
        "headline": "Partner",
        "role_id": "2",
    }


def test_time_entry_maps_minutes_cents_and_approval() -> None:
    raw = RawTimeEntry.model_validate(
        {
            "id": 641,
            "workspace_id": 2,
            "story_id": 8,
            "user_id": 5,
            "date_performed": "2026-06-05",
            "time_in_minutes": 450,
            "billable": True,
            "rate_in_cents": 14000,
            "currency": "USD",
            "approved": True,
            "notes": "workshop",
            "updated_at": "2026-06-05T19:00:00Z",
        }
    )
    entry = time_entry_from_raw(
        raw,
        consultant_id="a@b.example",
        project_id="PRJ-2",
        task_id="PRJ-2-T1",
        role="Analyst",
        submission=_submission("approved"),
    )
    assert entry.id == "kantata:641" and entry.minutes == 450 and entry.hours == Decimal("7.5")
    assert entry.bill_rate == Money.of("140.00", "USD") and entry.amount == Money.of("1050.00", "USD")
    assert entry.approval is ApprovalState.APPROVED and entry.approved_at == RESOLVED
    unrated = time_entry_from_raw(
        raw.model_copy(update={"rate_in_cents": None, "approved": False}),
        consultant_id="a@b.example",
        project_id="PRJ-2",
        task_id=None,
        role=None,
        submission=_submission("pending", None),
    )
    assert unrated.bill_rate is None and unrated.approval is ApprovalState.SUBMITTED


def test_expense_maps_amount_and_approval() -> None:
    raw = RawExpense.model_validate(
        {
            "id": 3,
            "workspace_id": 2,
            "user_id": 5,
            "date": "2026-06-04",
            "category": "Rail",
            "amount_in_cents": 8450,
            "currency": "GBP",
            "billable": False,
            "approved": False,
            "notes": "London return",
        }
    )
    expense = expense_from_raw(raw, consultant_id="a@b.example", project_id="PRJ-2", submission=_submission("rejected"))
    assert expense.id == "kantata:3" and expense.amount == Money.of("84.50", "GBP")
    assert expense.approval is ApprovalState.REJECTED and expense.description == "London return"
    with pytest.raises(ValueError, match="no currency"):
        expense_from_raw(raw.model_copy(update={"currency": None}), consultant_id="a", project_id="p", submission=None)
