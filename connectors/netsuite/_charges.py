"""Charges: a billable amount of its own, here the difference a retroactive rate change makes to posted time.

A time bill's hours are the work done; a rate that changed after the bill was posted changes what
the work is billed at, not the hours, so the difference is not a second time bill (that would count
the hours twice) and not an edit of the first (history would change silently). NetSuite's
SuiteBilling ``charge`` record is "a single billable amount that a client must pay", billed later
on an invoice, and it points at the time record it comes from (``timeRecord``). REST shape, from
Oracle's sample: ``POST /record/v1/charge {billTo, stage: "READY_FOR_BILLING", chargeDate,
chargeType, billingItem, rate, quantity}``; ``chargeType`` is an account's internal id, the sample's
``-19`` is used here. Like every psflow write it is an upsert by external id, so a retry or a
second repricing of the same amendment writes the same charge again, never a second one.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from canonical import Money
from connectors._core import PermanentError
from connectors.netsuite._queries import Queries
from connectors.netsuite._values import MappingError, lookup_id, ref
from connectors.netsuite.models import JsonObject

CHARGE_TYPE_ID = "-19"
"""The charge type of Oracle's REST charge sample; an account may need another."""
READY_FOR_BILLING = "READY_FOR_BILLING"


class ChargeMethods(Queries):
    """Charges by external id."""

    async def write_charge(
        self,
        external_id: str,
        *,
        job_internal_id: str,
        day: date,
        amount: Money,
        description: str,
        time_bill_internal_id: str | None = None,
    ) -> str:
        """Upsert the charge whose external id is ``external_id`` (one unit at ``amount``); return its internal id.

        Raises:
            PermanentError: The account's currency table does not name the amount's currency.
            BusinessError: NetSuite refused it (an unknown job or time bill).
        """
        try:
            currency_id = lookup_id(self.settings.currency_ids, amount.currency, "currency", "CURRENCY_IDS")
        except MappingError as exc:
            raise PermanentError("netsuite", str(exc), code="unmapped_value") from exc
        body: JsonObject = {
            "externalId": external_id,
            "billTo": ref(job_internal_id),
            "stage": READY_FOR_BILLING,
            "chargeDate": day.isoformat(),
            "chargeType": ref(CHARGE_TYPE_ID),
            "billingItem": ref(self.settings.invoice_item_id),
            "quantity": 1,
            "rate": float(amount.amount),
            "amount": float(amount.amount),
            "currency": ref(currency_id),
            "description": description,
        }
        if time_bill_internal_id is not None:
            body["timeRecord"] = ref(time_bill_internal_id)
        response = await self.client.request("PUT", f"/record/v1/charge/eid:{quote(external_id, safe=':')}", json=body)
        location = str(response.headers.get("Location", ""))
        internal_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not internal_id.isdigit():
            raise PermanentError(
                "netsuite", f"the upsert of charge {external_id!r} answered without a record Location: {location!r}"
            )
        return internal_id
