"""What a PSA time entry or expense must satisfy before it is posted to the ERP: pure rules.

The posting activity looks things up (the job, the employee, the accounting period, an earlier
record with the same content) and hands the findings to `check_time_entry` / `check_expense`,
which answer with what to post (`Approved`) or why not (`Rejection`: a reason code, a message
that names the offending values, and those values). Nothing here does I/O, so every rule is
tested with plain tables of cases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from activities.posting.rejections import Reason, Rejection
from canonical import Expense, Money, RateSchedule, TimeEntry, bill_for_minutes
from connectors.kantata.mapping import hours_from_minutes


@dataclass(frozen=True)
class ErpJob:
    """The ERP job a project posts to.

    Attributes:
        internal_id: The job's internal id.
        currency: ISO code the job bills in; None when the ERP's currency id is not configured.
        currency_id: The ERP's own currency id, named in messages when it cannot be read.
        inactive: Whether the job is inactive (e.g. after a provisioning compensation).
    """

    internal_id: str
    currency: str | None
    currency_id: str | None = None
    inactive: bool = False


@dataclass(frozen=True)
class Findings:
    """What the activity found for one record in the ERP and the store."""

    job: ErpJob | None
    employee_id: str | None
    period_open: bool
    duplicate_of: str | None = None


@dataclass(frozen=True)
class ErpSetup:
    """What the ERP account is configured for."""

    currencies: frozenset[str]
    expense_categories: frozenset[str]


@dataclass(frozen=True)
class Approved:
    """A record that passed every rule, with what posting it needs.

    Attributes:
        job_id: The job's internal id.
        employee_id: The employee's internal id.
        amount: For time, what its minutes bill at the rate, rounded once to the currency's minor unit
            (`canonical.bill_for_minutes`): the amount the ledger keeps and invoices add up. For an
            expense, its amount.
        rate: The unit price: the hourly rate for time (zero for non-billable time without one),
            the amount itself for an expense (one unit).
    """

    job_id: str
    employee_id: str
    amount: Money
    rate: Money


Record = TimeEntry | Expense


def _common(record: Record, found: Findings, what: str) -> Rejection | tuple[ErpJob, str]:
    """The rules time and expenses share: project, period, consultant."""
    day = record.date_performed if isinstance(record, TimeEntry) else record.date_incurred
    if found.job is None:
        return Rejection(
            Reason.UNKNOWN_PROJECT,
            f"{what} {record.id} is on project {record.project_id!r}, which has no job in the ERP: "
            "provision the project or correct the entry's project",
            {"project_id": record.project_id},
        )
    if found.job.inactive:
        return Rejection(
            Reason.PROJECT_INACTIVE,
            f"{what} {record.id} is on project {record.project_id!r}, whose ERP job {found.job.internal_id} is "
            "inactive: reactivate the job or move the entry",
            {"project_id": record.project_id, "job_id": found.job.internal_id},
        )
    if not found.period_open:
        return Rejection(
            Reason.PERIOD_CLOSED,
            f"{what} {record.id} is dated {day}, in an accounting period that is closed or missing in the ERP: "
            "reopen the period or move the entry to an open one",
            {"date": day.isoformat()},
        )
    if found.employee_id is None:
        return Rejection(
            Reason.UNKNOWN_CONSULTANT,
            f"{what} {record.id} was logged by {record.consultant_id!r}, who is no employee in the ERP: "
            "add the employee (with that email) or correct the consultant",
            {"consultant_id": record.consultant_id},
        )
    return found.job, found.employee_id


def _currency(record: Record, job: ErpJob, currency: str, what: str, erp: ErpSetup) -> Rejection | None:
    if job.currency is None:
        return Rejection(
            Reason.WRONG_CURRENCY,
            f"{what} {record.id}: the ERP job of {record.project_id!r} bills in currency id {job.currency_id!r}, "
            "which the ERP currency table (PSFLOW_NETSUITE_CURRENCY_IDS) does not name",
            {"project_id": record.project_id, "job_currency_id": str(job.currency_id)},
        )
    if currency not in erp.currencies:
        return Rejection(
            Reason.WRONG_CURRENCY,
            f"{what} {record.id} is in {currency}, which the ERP is not set up for "
            f"(it knows {', '.join(sorted(erp.currencies))})",
            {"currency": currency},
        )
    if currency != job.currency:
        return Rejection(
            Reason.WRONG_CURRENCY,
            f"{what} {record.id} is in {currency} but project {record.project_id!r} bills in {job.currency}: "
            "correct the entry's currency or rate",
            {"currency": currency, "job_currency": job.currency, "project_id": record.project_id},
        )
    return None


def _duplicate(record: Record, found: Findings, what: str) -> Rejection | None:
    if found.duplicate_of is None:
        return None
    return Rejection(
        Reason.DUPLICATE,
        f"{what} {record.id} repeats {found.duplicate_of} (same consultant, project, day and details): "
        "delete one of them in the PSA, or change it if both are real",
        {"duplicate_of": found.duplicate_of},
    )


def rate_in_force(entry: TimeEntry, schedule: RateSchedule | None) -> Money | None:
    """The hourly rate an entry posts at: its role's rate on its date in the project's schedule, else its own.

    Kantata prices an entry once, when it is logged, from the rate card version in force on its
    date, and never reprices it (research apis-round2 §1, §7.1). An entry logged before a rate
    amendment reached Kantata therefore carries the old rate; the schedule, read at posting time,
    has the amended one. Without a schedule, a role or a rate for the role on that date, the
    entry's own rate stands (today's behaviour for projects without effective-dated rates).
    """
    if schedule is not None and entry.role is not None:
        scheduled = schedule.rate_on(entry.role, entry.date_performed)
        if scheduled is not None:
            return scheduled
    return entry.bill_rate


def check_time_entry(
    entry: TimeEntry, found: Findings, erp: ErpSetup, schedule: RateSchedule | None = None
) -> Approved | Rejection:
    """Whether a time entry can be posted, and at which rate.

    The rate is the one in force on the entry's date (`rate_in_force`): from the project's rate
    schedule when it has one for the entry's role, else the entry's bill rate, which Kantata prices
    from the project's rate card by role when it is logged (zero when the card has no rate for the
    role). Billable time needs a rate above zero; non-billable time without one posts at zero.
    """
    what = "time entry"
    common = _common(entry, found, what)
    if isinstance(common, Rejection):
        return common
    job, employee_id = common
    priced = rate_in_force(entry, schedule)
    rate = priced if priced is not None and priced.amount > 0 else None
    if rate is None and entry.billable:
        given = "missing" if entry.bill_rate is None else str(entry.bill_rate)
        return Rejection(
            Reason.MISSING_RATE,
            f"{what} {entry.id} is billable but its bill rate is {given} (role {entry.role!r} on project "
            f"{entry.project_id!r}): give the entry a rate, or the role a rate on the project's rate card, "
            "in the PSA, then re-run the date",
            {"role": str(entry.role), "project_id": entry.project_id, "bill_rate": given},
        )
    currency = rate.currency if rate is not None else job.currency or ""
    wrong = _currency(entry, job, currency, what, erp) or _duplicate(entry, found, what)
    if wrong is not None:
        return wrong
    rate = rate or Money.of(0, currency)
    return Approved(
        job_id=job.internal_id, employee_id=employee_id, amount=bill_for_minutes(rate, entry.minutes), rate=rate
    )


def check_expense(expense: Expense, found: Findings, erp: ErpSetup) -> Approved | Rejection:
    """Whether an expense can be posted."""
    what = "expense"
    common = _common(expense, found, what)
    if isinstance(common, Rejection):
        return common
    job, employee_id = common
    wrong = _currency(expense, job, expense.amount.currency, what, erp)
    if wrong is not None:
        return wrong
    if expense.category not in erp.expense_categories:
        return Rejection(
            Reason.UNKNOWN_CATEGORY,
            f"{what} {expense.id} has category {expense.category!r}, which the ERP does not know "
            f"(it knows {', '.join(sorted(erp.expense_categories))})",
            {"category": expense.category},
        )
    return _duplicate(expense, found, what) or Approved(
        job_id=job.internal_id, employee_id=employee_id, amount=expense.amount, rate=expense.amount
    )


def fingerprint(record: Record) -> str:
    """The record's content key: two records with the same key are the same work entered twice."""
    if isinstance(record, TimeEntry):
        parts = [
            "time_entry",
            record.consultant_id,
            record.project_id,
            record.task_id or "",
            record.date_performed.isoformat(),
            # Written as the decimal hours fingerprints were first made of, so those already stored still match.
            str(hours_from_minutes(record.minutes).normalize()),
            str(record.billable),
            record.notes or "",
        ]
    else:
        parts = [
            "expense",
            record.consultant_id,
            record.project_id,
            record.date_incurred.isoformat(),
            record.category,
            str(record.amount.amount.normalize()),
            record.amount.currency,
            record.description or "",
        ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
