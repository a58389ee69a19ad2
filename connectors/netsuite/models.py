"""What the NetSuite connector hands back besides canonical models: ERP-side records and results.

Each is a frozen pydantic model, so activities can return them through Temporal unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

from canonical import ProjectStatus
from connectors.netsuite._values import parse_date, parse_duration

__all__ = [
    "AccountingPeriod",
    "BillingCustomer",
    "ExpenseReportRow",
    "InvoiceRow",
    "JobRecord",
    "JobRow",
    "JsonObject",
    "PostingResult",
    "TimeBillRow",
]

JsonObject = dict[str, Any]
"""A record body as NetSuite sends or receives it."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PostingResult(_Frozen):
    """The outcome of posting one transaction.

    Attributes:
        internal_id: NetSuite's internal id of the record.
        created: This call created the record (False: it was already there).
        updated: It was there with different values and this call changed them.
    """

    internal_id: str
    created: bool
    updated: bool = False


class JobRecord(_Frozen):
    """A NetSuite job (project) as psflow needs to see it.

    Attributes:
        internal_id: NetSuite's internal id.
        external_id: psflow's key for it (the canonical project id), if it has one.
        code: The job's entity id (the project code).
        name: The job's name.
        customer_internal_id: The parent customer's internal id.
        inactive: Whether the job is inactive (e.g. after a provisioning compensation).
        start_date: Start date.
        end_date: Projected end date.
        currency_id: The ERP's id of the currency the job bills in (SuiteQL rows only).
        currency: That currency's ISO code, when the account's currency table names it.
    """

    internal_id: str
    external_id: str | None = None
    code: str | None = None
    name: str | None = None
    customer_internal_id: str | None = None
    inactive: bool = False
    start_date: date | None = None
    end_date: date | None = None
    currency_id: str | None = None
    currency: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Self:
        """From a REST ``job`` record."""
        return cls(
            internal_id=str(record["id"]),
            external_id=record.get("externalId"),
            code=record.get("entityId"),
            name=record.get("companyName"),
            customer_internal_id=(record.get("parent") or {}).get("id"),
            inactive=bool(record.get("isInactive", False)),
            start_date=_date(record.get("startDate")),
            end_date=_date(record.get("projectedEndDate")),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, currency_codes: Mapping[str, str] | None = None) -> Self:
        """From a SuiteQL ``job`` row; ``currency_codes`` maps the account's currency ids to ISO codes."""
        currency_id = _text(row.get("currency"))
        return cls(
            internal_id=str(row["id"]),
            external_id=row.get("externalid"),
            code=row.get("entityid"),
            name=row.get("companyname"),
            customer_internal_id=_text(row.get("parent")),
            inactive=row.get("isinactive") == "T",
            start_date=_date(row.get("startdate")),
            end_date=_date(row.get("projectedenddate")),
            currency_id=currency_id,
            currency=(currency_codes or {}).get(currency_id or ""),
        )


class BillingCustomer(_Frozen):
    """What an invoice needs of a customer.

    Attributes:
        internal_id: NetSuite's internal id.
        external_id: psflow's key for it (the canonical customer id), if it has one.
        terms: The payment terms' name (``"Net 30"``), when set and named in the account's terms table.
    """

    internal_id: str
    external_id: str | None = None
    terms: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, terms_names: Mapping[str, str]) -> Self:
        """From a SuiteQL ``customer`` row; ``terms_names`` maps the account's terms ids to names."""
        terms_id = _text(row.get("terms"))
        return cls(
            internal_id=str(row["id"]),
            external_id=_text(row.get("externalid")) or None,
            terms=None if terms_id is None else terms_names.get(terms_id),
        )


class AccountingPeriod(_Frozen):
    """A posting period of the general ledger.

    Attributes:
        internal_id: NetSuite's internal id.
        name: The period name, e.g. ``"Nov 2026"``.
        start_date: First day.
        end_date: Last day.
        closed: Whether postings dated in it are refused.
    """

    internal_id: str
    name: str
    start_date: date
    end_date: date
    closed: bool

    @property
    def is_open(self) -> bool:
        """Whether transactions can be posted to it."""
        return not self.closed

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """From a SuiteQL ``accountingperiod`` row."""
        return cls(
            internal_id=str(row["id"]),
            name=row["periodname"],
            start_date=parse_date(row["startdate"]),
            end_date=parse_date(row["enddate"]),
            closed=row.get("closed") == "T",
        )


class TimeBillRow(_Frozen):
    """One time bill as a SuiteQL row, for reconciliation and invoice totals.

    Attributes:
        internal_id: NetSuite's internal id.
        external_id: psflow's key (the time entry's id), if it has one.
        employee_internal_id: The employee.
        job_internal_id: The job (NetSuite's ``customer`` column).
        task_internal_id: The project task, if any.
        tran_date: The day worked.
        minutes: The duration in whole minutes, as NetSuite keeps it.
        rate: Hourly rate in the job's currency, if set.
        billable: Whether the time is billable.
    """

    internal_id: str
    external_id: str | None = None
    employee_internal_id: str | None = None
    job_internal_id: str | None = None
    task_internal_id: str | None = None
    tran_date: date
    minutes: int
    rate: Decimal | None = None
    billable: bool = True

    @property
    def hours(self) -> Decimal:
        """The duration as decimal hours, for display."""
        return Decimal(self.minutes) / 60

    @property
    def amount(self) -> Decimal | None:
        """Minutes times the hourly rate, exact and unrounded; None without a rate."""
        return None if self.rate is None else self.rate * self.minutes / 60

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """From a SuiteQL ``timebill`` row."""
        return cls(
            internal_id=str(row["id"]),
            external_id=_text(row.get("externalid")),
            employee_internal_id=_text(row.get("employee")),
            job_internal_id=_text(row.get("customer")),
            task_internal_id=_text(row.get("casetaskevent")),
            tran_date=parse_date(row["trandate"]),
            minutes=parse_duration(row["hours"]),
            rate=None if row.get("rate") is None else Decimal(str(row["rate"])),
            billable=row.get("isbillable", "T") == "T",
        )


class JobRow(_Frozen):
    """A job as reconciliation lists it: whose it is, what it bills in, whether it is open.

    Attributes:
        internal_id: NetSuite's internal id.
        external_id: psflow's key for it (the canonical project id); None for a job made by hand.
        code: The job's entity id (the project code).
        name: The job's name.
        customer_internal_id: The parent customer's internal id.
        customer_external_id: The parent customer's external id (the canonical customer id), if it has one.
        currency_id: The ERP's id of the currency the job bills in.
        currency: That currency's ISO code, when the account's currency table names it.
        status_id: The job's ``entityStatus`` id.
        status: That status as a canonical project status (None for a status psflow does not map).
        inactive: Whether the job is inactive.
        start_date: Start date.
        end_date: Projected end date.
    """

    internal_id: str
    external_id: str | None = None
    code: str | None = None
    name: str | None = None
    customer_internal_id: str | None = None
    customer_external_id: str | None = None
    currency_id: str | None = None
    currency: str | None = None
    status_id: str | None = None
    status: ProjectStatus | None = None
    inactive: bool = False
    start_date: date | None = None
    end_date: date | None = None


class ExpenseReportRow(_Frozen):
    """An expense report as reconciliation lists it (psflow writes one line per report).

    Attributes:
        internal_id: NetSuite's internal id.
        external_id: psflow's key (the expense's id), if it has one.
        employee_internal_id: The employee (``entity``).
        job_internal_id: The job its first line is charged to (``customer`` on the line), if any.
        tran_date: The report's date.
        amount: The report's total, in ``currency``.
        currency_id: The ERP's id of its lines' currency.
        currency: That currency's ISO code, when the account's currency table names it.
    """

    internal_id: str
    external_id: str | None = None
    employee_internal_id: str | None = None
    job_internal_id: str | None = None
    tran_date: date
    amount: Decimal
    currency_id: str | None = None
    currency: str | None = None


class InvoiceRow(_Frozen):
    """An invoice as reconciliation lists it.

    Attributes:
        internal_id: NetSuite's internal id.
        external_id: psflow's key (the canonical invoice id), if it has one.
        customer_internal_id: The customer billed (``entity``).
        job_internal_id: The job it bills, if set.
        tran_date: The invoice date.
        start_date: First day of the period it bills, if set.
        end_date: Last day of that period, if set.
        total: The sum of its lines' amounts, as NetSuite keeps it.
        currency_id: The ERP's id of its currency.
        currency: That currency's ISO code, when the account's currency table names it.
    """

    internal_id: str
    external_id: str | None = None
    customer_internal_id: str | None = None
    job_internal_id: str | None = None
    tran_date: date
    start_date: date | None = None
    end_date: date | None = None
    total: Decimal
    currency_id: str | None = None
    currency: str | None = None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _date(value: Any) -> date | None:
    return parse_date(str(value)) if value else None
