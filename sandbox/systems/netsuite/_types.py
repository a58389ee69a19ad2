"""The record types the emulator serves and the fields each one accepts.

Field names are NetSuite's REST names (``tranDate``, ``isInactive``); record type names are
matched case-insensitively, as NetSuite does (``timebill`` and ``timeBill`` are one type).
Custom fields (``custentity_*``, ``custbody_*``, ``custcol_*``, ``custevent_*``) vary per
account, so any field with those prefixes is accepted as text.

Customers, jobs and employees share one internal id space (NetSuite keeps every entity in one
table), and so do invoices and expense reports: a ``customer`` reference on a time bill can
name a job or a customer without ambiguity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

NAME = "netsuite"

TEXT = "text"
BOOL = "bool"
DATE = "date"
DATETIME = "datetime"
NUMBER = "number"
DURATION = "duration"
OBJECT = "object"

CUSTOM_PREFIXES = ("custentity_", "custbody_", "custcol_", "custevent_")


@dataclass(frozen=True)
class Ref:
    """A reference field, written ``{"id": "12"}`` and stored as the bare id.

    Attributes:
        targets: Record types the id must exist in (checked on write); empty for NetSuite lists
            the emulator does not hold (currencies, terms, subsidiaries, items).
    """

    targets: tuple[str, ...] = ()


FieldType = str | Ref


@dataclass(frozen=True)
class RecordType:
    """One REST record type.

    Attributes:
        name: The REST name, e.g. ``"timeBill"``; also the DB kind.
        fields: Body fields and their types (``id`` and the common fields are added).
        required: Fields a new record must have.
        sublists: Sublists (``expense``, ``item``, ``addressBook``) and their line fields.
        id_space: Records sharing internal ids across types (``"entity"``, ``"transaction"``).
        posting_date: The date field checked against accounting periods, for transactions.
        defaults: Values a new record gets when the body does not say.
        read_only: Served for reading only (accounting periods are managed through admin).
        not_in_rest: Fields and sublists the record has in NetSuite but REST web services do not
            expose; a write naming one is refused with a pointer to what does.
    """

    name: str
    fields: Mapping[str, FieldType]
    required: tuple[str, ...] = ()
    sublists: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)
    id_space: str | None = None
    posting_date: str | None = None
    defaults: Mapping[str, object] = field(default_factory=dict)
    read_only: bool = False
    not_in_rest: frozenset[str] = frozenset()

    @property
    def table(self) -> str:
        """The SuiteQL table name."""
        return self.name.lower()

    def field_type(self, name: str) -> FieldType | None:
        """The type of a body field, ``TEXT`` for custom fields, None when unknown."""
        if name in self.fields:
            return self.fields[name]
        return TEXT if name.startswith(CUSTOM_PREFIXES) else None


_COMMON: dict[str, FieldType] = {
    "id": TEXT,
    "externalId": TEXT,
    "dateCreated": DATETIME,
    "lastModifiedDate": DATETIME,
}
READ_ONLY_FIELDS = frozenset({"id", "dateCreated", "lastModifiedDate", "postingPeriod", "total", "calculatedEndDate"})

JOB_NOT_IN_REST = frozenset({
    "projectBillingBudget", "projectCostBudget", "billingBudget", "costBudget", "projectResource", "resource",
    "baselineBudget", "estimateAtCompletionBudget", "customer", "primaryContact", "revenueArrangement",
})  # fmt: skip
"""What the job record keeps out of REST (research note apis-round2.md §6 "Not available through REST")."""

_ADDRESS_LINE: dict[str, FieldType] = {
    "defaultBilling": BOOL,
    "defaultShipping": BOOL,
    "label": TEXT,
    "addressBookAddress": OBJECT,
}
_EXPENSE_LINE: dict[str, FieldType] = {
    "category": Ref(),
    "amount": NUMBER,
    "currency": Ref(),
    "expenseDate": DATE,
    "customer": Ref(("job", "customer")),
    "isBillable": BOOL,
    "memo": TEXT,
}
_INVOICE_LINE: dict[str, FieldType] = {
    "item": Ref(),
    "description": TEXT,
    "quantity": NUMBER,
    "rate": NUMBER,
    "amount": NUMBER,
}


def _record(name: str, fields: dict[str, FieldType], **options: Any) -> RecordType:
    return RecordType(name=name, fields=MappingProxyType({**_COMMON, **fields}), **options)


RECORD_TYPES: dict[str, RecordType] = {
    t.name.lower(): t
    for t in (
        _record(
            "customer",
            {
                "entityId": TEXT,
                "companyName": TEXT,
                "isPerson": BOOL,
                "email": TEXT,
                "phone": TEXT,
                "subsidiary": Ref(),
                "currency": Ref(),
                "terms": Ref(),
                "isInactive": BOOL,
            },
            required=("companyName",),
            sublists={"addressBook": _ADDRESS_LINE},
            id_space="entity",
            defaults={"isInactive": False, "isPerson": False},
        ),
        _record(
            "job",
            {
                "entityId": TEXT,
                "companyName": TEXT,
                "parent": Ref(("customer",)),
                "subsidiary": Ref(),
                "currency": Ref(),
                "terms": Ref(),
                "entityStatus": Ref(),
                "jobBillingType": Ref(),
                "billingSchedule": Ref(("billingSchedule",)),
                "jobPrice": NUMBER,
                "projectManager": Ref(("employee",)),
                "startDate": DATE,
                "projectedEndDate": DATE,
                "calculatedEndDate": DATE,
                "endDate": DATE,
                "isInactive": BOOL,
            },
            required=("companyName", "parent"),
            id_space="entity",
            defaults={"isInactive": False},
            not_in_rest=JOB_NOT_IN_REST,
        ),
        _record(
            "billingSchedule",
            {"name": TEXT, "scheduleType": TEXT, "frequency": TEXT, "isInactive": BOOL},
            read_only=True,
        ),
        _record(
            "projectTask",
            {
                "title": TEXT,
                "project": Ref(("job",)),
                "plannedWork": NUMBER,
                "estimatedWork": NUMBER,
                "constraintType": TEXT,
                "startDate": DATE,
                "status": TEXT,
                "nonBillableTask": BOOL,
            },
            required=("title", "project"),
            defaults={"constraintType": "ASAP", "status": "NOTSTART", "nonBillableTask": False},
        ),
        _record(
            "employee",
            {
                "entityId": TEXT,
                "firstName": TEXT,
                "lastName": TEXT,
                "email": TEXT,
                "title": TEXT,
                "subsidiary": Ref(),
                "laborCost": NUMBER,
                "isInactive": BOOL,
            },
            required=("lastName",),
            id_space="entity",
            defaults={"isInactive": False},
        ),
        _record(
            "timeBill",
            {
                "employee": Ref(("employee",)),
                "customer": Ref(("job", "customer")),
                "casetaskevent": Ref(("projectTask",)),
                "tranDate": DATE,
                "hours": DURATION,
                "isBillable": BOOL,
                "item": Ref(),
                "rate": NUMBER,
                "memo": TEXT,
                "approvalStatus": Ref(),
                "subsidiary": Ref(),
                "postingPeriod": Ref(("accountingPeriod",)),
            },
            required=("employee", "customer", "tranDate", "hours"),
            posting_date="tranDate",
            defaults={"isBillable": True},
        ),
        _record(
            "expenseReport",
            {
                "entity": Ref(("employee",)),
                "tranDate": DATE,
                "memo": TEXT,
                "approvalStatus": Ref(),
                "subsidiary": Ref(),
                "postingPeriod": Ref(("accountingPeriod",)),
                "total": NUMBER,
            },
            required=("entity", "tranDate"),
            sublists={"expense": _EXPENSE_LINE},
            id_space="transaction",
            posting_date="tranDate",
        ),
        _record(
            "invoice",
            {
                "entity": Ref(("customer",)),
                "job": Ref(("job",)),
                "tranDate": DATE,
                "dueDate": DATE,
                "startDate": DATE,
                "endDate": DATE,
                "subsidiary": Ref(),
                "currency": Ref(),
                "terms": Ref(),
                "memo": TEXT,
                "postingPeriod": Ref(("accountingPeriod",)),
                "total": NUMBER,
            },
            required=("entity", "tranDate"),
            sublists={"item": _INVOICE_LINE},
            id_space="transaction",
            posting_date="tranDate",
        ),
        # SuiteBilling's charge: "a single billable amount that a client must pay", billed on an invoice
        # later. REST sample: {billTo, stage: "READY_FOR_BILLING", chargeDate, chargeType (an internal
        # id), billingItem, rate, quantity}; SOAP adds timeRecord, description, amount, currency, invoice.
        _record(
            "charge",
            {
                "billTo": Ref(("job", "customer")),
                "stage": TEXT,
                "chargeDate": DATE,
                "chargeType": Ref(),
                "billingItem": Ref(),
                "projectTask": Ref(("projectTask",)),
                "timeRecord": Ref(("timeBill",)),
                "description": TEXT,
                "rate": NUMBER,
                "quantity": NUMBER,
                "amount": NUMBER,
                "currency": Ref(),
                "invoice": Ref(("invoice",)),
            },
            required=("billTo", "stage", "chargeDate", "chargeType", "billingItem"),
            defaults={"quantity": 1},
        ),
        _record(
            "accountingPeriod",
            {
                "periodName": TEXT,
                "startDate": DATE,
                "endDate": DATE,
                "closed": BOOL,
                "isQuarter": BOOL,
                "isYear": BOOL,
                "isAdjust": BOOL,
            },
            read_only=True,
        ),
    )
}

KINDS = tuple(t.name for t in RECORD_TYPES.values())
TABLES: dict[str, RecordType] = {t.table: t for t in RECORD_TYPES.values()}


def record_type(name: str) -> RecordType | None:
    """The record type called ``name`` (any letter case), or None."""
    return RECORD_TYPES.get(name.lower())


def period_key(day: str) -> str:
    """The accounting period a ``YYYY-MM-DD`` date falls in, as ``YYYY-MM`` (the period's DB key)."""
    return day[:7]
