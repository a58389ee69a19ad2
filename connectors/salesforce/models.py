"""Salesforce REST shapes the connector reads: records, query results and save results.

Field names follow the API (aliases); unknown fields are ignored, so an org with more fields
than these still reads. Numbers are decoded as ``Decimal`` by the client, never as floats.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "QueryResult",
    "SaveError",
    "SaveResult",
    "SfAccount",
    "SfAmendmentOpportunity",
    "SfContract",
    "SfLineItem",
    "SfOpportunity",
    "SfProductRef",
    "SfQuoteDates",
    "SfRecords",
]

T = TypeVar("T")


class _Raw(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class SfRecords(_Raw, Generic[T]):
    """A child relationship in a query row (``OpportunityLineItems``)."""

    total_size: int = Field(alias="totalSize")
    done: bool = True
    records: list[T]


class SfProductRef(_Raw):
    """The ``Product2`` parent of a line item, as selected (``Product2.Name``)."""

    name: str | None = Field(None, alias="Name")


class SfLineItem(_Raw):
    """An OpportunityLineItem; ``Role__c`` is the rate-card role the line sells."""

    id: str = Field(alias="Id")
    name: str | None = Field(None, alias="Name")
    quantity: Decimal = Field(alias="Quantity")
    unit_price: Decimal | None = Field(None, alias="UnitPrice")
    total_price: Decimal | None = Field(None, alias="TotalPrice")
    role: str | None = Field(None, alias="Role__c")
    product: SfProductRef | None = Field(None, alias="Product2")


class SfOpportunity(_Raw):
    """An Opportunity with psflow's custom fields and, when selected, its line items."""

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    account_id: str | None = Field(None, alias="AccountId")
    stage_name: str = Field(alias="StageName")
    amount: Decimal | None = Field(None, alias="Amount")
    close_date: date = Field(alias="CloseDate")
    is_closed: bool | None = Field(None, alias="IsClosed")
    is_won: bool | None = Field(None, alias="IsWon")
    currency: str | None = Field(None, alias="CurrencyIsoCode")
    start_date: date | None = Field(None, alias="Start_Date__c")
    end_date: date | None = Field(None, alias="End_Date__c")
    billing_type: str | None = Field(None, alias="Billing_Type__c")
    rate_card: str | None = Field(None, alias="Rate_Card__c")
    line_items: SfRecords[SfLineItem] | None = Field(None, alias="OpportunityLineItems")


class SfQuoteDates(_Raw):
    """The dates of a CPQ quote, as selected through ``SBQQ__PrimaryQuote__r``."""

    start_date: date | None = Field(None, alias="SBQQ__StartDate__c")
    end_date: date | None = Field(None, alias="SBQQ__EndDate__c")


class SfAmendmentOpportunity(_Raw):
    """An opportunity with its lines, seen as (a possible) CPQ amendment of a contract."""

    id: str = Field(alias="Id")
    stage_name: str = Field(alias="StageName")
    is_won: bool | None = Field(None, alias="IsWon")
    is_closed: bool | None = Field(None, alias="IsClosed")
    amount: Decimal | None = Field(None, alias="Amount")
    close_date: date = Field(alias="CloseDate")
    created_date: str = Field(alias="CreatedDate")
    currency: str | None = Field(None, alias="CurrencyIsoCode")
    amended_contract: str | None = Field(None, alias="SBQQ__AmendedContract__c")
    quote: SfQuoteDates | None = Field(None, alias="SBQQ__PrimaryQuote__r")
    line_items: SfRecords[SfLineItem] | None = Field(None, alias="OpportunityLineItems")


class SfContract(_Raw):
    """A Contract with the CPQ link to the deal it was contracted from."""

    id: str = Field(alias="Id")
    status_code: str | None = Field(None, alias="StatusCode")
    start_date: date | None = Field(None, alias="StartDate")
    end_date: date | None = Field(None, alias="EndDate")
    opportunity: str | None = Field(None, alias="SBQQ__Opportunity__c")


class SfAccount(_Raw):
    """An Account; ``Payment_Terms__c`` and ``PSFlow_Id__c`` are psflow's custom fields."""

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    industry: str | None = Field(None, alias="Industry")
    billing_street: str | None = Field(None, alias="BillingStreet")
    billing_city: str | None = Field(None, alias="BillingCity")
    billing_state: str | None = Field(None, alias="BillingState")
    billing_postal_code: str | None = Field(None, alias="BillingPostalCode")
    billing_country: str | None = Field(None, alias="BillingCountry")
    billing_country_code: str | None = Field(None, alias="BillingCountryCode")
    currency: str | None = Field(None, alias="CurrencyIsoCode")
    payment_terms: str | None = Field(None, alias="Payment_Terms__c")
    psflow_id: str | None = Field(None, alias="PSFlow_Id__c")


class QueryResult(_Raw):
    """One batch of a SOQL query."""

    total_size: int = Field(alias="totalSize")
    done: bool
    next_records_url: str | None = Field(None, alias="nextRecordsUrl")
    records: list[dict[str, Any]]


class SaveError(_Raw):
    """Why one record of a collection was not saved."""

    status_code: str = Field(alias="statusCode")
    message: str
    fields: list[str] = Field(default_factory=list)


class SaveResult(_Raw):
    """The outcome of saving one record of an sObject Collection, in request order.

    Attributes:
        id: The record id, when saved.
        success: Whether this record was saved.
        errors: Why not, when it was not.
        created: For upserts: created (True) or updated (False).
    """

    id: str | None = None
    success: bool
    errors: list[SaveError] = Field(default_factory=list)
    created: bool | None = None
