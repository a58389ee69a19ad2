"""Pure mapping between Kantata's raw objects and psflow's canonical models.

Identity rules:

- A workspace, story or user psflow wrote carries an external reference (service name
  ``psflow`` by default) whose ``service_model_ref`` is the canonical id it was written from; the
  canonical id maps back to it. Without one the id is ``kantata:<id>``.
- Time entries and expenses are first seen in Kantata: ``kantata:<id>``.
- Consultants are identified by their email address (lower case) everywhere in this
  connector — on `Consultant.id` and on every time entry's and expense's ``consultant_id`` —
  because the email is the one key HR, the PSA and the ERP share.
- Money is in the currency's minor units (``*_in_cents``), except a workspace's budget, which is
  written as ``price`` in whole base units and read back as ``price_in_cents``; time in whole
  minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from canonical import (
    ApprovalState,
    BillingType,
    Consultant,
    Expense,
    Money,
    Project,
    ProjectStatus,
    SystemName,
    SystemRef,
    Task,
    TimeEntry,
)
from connectors._core import FieldError
from connectors.kantata._units import (
    cents_from_money,
    hours_from_minutes,
    minutes_from_hours,
    money_from_cents,
    price_from_money,
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

__all__ = [
    "UNASSIGNED_CUSTOMER",
    "approval_of",
    "cents_from_money",
    "consultant_from_user",
    "expense_from_raw",
    "external_reference",
    "hours_from_minutes",
    "kantata_id",
    "minutes_from_hours",
    "money_from_cents",
    "price_from_money",
    "project_from_workspace",
    "project_status",
    "referenced_id",
    "role_task",
    "story_payload",
    "task_from_story",
    "time_entry_from_raw",
    "user_payload",
    "workspace_amendment",
    "workspace_payload",
]

UNASSIGNED_CUSTOMER = "kantata:unassigned"
"""The customer id of a workspace that is in no client (company) group."""


def kantata_id(raw_id: str) -> str:
    """The canonical id of a record first seen in Kantata."""
    return f"{SystemName.KANTATA}:{raw_id}"


def _source(raw_id: str) -> SystemRef:
    return SystemRef(system=SystemName.KANTATA, id=raw_id)


def external_reference(service_name: str, model: str, ref: str) -> dict[str, str]:
    """The ``external_reference`` object that ties a Kantata object to a canonical id."""
    return {"service_name": service_name, "service_model": model, "service_model_ref": ref, "status": "successful"}


def referenced_id(refs: Iterable[RawExternalReference], *, service_name: str, model: str) -> str | None:
    """The canonical id an object's external references point at, if psflow wrote one."""
    for ref in refs:
        if ref.service_name == service_name and ref.service_model == model and ref.service_model_ref:
            return ref.service_model_ref
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def approval_of(
    approved: bool, submission: RawSubmission | None, changed_at: datetime | None
) -> tuple[ApprovalState, datetime | None]:
    """Approval state and time from the ``approved`` flag and the most recent submission.

    An approved line item is approved when its submission was resolved; in a project that
    needs no approval there is no submission and its last change stands in.

    Raises:
        FieldError: The item is approved but no time is known at all.
    """
    status = submission.status if submission is not None else None
    if approved or status == "approved":
        resolved = submission.current_resolution_created_at_date if submission and status == "approved" else None
        when = resolved or changed_at
        if when is None:
            raise FieldError("approved_at", "the item is approved but neither its submission nor the item says when")
        return ApprovalState.APPROVED, _aware(when)
    if status == "pending":
        return ApprovalState.SUBMITTED, None
    if status == "rejected":
        return ApprovalState.REJECTED, None
    return ApprovalState.DRAFT, None


def project_status(workspace: RawWorkspace) -> ProjectStatus:
    """Archived workspaces are closed; a status message mentioning "hold" is on hold."""
    if workspace.archived:
        return ProjectStatus.CLOSED
    message = (workspace.status.message if workspace.status else None) or ""
    return ProjectStatus.ON_HOLD if "hold" in message.lower() else ProjectStatus.ACTIVE


def project_from_workspace(
    workspace: RawWorkspace,
    *,
    project_id: str,
    code: str,
    customer_id: str,
    rate_card_id: str | None,
    tasks: Iterable[Task] = (),
) -> Project:
    """A canonical project from a workspace and what was looked up around it.

    Raises:
        ValueError: The workspace has no currency or no start date (nor a creation date).
    """
    start = workspace.start_date or (workspace.created_at.date() if workspace.created_at else None)
    if start is None or workspace.currency is None:
        raise ValueError(f"workspace {workspace.id} has no start date or no currency")
    return Project(
        id=project_id,
        code=code,
        name=workspace.title,
        customer_id=customer_id,
        status=project_status(workspace),
        billing_type=BillingType.FIXED_FEE
        if workspace.stories_are_fixed_fee_by_default
        else BillingType.TIME_AND_MATERIALS,
        budget=money_from_cents(workspace.price_in_cents or 0, workspace.currency),
        start_date=start,
        end_date=workspace.due_date or start,
        rate_card_id=rate_card_id,
        tasks=tuple(tasks),
        source=_source(workspace.id),
    )


def workspace_payload(
    project: Project, *, group_id: str, rate_card_id: str | None, service_name: str
) -> dict[str, Any]:
    """The ``workspace`` body that creates a project, referencing the project's canonical id."""
    body: dict[str, Any] = {
        "title": project.name,
        "creator_role": "maven",
        "start_date": project.start_date.isoformat(),
        "due_date": project.end_date.isoformat(),
        "budgeted": True,
        "price": price_from_money(project.budget),
        "currency": project.budget.currency,
        "stories_are_fixed_fee_by_default": project.billing_type is BillingType.FIXED_FEE,
        "workspace_group_ids": [group_id],
        "external_reference": external_reference(service_name, "Project", project.id),
    }
    if rate_card_id is not None:
        body["rate_card_id"] = rate_card_id
    return body


def role_task(project_id: str, role: str) -> Task:
    """The task a role brought into a contract by an amendment gets: named after the role.

    Its id (``<project id>:role:<role>``) is the story's external reference, so adding the same
    role again finds it instead of creating a second one.
    """
    return Task(id=f"{project_id}:role:{role}", project_id=project_id, name=role, role=role)


def workspace_amendment(workspace: RawWorkspace, *, price: int | None, end_date: date | None) -> dict[str, Any]:
    """The ``workspace`` fields an amendment changes: only those that differ from what it has.

    Args:
        workspace: The workspace as read.
        price: The new budget in whole base units (`price_from_money`), or None to keep it.
        end_date: The new end date (``due_date``), or None to keep it.
    """
    changes: dict[str, Any] = {}
    if price is not None:
        cents = price * 10 ** Money(amount=Decimal(0), currency=workspace.currency or "USD").minor_units
        # An unbudgeted workspace reads price_in_cents null, so this also budgets it.
        if workspace.price_in_cents != cents:
            changes |= {"budgeted": True, "price": price}
    if end_date is not None and workspace.due_date != end_date:
        changes["due_date"] = end_date.isoformat()
    return changes


def task_from_story(story: RawStory, *, task_id: str, project_id: str) -> Task:
    """A canonical task from a story."""
    minutes = story.time_estimate_in_minutes
    return Task(
        id=task_id,
        project_id=project_id,
        name=story.title,
        budget_hours=None if minutes is None else hours_from_minutes(minutes),
        billable=story.billable,
    )


def story_payload(task: Task, *, workspace_id: str, service_name: str) -> dict[str, Any]:
    """The ``story`` body that creates a task in a workspace."""
    body: dict[str, Any] = {
        "workspace_id": workspace_id,
        "title": task.name,
        "story_type": "task",
        "billable": task.billable,
        "external_reference": external_reference(service_name, "Task", task.id),
    }
    if task.budget_hours is not None:
        body["time_estimate_in_minutes"] = minutes_from_hours(task.budget_hours)
    return body


def consultant_from_user(
    user: RawUser,
    *,
    employee_id: str | None,
    role: str | None,
    cost_centre: str | None,
    skills: Iterable[str],
    active: bool = True,
) -> Consultant:
    """A canonical consultant (id: the email address) from a user; ``active`` is False once disabled."""
    email = user.email_address.strip().lower()
    return Consultant(
        id=email,
        employee_id=employee_id or email,
        name=user.full_name,
        email=email,
        title=user.headline,
        role=role,
        cost_centre=cost_centre,
        skills=tuple(sorted(skills)),
        active=active,
        source=_source(user.id),
    )


def user_payload(consultant: Consultant, *, role_id: str | None) -> dict[str, Any]:
    """The ``user`` body for a consultant's name, email, title and account role."""
    body: dict[str, Any] = {
        "full_name": consultant.name,
        "email_address": consultant.email,
        "headline": consultant.title,
    }
    if role_id is not None:
        body["role_id"] = role_id
    return body


def time_entry_from_raw(
    raw: RawTimeEntry,
    *,
    consultant_id: str,
    project_id: str,
    task_id: str | None,
    role: str | None,
    submission: RawSubmission | None,
) -> TimeEntry:
    """A canonical time entry (id ``kantata:<id>``, minutes as Kantata keeps them, rate from cents)."""
    approval, approved_at = approval_of(raw.approved, submission, raw.updated_at)
    rate = None
    if raw.rate_in_cents is not None and raw.currency is not None:
        rate = money_from_cents(raw.rate_in_cents, raw.currency)
    return TimeEntry(
        id=kantata_id(raw.id),
        consultant_id=consultant_id,
        project_id=project_id,
        task_id=task_id,
        date_performed=raw.date_performed,
        minutes=raw.time_in_minutes,
        billable=raw.billable,
        role=role,
        bill_rate=rate,
        approval=approval,
        approved_at=approved_at,
        notes=raw.notes,
        source=_source(raw.id),
    )


def expense_from_raw(
    raw: RawExpense, *, consultant_id: str, project_id: str, submission: RawSubmission | None
) -> Expense:
    """A canonical expense (id ``kantata:<id>``, amount from cents).

    Raises:
        FieldError: The expense has no currency.
        ValueError: The expense breaks a canonical rule (pydantic's ValidationError).
    """
    if raw.currency is None:
        raise FieldError("amount.currency", "the expense has no currency")
    approval, approved_at = approval_of(raw.approved, submission, raw.updated_at)
    return Expense(
        id=kantata_id(raw.id),
        consultant_id=consultant_id,
        project_id=project_id,
        date_incurred=raw.date,
        category=raw.category,
        amount=money_from_cents(raw.amount_in_cents, raw.currency),
        billable=raw.billable,
        approval=approval,
        approved_at=approved_at,
        description=raw.notes,
        source=_source(raw.id),
    )
