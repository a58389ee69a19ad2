"""What the invoicing activities take and return: periods, projects and invoices as posted."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from canonical import CanonicalModel


class InvoiceRequest(CanonicalModel):
    """Invoice a project for a period, dated ``issue_date``."""

    project_id: str = Field(min_length=1)
    period: str
    issue_date: date
    period_closed_at: datetime
    """When the period ended in the firm's time zone (the start of invoice lag)."""
    sequence: int = Field(default=1, ge=1)
    """Which of the project's invoices for the period: 1, or a supplementary one (2, 3, ...)."""


class PeriodRef(CanonicalModel):
    """A ``YYYY-MM`` billing period."""

    period: str


class InvoiceToMake(CanonicalModel):
    """One invoice a billing period needs: the project and the invoice's number within the period."""

    project_id: str
    sequence: int = 1


class PostedInvoice(CanonicalModel):
    """One invoice as NetSuite has it: every amount a sum of the posted amounts it bills."""

    invoice_id: str
    erp_id: str
    currency: str
    total: Decimal
    fees: Decimal
    """Billable time: the sum of the time entries' posted amounts."""
    expenses: Decimal
    """Billable expenses passed through."""
    hours: Decimal
    """The time billed, in hours to 2 places, for display (``minutes`` is exact)."""
    entries: int
    lines: int
    issue_date: date
    due_date: date
    created: bool
    updated: bool = False
    minutes: int | None = None
    """The time billed, in whole minutes (None in runs recorded before minutes were kept)."""


class InvoiceOutcome(CanonicalModel):
    """A project's invoices for one period; none when nothing was billable."""

    project_id: str
    period: str
    customer_id: str | None = None
    invoices: list[PostedInvoice] = Field(default_factory=list)

    @property
    def nothing_to_invoice(self) -> bool:
        """True when the project had no unbilled billable time or expenses up to the period's end."""
        return not self.invoices

    @property
    def totals(self) -> dict[str, Decimal]:
        """Invoice totals per currency."""
        return {invoice.currency: invoice.total for invoice in self.invoices}


class WorkNotInvoicedRequest(CanonicalModel):
    """A ``YYYY-MM`` period, for one project or (None) all of them."""

    period: str
    project_id: str | None = None


class WorkNotInvoiced(CanonicalModel):
    """A project's billable work of the period that its invoices do not include yet.

    Attributes:
        not_posted: Approved in the PSA but not posted to the ERP yet (its day's posting is running
            or has not run): post the days, then invoice the month again.
        rejected: Approved in the PSA but refused by the posting, with an open posting exception
            (``psflow exceptions list``): fix them, re-post, then invoice the month again.
        posted_since: Posted, but after the invoice was made: invoice the month again.
    """

    project_id: str
    not_posted: int = 0
    rejected: int = 0
    posted_since: int = 0
    first: date | None = None
    last: date | None = None
    examples: list[str] = Field(default_factory=list)

    @property
    def entries(self) -> int:
        """Everything not included yet."""
        return self.not_posted + self.rejected + self.posted_since


class WorkNotInvoicedReport(CanonicalModel):
    """Per project, what the period's invoices do not include yet; ``unreadable`` when the PSA could not say."""

    period: str
    projects: list[WorkNotInvoiced] = Field(default_factory=list)
    unreadable: str | None = None
