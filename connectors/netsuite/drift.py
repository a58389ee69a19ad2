"""Changes people make in NetSuite outside psflow, made the way they make them: for tests and the demo.

Reconciliation must find what changed behind psflow's back: a time bill's hours edited, a time
bill deleted, a job created by hand (no psflow external id), an invoice line's amount overridden.
These helpers make each change through SuiteTalk REST with a connector's authenticated client,
exactly as a person's script or a vendor SDK would (``PATCH``/``DELETE /record/v1/{type}/{id}``,
``POST /record/v1/job``), so the emulator answers them as NetSuite would.
"""

from __future__ import annotations

from decimal import Decimal

from connectors._core import PermanentError
from connectors.netsuite._values import format_duration, ref
from connectors.netsuite.client import SYSTEM, NetSuiteConnector
from connectors.netsuite.models import JsonObject

__all__ = ["create_job_by_hand", "delete_time_bill", "set_invoice_line_amount", "set_time_bill_hours"]


async def set_time_bill_hours(erp: NetSuiteConnector, internal_id: str, minutes: int) -> None:
    """Edit a time bill's duration: ``PATCH /record/v1/timeBill/{id} {"hours": "H:MM"}``.

    Raises:
        NotFoundError: No such time bill.
        BusinessError: NetSuite refused it (a closed period, a duration outside 0:01 to 24:00).
    """
    body = {"hours": format_duration(minutes)}
    await erp.client.request("PATCH", f"/record/v1/timeBill/{internal_id}", json=body, idempotent=True)


async def delete_time_bill(erp: NetSuiteConnector, internal_id: str) -> None:
    """Delete a time bill: ``DELETE /record/v1/timeBill/{id}``.

    Raises:
        NotFoundError: No such time bill.
    """
    await erp.client.request("DELETE", f"/record/v1/timeBill/{internal_id}")


async def create_job_by_hand(
    erp: NetSuiteConnector, *, customer_internal_id: str, name: str, currency: str, code: str | None = None
) -> str:
    """Create a job as a person would in the UI, with no external id: ``POST /record/v1/job``.

    Args:
        erp: A connector on the account.
        customer_internal_id: The customer it belongs to.
        name: Its name.
        currency: The ISO code of the currency it bills in (in the connector's currency table).
        code: Its entity id (project code), if any.

    Returns:
        The new job's internal id.
    """
    body: JsonObject = {
        "companyName": name,
        "parent": ref(customer_internal_id),
        "subsidiary": ref(erp.settings.subsidiary_id),
        "currency": ref(erp.settings.currency_ids[currency]),
    }
    if code is not None:
        body["entityId"] = code
    # A person's create is not retried: a lost answer would make a second job, as in the UI.
    response = await erp.client.request("POST", "/record/v1/job", json=body, idempotent=False)
    location = str(response.headers.get("Location", ""))
    internal_id = location.rstrip("/").rsplit("/", 1)[-1]
    if not internal_id.isdigit():
        raise PermanentError(SYSTEM, f"the job create answered without a record Location: {location!r}")
    return internal_id


async def set_invoice_line_amount(
    erp: NetSuiteConnector, invoice_internal_id: str, *, line: int, amount: Decimal
) -> None:
    """Override one invoice line's amount (NetSuite lets a person do it; the total follows).

    ``PATCH /record/v1/invoice/{id}`` with the ``item`` sublist; lines merge by position, so
    only line ``line`` (0-based) changes.

    Raises:
        NotFoundError: No such invoice.
        BusinessError: NetSuite refused it (its period is closed).
    """
    lines: list[JsonObject] = [{} for _ in range(line)]
    lines.append({"amount": float(amount)})
    body = {"item": {"items": lines}}
    await erp.client.request("PATCH", f"/record/v1/invoice/{invoice_internal_id}", json=body, idempotent=True)
