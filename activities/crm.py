"""CRM activities (``crm`` task queue): read a won deal as a canonical engagement; find recently won deals;
locate and read contract amendments (Salesforce CPQ amendment opportunities, HubSpot change-order deals)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import INVALID_DATA, classified, invalid_data
from activities._heartbeat import heartbeating
from activities.models import AmendmentRef, ClosedWonQuery, OpportunityRef
from canonical import ContractAmendment, Customer, Engagement, Opportunity, OpportunityStage
from connectors.hubspot import HubSpotConnector
from connectors.salesforce import SalesforceConnector

DEFAULT_ENGAGEMENT_DAYS = 90
NOT_AN_AMENDMENT = "NotAnAmendment"
"""The record a delivery or poll named amends no contract."""


class CrmReader(Protocol):
    """What provisioning reads from a CRM."""

    async def opportunity(self, opportunity_id: str) -> Opportunity: ...

    async def customer(self, account_id: str) -> Customer: ...

    def closed_won_since(self, since: datetime) -> AsyncIterator[str]: ...

    async def contract_of(self, record_id: str) -> str | None: ...

    async def read_amendment(self, contract_id: str, record_id: str) -> ContractAmendment: ...

    def amendments_won_since(self, since: datetime) -> AsyncIterator[str]: ...


class SalesforceReader:
    """Salesforce as a CrmReader: Opportunity + Account."""

    def __init__(self, connector: SalesforceConnector) -> None:
        self._connector = connector

    async def opportunity(self, opportunity_id: str) -> Opportunity:
        return await self._connector.get_opportunity(opportunity_id)

    async def customer(self, account_id: str) -> Customer:
        return await self._connector.get_account(account_id)

    def closed_won_since(self, since: datetime) -> AsyncIterator[str]:
        return self._connector.closed_won_since(since)

    async def contract_of(self, record_id: str) -> str | None:
        return await self._connector.contract_of(record_id)

    async def read_amendment(self, contract_id: str, record_id: str) -> ContractAmendment:
        return await self._connector.read_amendment(contract_id, record_id)

    def amendments_won_since(self, since: datetime) -> AsyncIterator[str]:
        return self._connector.amendments_won_since(since)


class HubSpotReader:
    """HubSpot as a CrmReader: deal + company."""

    def __init__(self, connector: HubSpotConnector) -> None:
        self._connector = connector

    async def opportunity(self, opportunity_id: str) -> Opportunity:
        return await self._connector.get_deal(opportunity_id)

    async def customer(self, account_id: str) -> Customer:
        return await self._connector.get_company(account_id.removeprefix("hubspot:"))

    def closed_won_since(self, since: datetime) -> AsyncIterator[str]:
        return self._connector.closed_won_since(since)

    async def contract_of(self, record_id: str) -> str | None:
        return await self._connector.parent_deal_of(record_id)

    async def read_amendment(self, contract_id: str, record_id: str) -> ContractAmendment:
        return await self._connector.read_amendment(contract_id, record_id)

    def amendments_won_since(self, since: datetime) -> AsyncIterator[str]:
        return self._connector.change_orders_won_since(since)


def build_engagement(opportunity: Opportunity, customer: Customer) -> Engagement:
    """The canonical engagement of a won deal. Raises ValidationError naming what is wrong with the deal."""
    if opportunity.source is None:
        raise ApplicationError(
            f"opportunity {opportunity.id} has no source system", type=INVALID_DATA, non_retryable=True
        )
    start = opportunity.start_date or opportunity.close_date
    return Engagement(
        id=opportunity.id,
        name=opportunity.name,
        customer=customer,
        opportunity=opportunity.source,
        billing_type=opportunity.billing_type,
        currency=opportunity.amount.currency,
        budget=opportunity.amount,
        start_date=start,
        end_date=opportunity.end_date or start + timedelta(days=DEFAULT_ENGAGEMENT_DAYS),
        line_items=opportunity.line_items,
    )


class CrmActivities:
    """Reads from the CRMs the firm runs, by name ("salesforce", "hubspot")."""

    def __init__(self, crms: dict[str, CrmReader]) -> None:
        self._crms = crms

    def _crm(self, name: str) -> CrmReader:
        if name not in self._crms:
            known = ", ".join(sorted(self._crms))
            raise ApplicationError(f"unknown CRM {name!r}; configured: {known}", type=INVALID_DATA, non_retryable=True)
        return self._crms[name]

    @activity.defn(name="crm.read_engagement")
    @classified
    @heartbeating
    async def read_engagement(self, ref: OpportunityRef) -> Engagement:
        """Read a won deal and its account; fail fast, non-retryably, when it cannot become an engagement."""
        crm = self._crm(ref.crm)
        what = f"{ref.crm} opportunity {ref.opportunity_id}"
        try:
            opportunity = await crm.opportunity(ref.opportunity_id)
        except ValidationError as error:
            raise invalid_data(what, error) from None
        if opportunity.stage is not OpportunityStage.CLOSED_WON:
            raise ApplicationError(
                f"{what} is {opportunity.stage.value}, not closed_won: nothing to provision",
                type="NotWon",
                non_retryable=True,
            )
        if not opportunity.line_items:
            raise ApplicationError(
                f"{what} has no line items: add products to the deal", type=INVALID_DATA, non_retryable=True
            )
        try:
            customer = await crm.customer(opportunity.account_id)
            return build_engagement(opportunity, customer)
        except ValidationError as error:
            raise invalid_data(what, error) from None

    @activity.defn(name="crm.closed_won_since")
    @classified
    @heartbeating
    async def closed_won_since(self, query: ClosedWonQuery) -> list[str]:
        """Ids of deals won since an instant, for the polling fallback."""
        return [opportunity_id async for opportunity_id in self._crm(query.crm).closed_won_since(query.since)]

    @activity.defn(name="crm.amendments_won_since")
    @classified
    @heartbeating
    async def amendments_won_since(self, query: ClosedWonQuery) -> list[str]:
        """Ids of amendment records won since an instant (CPQ amendment opportunities, change-order deals)."""
        return [record_id async for record_id in self._crm(query.crm).amendments_won_since(query.since)]

    @activity.defn(name="crm.locate_amendment")
    @classified
    @heartbeating
    async def locate_amendment(self, ref: OpportunityRef) -> AmendmentRef:
        """The contract a won amendment record amends; non-retryable ``NotAnAmendment`` when it amends none."""
        contract_id = await self._crm(ref.crm).contract_of(ref.opportunity_id)
        if contract_id is None:
            raise ApplicationError(
                f"{ref.crm} record {ref.opportunity_id} amends no contract (no SBQQ__AmendedContract__c, "
                "or no change-order association to an original deal): nothing to apply",
                type=NOT_AN_AMENDMENT,
                non_retryable=True,
            )
        return AmendmentRef(crm=ref.crm, contract_id=contract_id, record_id=ref.opportunity_id)

    @activity.defn(name="crm.read_amendment")
    @classified
    @heartbeating
    async def read_amendment(self, ref: AmendmentRef) -> ContractAmendment:
        """The amendment as new values (budget, end date, rates) with its version; non-retryable when invalid."""
        what = f"{ref.crm} amendment {ref.record_id} of contract {ref.contract_id}"
        try:
            return await self._crm(ref.crm).read_amendment(ref.contract_id, ref.record_id)
        except ValidationError as error:
            raise invalid_data(what, error) from None
