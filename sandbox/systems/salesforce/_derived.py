"""Fields Salesforce computes on save: opportunity stage flags, line item prices, roll-ups.

A line item takes its product, list price and currency from its price book entry (found from
``PricebookEntryId``, or from ``Product2Id`` in the opportunity's price book); ``TotalPrice`` is
``Quantity * UnitPrice`` (or ``UnitPrice`` is derived from a given ``TotalPrice``), and the
opportunity's ``Amount`` is the sum of its lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.salesforce._errors import SaveError
from sandbox.systems.salesforce._schema import CLOSED_STAGES, NAME, STAGE_PROBABILITY, WON_STAGES, SObject

__all__ = ["CORPORATE_CURRENCY", "derive", "roll_up_amount"]

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


def derive(db: SandboxDB, sobj: SObject, record: Row, values: Row, *, creating: bool) -> Row:
    """Fields Salesforce computes on save."""
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
    if sobj.name == "Pricebook2" and creating:
        return {"IsStandard": False}
    return {}


def roll_up_amount(db: SandboxDB, opportunity_id: str, now: str) -> None:
    """Keep Opportunity.Amount equal to the sum of its line items, as Salesforce does."""
    lines = db.query(NAME, "OpportunityLineItem", where={"OpportunityId": opportunity_id})
    if lines and db.get(NAME, "Opportunity", opportunity_id) is not None:
        total = sum((Decimal(str(line["TotalPrice"])) for line in lines), Decimal(0))
        db.update(NAME, "Opportunity", opportunity_id, {"Amount": float(total), "SystemModstamp": now})
