"""Pure Salesforce ↔ canonical mapping, as fixture tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from canonical import Address, BillingType, Customer, Money, OpportunityStage, SystemName, SystemRef
from connectors.salesforce.mapping import (
    account_to_customer,
    billing_address,
    billing_type,
    canonical_id,
    customer_to_account,
    line_item_to_canonical,
    opportunity_to_canonical,
    salesforce_id,
    stage_from_salesforce,
    stage_to_salesforce,
)
from connectors.salesforce.models import SfAccount, SfLineItem, SfOpportunity

OPPORTUNITY: dict[str, Any] = {
    "attributes": {"type": "Opportunity"},
    "Id": "0068d0000000004AAA",
    "Name": "Northwind - ERP implementation",
    "AccountId": "0018d000000000HAAQ",
    "StageName": "Closed Won",
    "Amount": Decimal("8400.00"),
    "CloseDate": "2025-03-31",
    "IsClosed": True,
    "IsWon": True,
    "CurrencyIsoCode": "GBP",
    "Start_Date__c": "2025-04-07",
    "End_Date__c": "2025-09-26",
    "Billing_Type__c": "Fixed Fee",
    "Rate_Card__c": "RC-GBP",
    "OpportunityLineItems": {
        "totalSize": 2,
        "done": True,
        "records": [
            {
                "Id": "00k8d000000000FAAQ",
                "Name": "Northwind - ERP implementation Solution design",
                "Quantity": Decimal("40.0"),
                "UnitPrice": Decimal("190.0"),
                "TotalPrice": Decimal("7600.00"),
                "Role__c": "Senior Consultant",
                "Product2": {"attributes": {"type": "Product2"}, "Name": "Solution design"},
            },
            {
                "Id": "00k8d000000000GAAQ",
                "Name": "Northwind - ERP implementation Executive steering",
                "Quantity": Decimal("2"),
                "UnitPrice": None,
                "TotalPrice": Decimal("800"),
                "Role__c": None,
                "Product2": None,
            },
        ],
    },
}


@pytest.mark.parametrize(
    ("stage_name", "is_closed", "is_won", "expected"),
    [
        ("Prospecting", False, False, OpportunityStage.PROSPECTING),
        ("Qualification", False, False, OpportunityStage.QUALIFICATION),
        ("Needs Analysis", False, False, OpportunityStage.QUALIFICATION),
        ("Proposal/Price Quote", False, False, OpportunityStage.PROPOSAL),
        ("Proposal", False, False, OpportunityStage.PROPOSAL),
        ("Negotiation/Review", False, False, OpportunityStage.NEGOTIATION),
        ("Negotiation", False, False, OpportunityStage.NEGOTIATION),
        ("Closed Won", True, True, OpportunityStage.CLOSED_WON),
        ("Closed Lost", True, False, OpportunityStage.CLOSED_LOST),
        ("Signed", True, True, OpportunityStage.CLOSED_WON),
        ("Walked away", True, False, OpportunityStage.CLOSED_LOST),
    ],
)
def test_stage_from_salesforce(stage_name: str, is_closed: bool, is_won: bool, expected: OpportunityStage) -> None:
    assert stage_from_salesforce(stage_name, is_closed=is_closed, is_won=is_won) is expected


def test_an_unknown_open_stage_names_the_setting_that_maps_it() -> None:
    with pytest.raises(ValueError, match=r"'Discovery'.*PSFLOW_SALESFORCE_STAGE_MAP"):
        stage_from_salesforce("Discovery", is_closed=False, is_won=False)
    mapped = {"Discovery": OpportunityStage.QUALIFICATION}
    assert stage_from_salesforce("Discovery", stage_map=mapped) is OpportunityStage.QUALIFICATION


@pytest.mark.parametrize(
    ("stage", "stage_map", "expected"),
    [
        (OpportunityStage.CLOSED_WON, None, "Closed Won"),
        (OpportunityStage.PROPOSAL, None, "Proposal/Price Quote"),
        (OpportunityStage.CLOSED_WON, {"Signed": OpportunityStage.CLOSED_WON}, "Signed"),
        (OpportunityStage.CLOSED_LOST, {"Signed": OpportunityStage.CLOSED_WON}, "Closed Lost"),
    ],
)
def test_stage_to_salesforce(
    stage: OpportunityStage, stage_map: dict[str, OpportunityStage] | None, expected: str
) -> None:
    assert stage_to_salesforce(stage, stage_map) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, BillingType.TIME_AND_MATERIALS),
        ("", BillingType.TIME_AND_MATERIALS),
        ("Time and Materials", BillingType.TIME_AND_MATERIALS),
        ("T&M", BillingType.TIME_AND_MATERIALS),
        ("Fixed Fee", BillingType.FIXED_FEE),
        ("fixed price", BillingType.FIXED_FEE),
    ],
)
def test_billing_type(value: str | None, expected: BillingType) -> None:
    assert billing_type(value) is expected


def test_an_unknown_billing_type_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'Retainer'"):
        billing_type("Retainer")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("salesforce:0068d0000000004AAA", "0068d0000000004AAA"),
        ("0068d0000000004", "0068d0000000004"),
        ("0068d0000000004AAA", "0068d0000000004AAA"),
    ],
)
def test_salesforce_id(value: str, expected: str) -> None:
    assert salesforce_id(value) == expected
    assert canonical_id(expected) == f"salesforce:{expected}"


@pytest.mark.parametrize("value", ["hubspot:123", "006' OR Name != '", "", "0068d00000000"])
def test_salesforce_id_refuses_what_is_no_id(value: str) -> None:
    with pytest.raises(ValueError, match="not a Salesforce record id"):
        salesforce_id(value)


def test_opportunity_to_canonical() -> None:
    opportunity = opportunity_to_canonical(SfOpportunity.model_validate(OPPORTUNITY), default_currency="USD")
    assert opportunity.id == "salesforce:0068d0000000004AAA"
    assert opportunity.account_id == "salesforce:0018d000000000HAAQ"
    assert opportunity.stage is OpportunityStage.CLOSED_WON
    assert opportunity.amount == Money.of("8400.00", "GBP")
    assert (opportunity.close_date, opportunity.start_date, opportunity.end_date) == (
        date(2025, 3, 31),
        date(2025, 4, 7),
        date(2025, 9, 26),
    )
    assert opportunity.billing_type is BillingType.FIXED_FEE
    assert opportunity.rate_card_id == "RC-GBP"
    assert opportunity.source == SystemRef(system=SystemName.SALESFORCE, id="0068d0000000004AAA")
    first, second = opportunity.line_items
    assert (first.id, first.product_name, first.role, first.quantity) == (
        "salesforce:00k8d000000000FAAQ",
        "Solution design",
        "Senior Consultant",
        Decimal("40.0"),
    )
    assert first.unit_price == Money.of("190.0", "GBP")
    # No product selected and no UnitPrice: the line's Name and TotalPrice / Quantity stand in.
    assert second.product_name == "Northwind - ERP implementation Executive steering"
    assert second.unit_price == Money.of("400", "GBP")


def test_an_opportunity_without_amount_or_currency_falls_back() -> None:
    raw = {**OPPORTUNITY, "Amount": None, "CurrencyIsoCode": None, "Billing_Type__c": None, "Rate_Card__c": None}
    opportunity = opportunity_to_canonical(SfOpportunity.model_validate(raw), default_currency="EUR")
    assert opportunity.amount == Money.of("8400", "EUR")
    assert opportunity.billing_type is BillingType.TIME_AND_MATERIALS
    assert opportunity.rate_card_id is None


def test_an_opportunity_without_account_is_refused() -> None:
    with pytest.raises(ValueError, match="has no AccountId"):
        opportunity_to_canonical(
            SfOpportunity.model_validate({**OPPORTUNITY, "AccountId": None}), default_currency="USD"
        )


def test_a_line_item_without_product_is_refused() -> None:
    raw = SfLineItem.model_validate({"Id": "00k8d000000000FAAQ", "Quantity": "1", "UnitPrice": "10"})
    with pytest.raises(ValueError, match="names no product"):
        line_item_to_canonical(raw, "USD")


ACCOUNT: dict[str, Any] = {
    "Id": "0018d000000000HAAQ",
    "Name": "Bluehaven Insurance",
    "Industry": "Insurance",
    "BillingStreet": "12 King Street\nFloor 3",
    "BillingCity": "London",
    "BillingState": "Greater London",
    "BillingPostalCode": "EC2V 8AA",
    "BillingCountry": "GB",
    "CurrencyIsoCode": "GBP",
    "Payment_Terms__c": "Net 30",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {},
            Address(
                line1="12 King Street",
                line2="Floor 3",
                city="London",
                region="Greater London",
                postal_code="EC2V 8AA",
                country="GB",
            ),
        ),
        ({"BillingCountry": "United Kingdom"}, None),
        ({"BillingCountry": "United Kingdom", "BillingCountryCode": "GB"}, "GB"),
        ({"BillingStreet": None}, None),
        ({"BillingCity": ""}, None),
        ({"BillingCountry": None}, None),
    ],
)
def test_billing_address(changes: dict[str, Any], expected: Address | str | None) -> None:
    address = billing_address(SfAccount.model_validate({**ACCOUNT, **changes}))
    if isinstance(expected, str):
        assert address is not None and address.country == expected
    else:
        assert address == expected


def test_account_to_customer_leaves_what_is_missing_empty() -> None:
    customer = account_to_customer(SfAccount.model_validate(ACCOUNT), default_currency="USD")
    assert customer.id == "salesforce:0018d000000000HAAQ"
    assert (customer.currency, customer.payment_terms, customer.industry) == ("GBP", "Net 30", "Insurance")
    assert customer.billable
    bare = {"Id": "0018d000000000HAAQ", "Name": "Bluehaven Insurance"}
    customer = account_to_customer(SfAccount.model_validate(bare), default_currency="USD")
    assert (customer.currency, customer.billing_address, customer.payment_terms) == ("USD", None, None)
    assert not customer.billable


def test_customer_to_account() -> None:
    customer = Customer(
        id="netsuite:42",
        name="Lumen Bank",
        currency="EUR",
        billing_address=Address(line1="1 Dam", line2="Unit 4", city="Amsterdam", country="NL"),
        payment_terms="Net 45",
    )
    assert customer_to_account(customer) == {
        "Name": "Lumen Bank",
        "CurrencyIsoCode": "EUR",
        "Payment_Terms__c": "Net 45",
        "BillingStreet": "1 Dam\nUnit 4",
        "BillingCity": "Amsterdam",
        "BillingState": None,
        "BillingPostalCode": None,
        "BillingCountry": "NL",
    }
    bare = Customer(id="netsuite:43", name="Solano Foods", currency="USD")
    assert customer_to_account(bare, multi_currency=False) == {"Name": "Solano Foods"}
