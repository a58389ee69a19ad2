"""Pure translations between HubSpot records and canonical models.

A HubSpot record's canonical id is ``hubspot:<id>`` unless psflow wrote it from another system,
in which case its ``psflow_id`` property holds the canonical id it was written under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

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
from connectors.hubspot.models import CrmObject
from connectors.hubspot.options import DEAL_STAGES, industry_label, industry_option, opportunity_stage

__all__ = [
    "COMPANY_PROPERTIES",
    "DEAL_PROPERTIES",
    "ID_PROPERTY",
    "LINE_ITEM_PROPERTIES",
    "PRIMARY_COMPANY",
    "canonical_id",
    "company_canonical_id",
    "company_to_customer",
    "customer_to_company_properties",
    "deal_to_opportunity",
    "epoch_ms",
    "hubspot_id",
    "ids_in_order",
    "instant_ms",
    "line_item_to_canonical",
    "parse_hubspot_date",
]

ID_PROPERTY = "psflow_id"
"""The unique company property psflow upserts by: the canonical id of the record it came from."""

PRIMARY_COMPANY = "deal_to_company"
"""The v3 association type of a deal's primary company (unlabelled ones end in ``_unlabeled``)."""

DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "closedate",
    "dealstage",
    "psflow_start_date",
    "psflow_end_date",
    "psflow_billing_type",
    "psflow_rate_card",
)
LINE_ITEM_PROPERTIES = ("name", "quantity", "price", "hs_line_item_currency_code", "psflow_role")
COMPANY_PROPERTIES = (
    "name",
    "industry",
    "address",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    ID_PROPERTY,
    "psflow_currency",
    "psflow_payment_terms",
)


def canonical_id(record_id: str) -> str:
    """The canonical id of a record first seen in HubSpot."""
    return f"{SystemName.HUBSPOT}:{record_id}"


def hubspot_id(record_id: str) -> str:
    """HubSpot's own id from either ``hubspot:<id>`` or a bare id.

    Raises:
        ValueError: The id is another system's canonical id.
    """
    prefix, separator, rest = record_id.partition(":")
    if not separator:
        return record_id
    if prefix != SystemName.HUBSPOT or not rest:
        raise ValueError(f"{record_id!r} is not a HubSpot id: expected 'hubspot:<id>' or a bare HubSpot id")
    return rest


def _source(record: CrmObject) -> SystemRef:
    return SystemRef(system=SystemName.HUBSPOT, id=record.id)


def parse_hubspot_date(value: str | None) -> date | None:
    """A business date from a HubSpot date or datetime property.

    HubSpot sends date properties as ``YYYY-MM-DD``, datetimes as ISO 8601 (``...Z``) and
    accepts or returns epoch milliseconds in places; datetimes are read as their UTC date.

    Raises:
        ValueError: The value is none of those.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC).date()
    if len(text) == 10:
        return date.fromisoformat(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a HubSpot date, datetime or epoch-milliseconds value") from exc
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def epoch_ms(moment: datetime) -> str:
    """A timezone-aware instant as HubSpot's epoch milliseconds, for search filters.

    Raises:
        ValueError: The datetime is naive.
    """
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: pass an aware datetime")
    return str(int(moment.timestamp() * 1000))


def instant_ms(value: str) -> str:
    """Epoch milliseconds of a HubSpot datetime value (ISO 8601 or already epoch ms).

    Raises:
        ValueError: The value is neither.
    """
    if value.isdigit():
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a HubSpot datetime") from exc
    return epoch_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _decimal(value: str | None, what: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{what} {value!r} is not a number") from exc


def line_item_to_canonical(item: CrmObject, *, currency: str) -> LineItem:
    """A canonical line item; the price is in the item's own currency, else `currency` (the deal's)."""
    quantity = _decimal(item.prop("quantity"), f"line item {item.id} quantity")
    return LineItem(
        id=canonical_id(item.id),
        product_name=item.prop("name") or f"Line item {item.id}",
        role=item.prop("psflow_role"),
        quantity=quantity if quantity is not None else Decimal(0),
        unit_price=Money(
            amount=_decimal(item.prop("price"), f"line item {item.id} price") or Decimal(0),
            currency=item.prop("hs_line_item_currency_code") or currency,
        ),
    )


def deal_to_opportunity(
    deal: CrmObject,
    *,
    account_id: str,
    line_items: Sequence[CrmObject] = (),
    default_currency: str,
    stages: Mapping[str, OpportunityStage] = DEAL_STAGES,
) -> Opportunity:
    """A canonical opportunity from a deal, its company's canonical id and its line items.

    A deal without an amount is worth the sum of its line items (zero without any).

    Raises:
        ValueError: A required property is missing or a value cannot be read.
    """
    currency = deal.prop("deal_currency_code") or default_currency
    items = tuple(line_item_to_canonical(item, currency=currency) for item in line_items)
    name = deal.prop("dealname")
    if name is None:
        raise ValueError(f"deal {deal.id} has no dealname")
    close_date = parse_hubspot_date(deal.prop("closedate"))
    if close_date is None:
        raise ValueError(f"deal {deal.id} has no closedate: set the close date in HubSpot")
    amount = _decimal(deal.prop("amount"), f"deal {deal.id} amount")
    if amount is None:
        amount = sum((item.total.amount for item in items), Decimal(0))
    billing_type = deal.prop("psflow_billing_type")
    return Opportunity(
        id=canonical_id(deal.id),
        name=name,
        account_id=account_id,
        stage=opportunity_stage(deal.prop("dealstage"), stages),
        amount=Money(amount=amount, currency=currency),
        close_date=close_date,
        start_date=parse_hubspot_date(deal.prop("psflow_start_date")),
        end_date=parse_hubspot_date(deal.prop("psflow_end_date")),
        billing_type=BillingType(billing_type) if billing_type else BillingType.TIME_AND_MATERIALS,
        rate_card_id=deal.prop("psflow_rate_card"),
        line_items=items,
        source=_source(deal),
    )


def company_canonical_id(company: CrmObject) -> str:
    """The canonical id of a company: its ``psflow_id`` when psflow wrote it, else ``hubspot:<id>``."""
    return company.prop(ID_PROPERTY) or canonical_id(company.id)


def _address(company: CrmObject) -> Address | None:
    line1, city, country = company.prop("address"), company.prop("city"), company.prop("country")
    # HubSpot's country is free text; only ISO alpha-2 codes (what psflow writes) are understood.
    if not (line1 and city and country and len(country) == 2 and country.isalpha()):
        return None
    return Address(
        line1=line1,
        line2=company.prop("address2"),
        city=city,
        region=company.prop("state"),
        postal_code=company.prop("zip"),
        country=country,
    )


def company_to_customer(company: CrmObject, *, default_currency: str) -> Customer:
    """A canonical customer from a company.

    The billing address is read only when street, city and an ISO alpha-2 country are present.

    Raises:
        ValueError: The company has no name or an unreadable value.
    """
    name = company.prop("name")
    if name is None:
        raise ValueError(f"company {company.id} has no name")
    industry = company.prop("industry")
    return Customer(
        id=company_canonical_id(company),
        name=name,
        currency=company.prop("psflow_currency") or default_currency,
        billing_address=_address(company),
        payment_terms=company.prop("psflow_payment_terms"),
        industry=industry_label(industry) if industry else None,
        source=_source(company),
    )


def customer_to_company_properties(customer: Customer) -> dict[str, str]:
    """Company properties for an upsert by ``psflow_id``; fields the customer lacks are left untouched."""
    properties = {"name": customer.name, ID_PROPERTY: customer.id, "psflow_currency": customer.currency}
    if customer.payment_terms:
        properties["psflow_payment_terms"] = customer.payment_terms
    if customer.industry:
        properties["industry"] = industry_option(customer.industry)
    address = customer.billing_address
    if address is not None:
        optional = {"address2": address.line2, "state": address.region, "zip": address.postal_code}
        properties.update({"address": address.line1, "city": address.city, "country": address.country})
        properties.update({key: value for key, value in optional.items() if value})
    return properties


def ids_in_order(records: Iterable[CrmObject], ids: Sequence[str]) -> list[CrmObject]:
    """`records` ordered as `ids` (batch reads do not promise an order)."""
    by_id = {record.id: record for record in records}
    return [by_id[record_id] for record_id in ids if record_id in by_id]
