"""Invoicing, the activity side: a project's invoices for a billing period from the posting ledger."""

from activities.invoicing._activity import (
    InvoiceOutcome,
    InvoiceRequest,
    InvoiceToMake,
    InvoicingActivities,
    PeriodRef,
    PostedInvoice,
    build_invoice,
    terms_days,
)
from activities.invoicing._not_invoiced import (
    WorkNotInvoiced,
    WorkNotInvoicedActivities,
    WorkNotInvoicedReport,
    WorkNotInvoicedRequest,
)
from activities.invoicing.lines import LineGrouping

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
