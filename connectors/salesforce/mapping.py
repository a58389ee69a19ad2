"""Pure translation between Salesforce records and canonical models.

Canonical ids are ``salesforce:<18-char Id>``. Custom fields the demo org (and a firm adopting
psflow) adds: Account ``Payment_Terms__c``; Opportunity ``Start_Date__c``, ``End_Date__c``,
``Billing_Type__c`` (``Time and Materials`` | ``Fixed Fee``) and ``Rate_Card__c`` (the rate
card's id); OpportunityLineItem ``Role__c`` (the rate-card role); and ``PSFlow_Id__c``, the
External ID psflow upserts by.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from canonical import (
    Address,
    BillingType,
    Customer,
    LineItem,
    Money,
    Opportunity,
    OpportunityStage,
    SystemName,
    SystemRef,
)
from connectors.salesforce.models import SfAccount, SfLineItem, SfOpportunity

__all__ = [
    "DEFAULT_STAGES",
    "STAGE_NAMES",
    "account_to_customer",
    "billing_address",
    "billing_type",
    "canonical_id",
    "customer_to_account",
    "line_item_to_canonical",
    "opportunity_to_canonical",
    "salesforce_id",
    "stage_from_salesforce",
    "stage_to_salesforce",
]

PREFIX = f"{SystemName.SALESFORCE}:"
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")

DEFAULT_STAGES: Mapping[str, OpportunityStage] = {
    "Prospecting": OpportunityStage.PROSPECTING,
    "Qualification": OpportunityStage.QUALIFICATION,
    "Needs Analysis": OpportunityStage.QUALIFICATION,
    "Value Proposition": OpportunityStage.QUALIFICATION,
    "Id. Decision Makers": OpportunityStage.PROPOSAL,
    "Perception Analysis": OpportunityStage.PROPOSAL,
    "Proposal/Price Quote": OpportunityStage.PROPOSAL,
    "Proposal": OpportunityStage.PROPOSAL,
    "Negotiation/Review": OpportunityStage.NEGOTIATION,
    "Negotiation": OpportunityStage.NEGOTIATION,
    "Closed Won": OpportunityStage.CLOSED_WON,
    "Closed Lost": OpportunityStage.CLOSED_LOST,
}
"""Salesforce's standard sales process, plus the shorter names many orgs use."""

STAGE_NAMES: Mapping[OpportunityStage, str] = {
    OpportunityStage.PROSPECTING: "Prospecting",
    OpportunityStage.QUALIFICATION: "Qualification",
    OpportunityStage.PROPOSAL: "Proposal/Price Quote",
    OpportunityStage.NEGOTIATION: "Negotiation/Review",
    OpportunityStage.CLOSED_WON: "Closed Won",
    OpportunityStage.CLOSED_LOST: "Closed Lost",
}
"""The standard stage written for each canonical stage."""

_BILLING_TYPES = {
    "time and materials": BillingType.TIME_AND_MATERIALS,
    "time & materials": BillingType.TIME_AND_MATERIALS,
    "t&m": BillingType.TIME_AND_MATERIALS,
    "time_and_materials": BillingType.TIME_AND_MATERIALS,
    "fixed fee": BillingType.FIXED_FEE,
    "fixed price": BillingType.FIXED_FEE,
    "fixed_fee": BillingType.FIXED_FEE,
}


def canonical_id(record_id: str) -> str:
    """``salesforce:<Id>`` for a Salesforce record id."""
    return f"{PREFIX}{record_id}"


def salesforce_id(value: str) -> str:
    """The Salesforce Id inside a canonical id (or an Id given as is).

    Raises:
        ValueError: ``value`` is neither ``salesforce:<Id>`` nor a 15/18-character Id.
    """
    record_id = value.removeprefix(PREFIX)
    if not _ID.match(record_id):
        raise ValueError(
            f"{value!r} is not a Salesforce record id (15 or 18 letters and digits, e.g. 0068d00000AbCdEAAV)"
        )
    return record_id


def stage_from_salesforce(
    stage_name: str,
    *,
    is_closed: bool | None = None,
    is_won: bool | None = None,
    stage_map: Mapping[str, OpportunityStage] | None = None,
) -> OpportunityStage:
    """The canonical stage of a ``StageName``.

    The org's own `stage_map` wins over `DEFAULT_STAGES`; an unknown closed stage is read from
    ``IsWon``.

    Raises:
        ValueError: An unknown open stage: it has to be added to the stage map.
    """
    known = {**DEFAULT_STAGES, **(stage_map or {})}
    if stage_name in known:
        return known[stage_name]
    if is_closed:
        return OpportunityStage.CLOSED_WON if is_won else OpportunityStage.CLOSED_LOST
    raise ValueError(
        f"unknown Salesforce stage {stage_name!r}: map it in PSFLOW_SALESFORCE_STAGE_MAP, "
        f'e.g. {{"{stage_name}": "qualification"}}'
    )


def stage_to_salesforce(stage: OpportunityStage, stage_map: Mapping[str, OpportunityStage] | None = None) -> str:
    """The ``StageName`` to write: the first name the org's map gives the stage, else the standard one."""
    return next((name for name, mapped in (stage_map or {}).items() if mapped is stage), STAGE_NAMES[stage])


def billing_type(value: str | None) -> BillingType:
    """The billing type of ``Billing_Type__c``; time and materials when unset.

    Raises:
        ValueError: A value that is neither time and materials nor fixed fee.
    """
    if value is None or not value.strip():
        return BillingType.TIME_AND_MATERIALS
    try:
        return _BILLING_TYPES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"Billing_Type__c {value!r} is neither 'Time and Materials' nor 'Fixed Fee'") from None


def line_item_to_canonical(raw: SfLineItem, currency: str) -> LineItem:
    """A canonical line item; the unit price comes from ``TotalPrice`` when ``UnitPrice`` is unset.

    Raises:
        ValueError: The line names no product, or values the canonical model refuses.
    """
    unit_price = raw.unit_price
    if unit_price is None and raw.total_price is not None:
        unit_price = raw.total_price / raw.quantity
    product = (raw.product.name if raw.product else None) or raw.name
    if not product:
        raise ValueError(f"OpportunityLineItem {raw.id} names no product (Product2.Name or Name)")
    return LineItem(
        id=canonical_id(raw.id),
        product_name=product,
        role=raw.role,
        quantity=raw.quantity,
        unit_price=Money(amount=unit_price if unit_price is not None else Decimal(0), currency=currency),
    )


def opportunity_to_canonical(
    raw: SfOpportunity,
    *,
    default_currency: str,
    stage_map: Mapping[str, OpportunityStage] | None = None,
) -> Opportunity:
    """A canonical opportunity with its line items.

    ``Amount`` falls back to the sum of the lines (an opportunity without either is worth 0).

    Raises:
        ValueError: An unknown stage or billing type, no account, or values the canonical model refuses.
    """
    currency = raw.currency or default_currency
    items = tuple(line_item_to_canonical(item, currency) for item in (raw.line_items.records if raw.line_items else []))
    if raw.account_id is None:
        raise ValueError(f"Opportunity {raw.id} ({raw.name!r}) has no AccountId: a deal needs a client")
    amount = raw.amount if raw.amount is not None else sum((item.total.amount for item in items), Decimal(0))
    return Opportunity(
        id=canonical_id(raw.id),
        name=raw.name,
        account_id=canonical_id(raw.account_id),
        stage=stage_from_salesforce(raw.stage_name, is_closed=raw.is_closed, is_won=raw.is_won, stage_map=stage_map),
        amount=Money(amount=amount, currency=currency),
        close_date=raw.close_date,
        start_date=raw.start_date,
        end_date=raw.end_date,
        billing_type=billing_type(raw.billing_type),
        rate_card_id=raw.rate_card or None,
        line_items=items,
        source=SystemRef(system=SystemName.SALESFORCE, id=raw.id),
    )


def billing_address(raw: SfAccount) -> Address | None:
    """The billing address, or None when street, city or an ISO country code is missing.

    The country is ``BillingCountryCode`` (orgs with state and country picklists) or a
    two-letter ``BillingCountry``; a country name cannot be trusted to map, so a person is asked.
    """
    country = raw.billing_country_code or raw.billing_country
    street = [line.strip() for line in (raw.billing_street or "").splitlines() if line.strip()]
    if not street or not raw.billing_city or not country or len(country) != 2 or not country.isalpha():
        return None
    return Address(
        line1=street[0],
        line2=", ".join(street[1:]) or None,
        city=raw.billing_city,
        region=raw.billing_state or None,
        postal_code=raw.billing_postal_code or None,
        country=country,
    )


def account_to_customer(raw: SfAccount, *, default_currency: str) -> Customer:
    """A canonical customer; what the account lacks (address, payment terms) stays None."""
    return Customer(
        id=canonical_id(raw.id),
        name=raw.name,
        currency=raw.currency or default_currency,
        billing_address=billing_address(raw),
        payment_terms=raw.payment_terms or None,
        industry=raw.industry or None,
        source=SystemRef(system=SystemName.SALESFORCE, id=raw.id),
    )


def customer_to_account(customer: Customer, *, multi_currency: bool = True) -> dict[str, Any]:
    """Account fields for a customer; what the customer lacks is left out, never blanked in Salesforce."""
    fields: dict[str, Any] = {"Name": customer.name}
    if multi_currency:
        fields["CurrencyIsoCode"] = customer.currency
    if customer.industry:
        fields["Industry"] = customer.industry
    if customer.payment_terms:
        fields["Payment_Terms__c"] = customer.payment_terms
    address = customer.billing_address
    if address is not None:
        fields.update(
            BillingStreet="\n".join(line for line in (address.line1, address.line2) if line),
            BillingCity=address.city,
            BillingState=address.region,
            BillingPostalCode=address.postal_code,
            BillingCountry=address.country,
        )
    return fields
