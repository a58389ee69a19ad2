"""Invoicing, the activity side: a project's invoices for a billing period, from the posting ledger.

- `InvoicingActivities` (``_activity``): ``erp.invoices_to_make``, ``erp.post_invoice`` (and
  ``erp.projects_to_invoice``, kept for histories recorded before supplementary invoices);
- `WorkNotInvoicedActivities` (``_not_invoiced``): ``psa.work_not_invoiced``, what the invoices leave out;
- `invoice`: an invoice from posted ledger rows, and its figures (pure); `lines`: its lines (pure);
- `models`: what the workflows hand over and get back.
"""

from activities.invoicing._activity import InvoicingActivities
from activities.invoicing._not_invoiced import WorkNotInvoicedActivities
from activities.invoicing.invoice import build_invoice, terms_days
from activities.invoicing.lines import LineGrouping
from activities.invoicing.models import (
    InvoiceOutcome,
    InvoiceRequest,
    InvoiceToMake,
    PeriodRef,
    PostedInvoice,
    WorkNotInvoiced,
    WorkNotInvoicedReport,
    WorkNotInvoicedRequest,
)

__all__ = [
    "InvoiceOutcome",
    "InvoiceRequest",
    "InvoiceToMake",
    "InvoicingActivities",
    "LineGrouping",
    "PeriodRef",
    "PostedInvoice",
    "WorkNotInvoiced",
    "WorkNotInvoicedActivities",
    "WorkNotInvoicedReport",
    "WorkNotInvoicedRequest",
    "build_invoice",
    "terms_days",
]
