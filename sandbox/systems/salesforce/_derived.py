"""Fields Salesforce computes on save: opportunity stage flags, line item prices, roll-ups.

A line item takes its product, list price and currency from its price book entry (found from
``PricebookEntryId``, or from ``Product2Id`` in the opportunity's price book); ``TotalPrice`` is
``Quantity * UnitPrice`` (or ``UnitPrice`` is derived from a given ``TotalPrice``), and the
opportunity's ``Amount`` is the sum of its lines.

A Contract's ``StatusCode`` follows its ``Status``; the API refuses the Terminated and Expired
codes, and ``EndDate`` is ``StartDate`` + ``ContractTerm`` months - 1 day (ContractSettings
``autoCalculateEndDate`` on); ``ContractNumber`` is an auto number (research apis-round2.md §2).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.salesforce._errors import SaveError
from sandbox.systems.salesforce._schema import (
    API_CONTRACT_STATUS_CODES,
    CLOSED_STAGES,
    CONTRACT_STATUSES,
    NAME,
    STAGE_PROBABILITY,
    WON_STAGES,
    SObject,
)

__all__ = ["CORPORATE_CURRENCY", "contract_end_date", "derive", "roll_up_amount"]

Row = dict[str, Any]
CORPORATE_CURRENCY = "USD"


def _integrity(message: str, *fields: str) -> SaveError:
    return SaveError(400, "FIELD_INTEGRITY_EXCEPTION", f"field integrity exception: {message}", fields)


def _line_item(db: SandboxDB, record: Row, values: Row, *, creating: bool) -> Row:
    """Derive product, prices and currency of an OpportunityLineItem."""
    derived: Row = {}
    if values.get("Quantity") == 0:
        raise _integrity("Quantity (quantity must be nonzero)", "Quantity")
    if creating:
        opportunity = db.get(NAME, "Opportunity", values["OpportunityId"]) or {}
        currency = opportunity.get("CurrencyIsoCode") or CORPORATE_CURRENCY
        entry = _price_book_entry(db, opportunity, values, currency)
        product = db.get(NAME, "Product2", entry["Product2Id"]) or {}
        derived.update(
            PricebookEntryId=entry["Id"],
            Product2Id=entry["Product2Id"],
            ListPrice=entry["UnitPrice"],
            ProductCode=product.get("ProductCode"),
            Name=f"{opportunity.get('Name')} {product.get('Name')}",
            CurrencyIsoCode=currency,
        )
        if values.get("UnitPrice") is None and values.get("TotalPrice") is None:
            raise _integrity("unknown (must specify either UnitPrice or TotalPrice)", "UnitPrice", "TotalPrice")
    if values.get("UnitPrice") is not None and values.get("TotalPrice") is not None:
        raise _integrity("TotalPrice (you can't specify both unit price and total price)", "TotalPrice")
    merged = {**record, **values}
    quantity = Decimal(str(merged["Quantity"]))
    if values.get("TotalPrice") is not None:
        derived["UnitPrice"] = float(Decimal(str(values["TotalPrice"])) / quantity)
    else:
        total = Decimal(str(merged["UnitPrice"])) * quantity
        derived["TotalPrice"] = float(total.quantize(Decimal("0.01")))
    return derived


def _price_book_entry(db: SandboxDB, opportunity: Row, values: Row, currency: str) -> Row:
    if values.get("PricebookEntryId"):
        entry = db.get(NAME, "PricebookEntry", values["PricebookEntryId"]) or {}
    elif values.get("Product2Id"):
        book = opportunity.get("Pricebook2Id") or next(
            (b["Id"] for b in db.query(NAME, "Pricebook2", where={"IsStandard": True})), None
        )
        entries = db.query(
            NAME,
            "PricebookEntry",
            where={"Product2Id": values["Product2Id"], "Pricebook2Id": book, "CurrencyIsoCode": currency},
        )
        if not entries:
            raise _integrity(f"Product2Id (no price book entry for this product in {currency})", "Product2Id")
        entry = entries[0]
    else:
        raise SaveError(
            400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [PricebookEntryId]", ("PricebookEntryId",)
        )
    if entry.get("CurrencyIsoCode") != currency:
        raise _integrity(
            "PricebookEntryId (pricebook entry currency code does not match opportunity currency code)",
            "PricebookEntryId",
        )
    if opportunity.get("Pricebook2Id") not in (None, entry["Pricebook2Id"]):
        raise _integrity(
            "PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the opportunity)",
            "PricebookEntryId",
        )
    return entry


def contract_end_date(start: str | None, term: int | float | None) -> str | None:
    """``StartDate`` + ``ContractTerm`` months - 1 day (a 12-month contract from 1 Jan ends on 31 Dec)."""
    if start is None or term is None:
        return None
    first = date.fromisoformat(start)
    months = first.month - 1 + int(term)
    year, month = first.year + months // 12, months % 12 + 1
    day = min(first.day, calendar.monthrange(year, month)[1])
    return (date(year, month, day) - timedelta(days=1)).isoformat()


def _contract(db: SandboxDB, record: Row, values: Row, *, creating: bool) -> Row:
    derived: Row = {}
    if creating:
        derived["ContractNumber"] = f"{db.kv_incr(NAME, 'seq:ContractNumber') + 99:08d}"
        if values.get("Status") is None:
            derived["Status"] = "Draft"
    status = derived.get("Status", values.get("Status", record.get("Status")))
    code = CONTRACT_STATUSES[str(status)]
    if "Status" in values and code not in API_CONTRACT_STATUS_CODES:
        raise SaveError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"field integrity exception: Status ({status}: the API can set only the Draft, "
            "In Approval Process and Activated statuses)",
            ("Status",),
        )
    term = values.get("ContractTerm", record.get("ContractTerm"))
    if term is not None and (term != int(term) or term < 1):
        raise _integrity(f"ContractTerm ({term}: a whole number of months, at least 1)", "ContractTerm")
    derived["StatusCode"] = code
    derived["EndDate"] = contract_end_date(values.get("StartDate", record.get("StartDate")), term)
    return derived


def derive(db: SandboxDB, sobj: SObject, record: Row, values: Row, *, creating: bool) -> Row:
    """Fields Salesforce computes on save."""
    if sobj.name == "Contract":
        return _contract(db, record, values, creating=creating)
    if sobj.name == "Opportunity":
        stage = values.get("StageName", record.get("StageName"))
        derived: Row = {"IsClosed": stage in CLOSED_STAGES, "IsWon": stage in WON_STAGES}
        if "StageName" in values and "Probability" not in values:
            derived["Probability"] = float(STAGE_PROBABILITY[values["StageName"]])
        if creating and values.get("CurrencyIsoCode") is None:
            derived["CurrencyIsoCode"] = CORPORATE_CURRENCY
        return derived
    if sobj.name == "OpportunityLineItem":
        return _line_item(db, record, values, creating=creating)
    if sobj.name == "PricebookEntry" and creating:
        product = db.get(NAME, "Product2", values["Product2Id"]) or {}
        return {
            "Name": product.get("Name"),
            "ProductCode": product.get("ProductCode"),
            "CurrencyIsoCode": values.get("CurrencyIsoCode") or CORPORATE_CURRENCY,
            "IsActive": values.get("IsActive", True),
        }
    if sobj.name == "SBQQ__Quote__c" and creating:
        return {"Name": f"Q-{db.kv_incr(NAME, 'seq:QuoteNumber'):05d}"}
    if sobj.name == "Pricebook2" and creating:
        return {"IsStandard": False}
    return {}


def roll_up_amount(db: SandboxDB, opportunity_id: str, now: str) -> None:
    """Keep Opportunity.Amount equal to the sum of its line items, as Salesforce does."""
    lines = db.query(NAME, "OpportunityLineItem", where={"OpportunityId": opportunity_id})
    if lines and db.get(NAME, "Opportunity", opportunity_id) is not None:
        total = sum((Decimal(str(line["TotalPrice"])) for line in lines), Decimal(0))
        db.update(NAME, "Opportunity", opportunity_id, {"Amount": float(total), "SystemModstamp": now})
