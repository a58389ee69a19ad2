"""Pure translation between canonical models and NetSuite REST bodies and SuiteQL rows.

Writes carry ``externalId`` = the canonical id, so ``PUT .../eid:<id>`` is idempotent by business
identity. References are ``{"id": "<internal id>"}``; list values (currencies, terms, expense
categories) are looked up in the account's id tables from the settings. Durations are NetSuite's
``H:MM`` (to the minute). SuiteQL rows come back lower-case, with booleans as ``"T"``/``"F"``
and dates in the account's format — ``M/D/YYYY`` for US English, or ISO.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from canonical import (
    Address,
    ApprovalState,
    BillingType,
    Customer,
    Expense,
    Invoice,
    Project,
    ProjectStatus,
    SystemName,
    SystemRef,
    Task,
    TimeEntry,
)
from connectors.netsuite._values import format_duration, lookup_id, ref
from connectors.netsuite.models import JsonObject

JOB_BILLING_TYPE_IDS = {BillingType.TIME_AND_MATERIALS: "TM", BillingType.FIXED_FEE: "FBM"}
"""NetSuite's project billing types: Time and Materials, Fixed Bid Milestone."""
JOB_STATUS_IDS = {ProjectStatus.ACTIVE: "2", ProjectStatus.ON_HOLD: "4", ProjectStatus.CLOSED: "1"}
"""NetSuite's standard project statuses: In Progress, Pending, Closed."""
APPROVAL_STATUS_IDS = {
    ApprovalState.DRAFT: "1",
    ApprovalState.SUBMITTED: "1",
    ApprovalState.APPROVED: "2",
    ApprovalState.REJECTED: "3",
}
"""NetSuite's approval statuses: Pending Approval, Approved, Rejected."""


def _number(value: Decimal) -> float:
    # JSON has no decimal type; amounts with a few decimal places survive a float exactly.
    return float(value)


def _address_line(address: Address) -> JsonObject:
    fields = {
        "addr1": address.line1,
        "addr2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": ref(address.country),
    }
    return {
        "defaultBilling": True,
        "defaultShipping": False,
        "addressBookAddress": {k: v for k, v in fields.items() if v is not None},
    }


def customer_body(
    customer: Customer, *, subsidiary_id: str, currency_ids: Mapping[str, str], terms_ids: Mapping[str, str]
) -> JsonObject:
    """The ``customer`` body for an upsert by the customer's canonical id."""
    body: JsonObject = {
        "externalId": customer.id,
        "companyName": customer.name,
        "isPerson": False,
        "subsidiary": ref(subsidiary_id),
        "currency": ref(lookup_id(currency_ids, customer.currency, "currency", "CURRENCY_IDS")),
    }
    if customer.payment_terms is not None:
        body["terms"] = ref(lookup_id(terms_ids, customer.payment_terms, "payment terms", "TERMS_IDS"))
    if customer.billing_address is not None:
        body["addressBook"] = {"items": [_address_line(customer.billing_address)]}
    return body


def customer_from_record(
    record: Mapping[str, Any], *, currency_codes: Mapping[str, str], terms_names: Mapping[str, str]
) -> Customer:
    """A canonical customer from a ``customer`` record read with ``expandSubResources=true``.

    A customer psflow wrote keeps its canonical id in ``externalId``; one created in NetSuite
    gets ``netsuite:<internal id>`` and NetSuite as its source.
    """
    internal_id = str(record["id"])
    external_id = record.get("externalId")
    currency_id = str((record.get("currency") or {}).get("id", ""))
    terms_id = (record.get("terms") or {}).get("id")
    lines = (record.get("addressBook") or {}).get("items") or []
    billing = next((line for line in lines if line.get("defaultBilling")), None)
    address = None
    if billing is not None:
        raw = billing.get("addressBookAddress") or {}
        address = Address(
            line1=raw["addr1"],
            line2=raw.get("addr2"),
            city=raw["city"],
            region=raw.get("state"),
            postal_code=raw.get("zip"),
            country=(raw.get("country") or {}).get("id", ""),
        )
    return Customer(
        id=external_id or f"netsuite:{internal_id}",
        name=record["companyName"],
        currency=lookup_id(currency_codes, currency_id, "currency id", "CURRENCY_IDS"),
        billing_address=address,
        payment_terms=terms_names.get(str(terms_id)) if terms_id is not None else None,
        source=None if external_id else SystemRef(system=SystemName.NETSUITE, id=internal_id),
    )


def job_body(
    project: Project,
    *,
    customer_internal_id: str,
    billing_type: BillingType,
    currency_id: str,
    terms_id: str | None,
    rate_card_id: str | None,
    subsidiary_id: str,
) -> JsonObject:
    """The ``job`` body: the project under its customer, with its billing attributes.

    The rate card has no standard job field; it goes to the custom field
    ``custentity_psflow_rate_card``. Upserting also reactivates a job a compensation inactivated.
    """
    body: JsonObject = {
        "externalId": project.id,
        "entityId": project.code,
        "companyName": project.name,
        "parent": ref(customer_internal_id),
        "subsidiary": ref(subsidiary_id),
        "currency": ref(currency_id),
        "jobBillingType": ref(JOB_BILLING_TYPE_IDS[billing_type]),
        "entityStatus": ref(JOB_STATUS_IDS[project.status]),
        "startDate": project.start_date.isoformat(),
        "projectedEndDate": project.end_date.isoformat(),
        "isInactive": False,
    }
    if terms_id is not None:
        body["terms"] = ref(terms_id)
    if rate_card_id is not None:
        body["custentity_psflow_rate_card"] = rate_card_id
    return body


def project_task_body(task: Task, *, job_internal_id: str) -> JsonObject:
    """The ``projectTask`` body for a task of a job."""
    body: JsonObject = {
        "externalId": task.id,
        "title": task.name,
        "project": ref(job_internal_id),
        "constraintType": "ASAP",
        "nonBillableTask": not task.billable,
    }
    if task.budget_hours is not None:
        body["plannedWork"] = _number(task.budget_hours)
    return body


def time_bill_body(
    entry: TimeEntry,
    *,
    job_internal_id: str,
    employee_internal_id: str,
    rate: Decimal,
    task_internal_id: str | None = None,
) -> JsonObject:
    """The ``timeBill`` body: the entry's minutes as an ``H:MM`` duration on the job at the given hourly rate."""
    body: JsonObject = {
        "externalId": entry.id,
        "employee": ref(employee_internal_id),
        "customer": ref(job_internal_id),
        "tranDate": entry.date_performed.isoformat(),
        "hours": format_duration(entry.minutes),
        "isBillable": entry.billable,
        "rate": _number(rate),
        "approvalStatus": ref(APPROVAL_STATUS_IDS[entry.approval]),
    }
    if task_internal_id is not None:
        body["casetaskevent"] = ref(task_internal_id)
    if entry.notes:
        body["memo"] = entry.notes
    return body


def expense_report_body(
    expense: Expense, *, employee_internal_id: str, job_internal_id: str, category_id: str, currency_id: str
) -> JsonObject:
    """The ``expenseReport`` body: one expense line charged to the job."""
    line: JsonObject = {
        "category": ref(category_id),
        "amount": _number(expense.amount.amount),
        "currency": ref(currency_id),
        "expenseDate": expense.date_incurred.isoformat(),
        "customer": ref(job_internal_id),
        "isBillable": expense.billable,
    }
    body: JsonObject = {
        "externalId": expense.id,
        "entity": ref(employee_internal_id),
        "tranDate": expense.date_incurred.isoformat(),
        "approvalStatus": ref(APPROVAL_STATUS_IDS[expense.approval]),
        "expense": {"items": [line]},
    }
    if expense.description:
        line["memo"] = expense.description
        body["memo"] = expense.description
    return body


def invoice_body(
    invoice: Invoice,
    *,
    customer_internal_id: str,
    job_internal_id: str,
    currency_id: str,
    item_id: str,
    subsidiary_id: str,
) -> JsonObject:
    """The ``invoice`` body: one service-item line per canonical line, amounts already rounded."""
    return {
        "externalId": invoice.id,
        "entity": ref(customer_internal_id),
        "job": ref(job_internal_id),
        "tranDate": invoice.issue_date.isoformat(),
        "dueDate": invoice.due_date.isoformat(),
        "startDate": invoice.period.start.isoformat(),
        "endDate": invoice.period.end.isoformat(),
        "currency": ref(currency_id),
        "subsidiary": ref(subsidiary_id),
        "item": {
            "items": [
                {
                    "item": ref(item_id),
                    "description": line.description,
                    "quantity": _number(line.quantity),
                    "rate": _number(line.unit_price.amount),
                    "amount": _number(line.amount.amount),
                }
                for line in invoice.lines
            ]
        },
    }
