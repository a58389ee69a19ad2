"""Pure HubSpot ↔ canonical mapping, table by table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from canonical import Address, BillingType, Customer, OpportunityStage, SystemName
from connectors.hubspot.mapping import (
    company_to_customer,
    customer_to_company_properties,
    deal_to_opportunity,
    epoch_ms,
    hubspot_id,
    instant_ms,
    parse_hubspot_date,
)
from connectors.hubspot.models import CrmObject
from connectors.hubspot.options import deal_stage, industry_label, industry_option, opportunity_stage


def deal(**properties: Any) -> CrmObject:
    base = {
        "dealname": "Bluehaven - Data platform",
        "amount": "48000.50",
        "deal_currency_code": "GBP",
        "closedate": "2026-03-31T00:00:00.000Z",
        "dealstage": "closedwon",
        "psflow_start_date": "2026-04-06",
        "psflow_end_date": "2026-09-30",
        "psflow_billing_type": "fixed_fee",
        "psflow_rate_card": "RC-GBP",
    }
    return CrmObject.model_validate({"id": "9100000007", "properties": {**base, **properties}})


def line_item(item_id: str, **properties: Any) -> CrmObject:
    base = {"name": "Discovery workshop", "quantity": "40", "price": "235", "psflow_role": "Manager"}
    return CrmObject.model_validate({"id": item_id, "properties": {**base, **properties}})


def company(**properties: Any) -> CrmObject:
    base = {
        "name": "Bluehaven Insurance",
        "industry": "INSURANCE",
        "address": "12 King Street",
        "city": "London",
        "state": "Greater London",
        "zip": "EC2V 8AA",
        "country": "GB",
        "psflow_currency": "GBP",
        "psflow_payment_terms": "Net 30",
    }
    return CrmObject.model_validate({"id": "5100000002", "properties": {**base, **properties}})


@pytest.mark.parametrize(
    ("stage_id", "stage"),
    [
        ("appointmentscheduled", OpportunityStage.PROSPECTING),
        ("qualifiedtobuy", OpportunityStage.QUALIFICATION),
        ("presentationscheduled", OpportunityStage.PROPOSAL),
        ("decisionmakerboughtin", OpportunityStage.NEGOTIATION),
        ("contractsent", OpportunityStage.NEGOTIATION),
        ("closedwon", OpportunityStage.CLOSED_WON),
        ("closedlost", OpportunityStage.CLOSED_LOST),
    ],
)
def test_stage_ids_map_to_canonical_stages(stage_id: str, stage: OpportunityStage) -> None:
    assert opportunity_stage(stage_id) is stage
    assert opportunity_stage(deal_stage(stage)) is stage


@pytest.mark.parametrize("stage_id", ["custom_pipeline_stage", None])
def test_unknown_stage_is_refused_naming_the_known_ones(stage_id: str | None) -> None:
    with pytest.raises(ValueError, match="closedwon"):
        opportunity_stage(stage_id)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-04-06", date(2026, 4, 6)),
        ("2026-03-31T00:00:00.000Z", date(2026, 3, 31)),
        ("2026-03-31T23:30:00-02:00", date(2026, 4, 1)),
        ("1774915200000", date(2026, 3, 31)),
        ("", None),
        (None, None),
    ],
)
def test_dates_read_from_every_hubspot_format(value: str | None, expected: date | None) -> None:
    assert parse_hubspot_date(value) == expected


def test_unreadable_date_is_refused() -> None:
    with pytest.raises(ValueError, match="not a HubSpot date"):
        parse_hubspot_date("next tuesday")


def test_epoch_ms_needs_an_aware_datetime() -> None:
    assert epoch_ms(datetime(2026, 1, 1, tzinfo=UTC)) == "1767225600000"
    assert epoch_ms(datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))) == "1767225600000"
    with pytest.raises(ValueError, match="no time zone"):
        epoch_ms(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00.000Z", "1767225600000"),
        ("2026-01-01T01:00:00+01:00", "1767225600000"),
        ("2026-01-01T00:00:00", "1767225600000"),
        ("1767225600000", "1767225600000"),
    ],
)
def test_instants_as_epoch_ms(value: str, expected: str) -> None:
    assert instant_ms(value) == expected


def test_unreadable_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="not a HubSpot datetime"):
        instant_ms("yesterday")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("hubspot:123", "123"), ("123", "123")],
)
def test_hubspot_ids_bare_or_canonical(given: str, expected: str) -> None:
    assert hubspot_id(given) == expected


@pytest.mark.parametrize("given", ["salesforce:006A", "hubspot:"])
def test_other_systems_ids_are_not_hubspot_ids(given: str) -> None:
    with pytest.raises(ValueError, match="not a HubSpot id"):
        hubspot_id(given)


def test_deal_becomes_an_opportunity_with_line_items() -> None:
    opportunity = deal_to_opportunity(
        deal(),
        account_id="hubspot:5100000002",
        line_items=[line_item("4100000701"), line_item("4100000702", name="Build", quantity="80", price="150")],
        default_currency="USD",
    )
    assert opportunity.id == "hubspot:9100000007"
    assert opportunity.source is not None and opportunity.source.system is SystemName.HUBSPOT
    assert opportunity.source.id == "9100000007"
    assert opportunity.account_id == "hubspot:5100000002"
    assert opportunity.stage is OpportunityStage.CLOSED_WON and opportunity.is_won
    assert opportunity.amount.amount == Decimal("48000.50") and opportunity.amount.currency == "GBP"
    assert (opportunity.close_date, opportunity.start_date, opportunity.end_date) == (
        date(2026, 3, 31),
        date(2026, 4, 6),
        date(2026, 9, 30),
    )
    assert opportunity.billing_type is BillingType.FIXED_FEE
    assert opportunity.rate_card_id == "RC-GBP"
    first, second = opportunity.line_items
    assert (first.id, first.product_name, first.role, first.quantity) == (
        "hubspot:4100000701",
        "Discovery workshop",
        "Manager",
        Decimal(40),
    )
    assert second.unit_price.amount == Decimal(150) and second.unit_price.currency == "GBP"


@pytest.mark.parametrize(
    ("properties", "amount", "currency", "billing"),
    [
        ({"amount": None}, Decimal(40 * 235), "GBP", BillingType.FIXED_FEE),
        ({"deal_currency_code": ""}, Decimal("48000.50"), "EUR", BillingType.FIXED_FEE),
        ({"psflow_billing_type": None}, Decimal("48000.50"), "GBP", BillingType.TIME_AND_MATERIALS),
    ],
)
def test_deal_defaults(properties: dict[str, Any], amount: Decimal, currency: str, billing: BillingType) -> None:
    items = [line_item("1", hs_line_item_currency_code=currency)]
    opportunity = deal_to_opportunity(
        deal(**properties), account_id="hubspot:1", line_items=items, default_currency="EUR"
    )
    assert (opportunity.amount.amount, opportunity.amount.currency, opportunity.billing_type) == (
        amount,
        currency,
        billing,
    )


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"dealname": None}, "no dealname"),
        ({"closedate": ""}, "no closedate"),
        ({"amount": "lots"}, "not a number"),
        ({"dealstage": "mystery"}, "no canonical stage"),
    ],
)
def test_unmappable_deals_say_what_is_wrong(properties: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deal_to_opportunity(deal(**properties), account_id="hubspot:1", default_currency="GBP")


def test_line_item_in_another_currency_than_the_deal_is_refused() -> None:
    with pytest.raises(ValueError, match="line item"):
        deal_to_opportunity(
            deal(),
            account_id="hubspot:1",
            line_items=[line_item("1", hs_line_item_currency_code="USD")],
            default_currency="GBP",
        )


def test_company_becomes_a_customer() -> None:
    customer = company_to_customer(company(), default_currency="USD")
    assert customer == Customer(
        id="hubspot:5100000002",
        name="Bluehaven Insurance",
        currency="GBP",
        billing_address=Address(
            line1="12 King Street", city="London", region="Greater London", postal_code="EC2V 8AA", country="GB"
        ),
        payment_terms="Net 30",
        industry="Insurance",
        source=customer.source,
    )
    assert customer.billable


@pytest.mark.parametrize(
    ("properties", "expected_id", "currency", "has_address"),
    [
        ({"psflow_id": "netsuite:77"}, "netsuite:77", "GBP", True),
        ({"psflow_currency": None}, "hubspot:5100000002", "USD", True),
        ({"country": "United Kingdom"}, "hubspot:5100000002", "GBP", False),
        ({"address": ""}, "hubspot:5100000002", "GBP", False),
    ],
)
def test_company_ids_currency_and_address(
    properties: dict[str, Any], expected_id: str, currency: str, has_address: bool
) -> None:
    customer = company_to_customer(company(**properties), default_currency="USD")
    assert (customer.id, customer.currency, customer.billing_address is not None) == (
        expected_id,
        currency,
        has_address,
    )


def test_company_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="no name"):
        company_to_customer(company(name=None), default_currency="GBP")


def test_customer_becomes_company_properties_keyed_by_its_canonical_id() -> None:
    customer = Customer(
        id="netsuite:77",
        name="Lumen Bank",
        currency="EUR",
        billing_address=Address(line1="Keizersgracht 1", city="Amsterdam", country="NL"),
        payment_terms="Net 45",
        industry="Financial Services",
    )
    assert customer_to_company_properties(customer) == {
        "name": "Lumen Bank",
        "psflow_id": "netsuite:77",
        "psflow_currency": "EUR",
        "psflow_payment_terms": "Net 45",
        "industry": "FINANCIAL_SERVICES",
        "address": "Keizersgracht 1",
        "city": "Amsterdam",
        "country": "NL",
    }


def test_bare_customer_leaves_optional_properties_untouched() -> None:
    customer = Customer(id="netsuite:78", name="Solano Foods", currency="USD")
    assert customer_to_company_properties(customer) == {
        "name": "Solano Foods",
        "psflow_id": "netsuite:78",
        "psflow_currency": "USD",
    }


@pytest.mark.parametrize(
    ("label", "option"),
    [
        ("Financial Services", "FINANCIAL_SERVICES"),
        ("Insurance", "INSURANCE"),
        ("Real Estate", "REAL_ESTATE"),
        ("Manufacturing", "INDUSTRIAL_AUTOMATION"),
        ("Professional Services", "MANAGEMENT_CONSULTING"),
        ("Technology", "INFORMATION_TECHNOLOGY_AND_SERVICES"),
    ],
)
def test_industries_round_trip(label: str, option: str) -> None:
    assert industry_option(label) == option
    assert industry_label(option) == label


def test_other_industry_options_read_as_words() -> None:
    assert industry_label("ARTS_AND_CRAFTS") == "Arts and Crafts"
    assert industry_option("Arts & Crafts") == "ARTS_CRAFTS"
