"""`HubSpotConnector`: deals, companies and line items of one HubSpot account, in canonical terms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import httpx

from canonical import ContractAmendment, Customer, Opportunity, OpportunityStage, SystemName
from connectors._core import BaseConnector, BusinessError, Page, PermanentError, pages, paginate
from connectors.hubspot._change_orders import ChangeOrderReader
from connectors.hubspot.api import BATCH_LIMIT, HubSpotApi, auth_of, rate_limits
from connectors.hubspot.errors import SYSTEM, parse_hubspot_error
from connectors.hubspot.mapping import (
    COMPANY_PROPERTIES,
    DEAL_PROPERTIES,
    ID_PROPERTY,
    LINE_ITEM_PROPERTIES,
    PRIMARY_COMPANY,
    company_canonical_id,
    company_to_customer,
    customer_to_company_properties,
    deal_to_opportunity,
    epoch_ms,
    hubspot_id,
    ids_in_order,
    instant_ms,
)
from connectors.hubspot.models import BatchResult, CrmObject, ObjectPage
from connectors.hubspot.options import DEAL_STAGES, deal_stage
from connectors.hubspot.settings import HubSpotSettings

__all__ = ["HubSpotConnector"]

_MODIFIED = "hs_lastmodifieddate"


def _unmappable(what: str, exc: ValueError) -> PermanentError:
    return PermanentError(SYSTEM, f"cannot read {what} as a canonical record: {exc}", code="unmappable_record")


def _own_id(record_id: str) -> str:
    try:
        return hubspot_id(record_id)
    except ValueError as exc:
        raise PermanentError(SYSTEM, str(exc), code="invalid_id") from exc


def _native(record_id: str) -> bool:
    """Whether an id is HubSpot's own (bare or ``hubspot:``) rather than another system's canonical id."""
    prefix, separator, _ = record_id.partition(":")
    return not separator or prefix == SystemName.HUBSPOT


class HubSpotConnector(BaseConnector[HubSpotSettings]):
    """Deals and companies of one HubSpot account as canonical opportunities and customers.

    Authentication is a private-app token or OAuth 2.0 (refresh-token grant), per the settings;
    all calls share the account's rate budget (see `HubSpotApi`).

    Args:
        settings: The account's settings.
        transport: The innermost HTTP transport (an in-process emulator in tests).
    """

    def __init__(self, settings: HubSpotSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.auth = auth_of(settings)
        super().__init__(
            SYSTEM,
            settings,
            transport=transport,
            auth=self.auth,
            parse_error=parse_hubspot_error,
            rate_limits=rate_limits(settings),
        )
        self.api = HubSpotApi(self.client)
        self._stages = {**DEAL_STAGES, **settings.stage_map}
        self._stage_ids = {stage: stage_id for stage_id, stage in settings.stage_map.items()}
        self._change_orders = ChangeOrderReader(self.api, settings)

    # -- deals --------------------------------------------------------------------------------

    async def get_deal(self, deal_id: str) -> Opportunity:
        """A deal with its line items and its primary company's canonical id.

        Args:
            deal_id: HubSpot's deal id, bare or as ``hubspot:<id>``.

        Raises:
            NotFoundError: No such deal.
            PermanentError: The deal has no company, or a value cannot be mapped.
            BusinessError: An associated line item could not be read.
        """
        deal = await self.api.read("deals", _own_id(deal_id), DEAL_PROPERTIES, associations=("companies", "line_items"))
        company_ids = deal.associated_ids("companies", preferred_type=PRIMARY_COMPANY)
        if not company_ids:
            raise PermanentError(
                SYSTEM, f"deal {deal.id} has no associated company: associate one in HubSpot", code="no_company"
            )
        company, line_items = await asyncio.gather(
            self.api.read("companies", company_ids[0], (ID_PROPERTY,)),
            self._read_all("line_items", deal.associated_ids("line_items"), LINE_ITEM_PROPERTIES),
        )
        try:
            return deal_to_opportunity(
                deal,
                account_id=company_canonical_id(company),
                line_items=line_items,
                default_currency=self.settings.default_currency,
                stages=self._stages,
            )
        except ValueError as exc:
            raise _unmappable(f"deal {deal.id}", exc) from exc

    async def set_deal_stage(self, deal_id: str, stage: OpportunityStage) -> None:
        """Move a deal to the stage for `stage`: the account's own from ``stage_map``, else the default pipeline's."""
        stage_id = self._stage_ids.get(stage) or deal_stage(stage)
        await self.api.update("deals", _own_id(deal_id), {"dealstage": stage_id})

    async def closed_won_page(self, since: datetime, cursor: str | None = None) -> Page[str]:
        """One page of ids of won deals modified at or after `since`, oldest change first.

        The cursor is ``<lower bound ms>/<after>``: when a query nears HubSpot's search result
        cap, the next page starts a new query from the last modification time seen, so a long
        backlog is read in full (ids at that boundary can repeat; callers dedupe by deal).

        Args:
            since: Lower bound of ``hs_lastmodifieddate`` (timezone-aware).
            cursor: The previous page's `Page.next_cursor`; None for the first page.

        Raises:
            PermanentError: More deals than the search cap share one modification time, so no
                query can page past them.
        """
        lower, _, after = (cursor or f"{epoch_ms(since)}/").partition("/")
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "dealstage", "operator": "EQ", "value": self.settings.won_stage},
                        {"propertyName": _MODIFIED, "operator": "GTE", "value": lower},
                    ]
                }
            ],
            "sorts": [{"propertyName": _MODIFIED, "direction": "ASCENDING"}],
            "properties": ["dealstage", _MODIFIED],
            "limit": self.settings.search_page_size,
        }
        if after:
            body["after"] = after
        page = await self.api.search_page("deals", body)
        return Page([deal.id for deal in page.results], self._next_search_cursor(lower, page))

    def _next_search_cursor(self, lower: str, page: ObjectPage) -> str | None:
        after = page.next_after
        if after is None:
            return None
        if not (after.isdigit() and int(after) + self.settings.search_page_size > self.settings.search_result_cap):
            return f"{lower}/{after}"
        last_modified = page.results[-1].prop(_MODIFIED) if page.results else None
        restart = instant_ms(last_modified) if last_modified else lower
        if restart == lower:
            raise PermanentError(
                SYSTEM,
                f"more than {self.settings.search_result_cap} won deals were modified at {lower} ms: HubSpot's "
                "search cannot page past them; poll from a later time",
                code="search_cap",
            )
        return f"{restart}/"

    async def closed_won_since(self, since: datetime) -> AsyncIterator[str]:
        """Ids of won deals modified at or after `since`, across all pages (the polling fallback)."""
        async for deal_id in paginate(lambda cursor: self.closed_won_page(since, cursor)):
            yield deal_id

    # -- change orders (contract amendments) -----------------------------------------------------

    async def read_amendment(self, contract_id: str, record_id: str) -> ContractAmendment:
        """The amendment a won change-order deal makes to its contract (the original deal).

        New values come from the deltas the change orders carry; the version is the deal's place
        among the contract's change orders that were not lost, by ``createdate`` then id
        (`connectors.hubspot.amendments`, docs/amendment-sources-hubspot.md).

        Args:
            contract_id: The original deal's id.
            record_id: The change-order deal's id.

        Raises:
            NotFoundError: Either deal does not exist.
            PermanentError: The deal is not a won change order of that contract, or breaks an
                amendment rule; ``code`` names the rule (``not_a_change_order``, ``not_signed``,
                ``wrong_contract``, ``currency_change``, ``invalid_amendment`` …).
        """
        return await self._change_orders.read(_own_id(contract_id), _own_id(record_id))

    async def parent_deal_of(self, record_id: str) -> str | None:
        """The original deal a change-order deal belongs to; None when the deal is not in the change-order pipeline.

        The "Change order of" association decides; ``psflow_parent_deal_id`` stands in when there is none.

        Raises:
            NotFoundError: No such deal.
            PermanentError: A change order of no deal, of several, or with label and property disagreeing.
        """
        return await self._change_orders.parent_of(_own_id(record_id))

    async def change_order_won_stages(self) -> set[str]:
        """Stage ids of the change-order pipeline's won stage(s): a deal moved there is a signed change order."""
        return await self._change_orders.won_stages()

    async def change_orders_won_page(self, since: datetime, cursor: str | None = None) -> Page[str]:
        """One page of ids of change-order deals in a won stage modified at or after `since` (the polling fallback).

        The cursor works as `closed_won_page`'s does, so a backlog past the search result cap is read in full.
        """
        lower, _, after = (cursor or f"{epoch_ms(since)}/").partition("/")
        page = await self._change_orders.won_search(lower, after or None)
        return Page([deal.id for deal in page.results], self._next_search_cursor(lower, page))

    async def change_orders_won_since(self, since: datetime) -> AsyncIterator[str]:
        """Ids of won change-order deals modified at or after `since`, across all pages."""
        async for deal_id in paginate(lambda cursor: self.change_orders_won_page(since, cursor)):
            yield deal_id

    # -- companies ----------------------------------------------------------------------------

    async def get_company(self, company_id: str) -> Customer:
        """A company as a customer.

        Args:
            company_id: HubSpot's id (bare or ``hubspot:<id>``), or the canonical id of another
                system psflow wrote the company under (read by ``psflow_id``).

        Raises:
            NotFoundError: No such company.
            PermanentError: A value cannot be mapped.
        """
        if _native(company_id):
            company = await self.api.read("companies", _own_id(company_id), COMPANY_PROPERTIES)
        else:
            company = await self.api.read("companies", company_id, COMPANY_PROPERTIES, id_property=ID_PROPERTY)
        return self._customer(company)

    async def customers_page(self, cursor: str | None = None) -> Page[Customer]:
        """One page of companies as customers; `cursor` is HubSpot's ``after`` token."""
        page = await self.api.list_page("companies", COMPANY_PROPERTIES, limit=self.settings.page_size, after=cursor)
        return Page([self._customer(company) for company in page.results], page.next_after)

    async def customers(self) -> AsyncIterator[Customer]:
        """Every company as a customer, page by page."""
        async for page in pages(self.customers_page):
            for customer in page.items:
                yield customer

    async def upsert_companies(self, customers: Sequence[Customer]) -> list[str]:
        """Write customers as companies without ever duplicating one.

        Customers from other systems are upserted by ``psflow_id`` = their canonical id;
        customers that came from HubSpot (``hubspot:<id>``) update their own company. Calls go in
        batches of 100; the same id twice keeps the last one.

        Returns:
            HubSpot's company id for each customer, in the order given.

        Raises:
            BusinessError: Some customers were refused (HTTP 207). ``details["failures"]`` maps
                each refused customer id to HubSpot's message; ``details["upserted"]`` maps the
                written ones to their company ids.
        """
        unique = list({customer.id: customer for customer in customers}.values())
        upserted: dict[str, str] = {}
        failures: dict[str, str] = {}
        for native, action in ((False, "upsert"), (True, "update")):
            chosen = [customer for customer in unique if _native(customer.id) == native]
            for start in range(0, len(chosen), BATCH_LIMIT):
                chunk = chosen[start : start + BATCH_LIMIT]
                inputs = [self._company_input(customer, native=native) for customer in chunk]
                result = await self.api.batch("companies", action, {"inputs": inputs})
                self._sort_results(result, chunk, upserted, failures)
        if failures:
            listed = "; ".join(f"{customer_id}: {message}" for customer_id, message in failures.items())
            raise BusinessError(
                SYSTEM,
                f"{len(failures)} of {len(unique)} companies were refused: {listed}",
                status=207,
                code="PARTIAL_FAILURE",
                details={"failures": failures, "upserted": upserted},
            )
        return [upserted[customer.id] for customer in customers]

    @staticmethod
    def _company_input(customer: Customer, *, native: bool) -> dict[str, Any]:
        properties = customer_to_company_properties(customer)
        if native:
            # HubSpot's own companies are keyed by their id; psflow_id is for records from elsewhere.
            del properties[ID_PROPERTY]
            return {"id": hubspot_id(customer.id), "objectWriteTraceId": customer.id, "properties": properties}
        return {
            "idProperty": ID_PROPERTY,
            "id": customer.id,
            "objectWriteTraceId": customer.id,
            "properties": properties,
        }

    @staticmethod
    def _sort_results(
        result: BatchResult, chunk: Sequence[Customer], upserted: dict[str, str], failures: dict[str, str]
    ) -> None:
        by_input = {customer.id: customer.id for customer in chunk}
        by_input.update({hubspot_id(customer.id): customer.id for customer in chunk if _native(customer.id)})
        for record in result.results:
            customer_id = record.object_write_trace_id or record.prop(ID_PROPERTY) or by_input.get(record.id)
            if customer_id is not None:
                upserted[customer_id] = record.id
        for error in result.errors:
            for input_id in error.input_ids():
                failures[by_input.get(input_id, input_id)] = error.message or error.category or "refused"
        for customer in chunk:
            if customer.id not in upserted and customer.id not in failures:
                failures[customer.id] = "HubSpot returned no result for this input"

    def _customer(self, company: CrmObject) -> Customer:
        try:
            return company_to_customer(company, default_currency=self.settings.default_currency)
        except ValueError as exc:
            raise _unmappable(f"company {company.id}", exc) from exc

    # -- plumbing -----------------------------------------------------------------------------

    async def _read_all(self, object_type: str, ids: Sequence[str], properties: Sequence[str]) -> list[CrmObject]:
        """Records by id, in batches; any missing one is an error rather than a silent gap."""
        found: list[CrmObject] = []
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = ids[start : start + BATCH_LIMIT]
            body = {"inputs": [{"id": record_id} for record_id in chunk], "properties": list(properties)}
            result = await self.api.batch(object_type, "read", body)
            if result.errors:
                missing = sorted({record_id for error in result.errors for record_id in error.input_ids()})
                raise BusinessError(
                    SYSTEM,
                    f"{object_type} {', '.join(missing)} could not be read: {result.errors[0].message}",
                    status=207,
                    code=result.errors[0].category,
                    details=result.model_dump(mode="json", by_alias=True),
                )
            found.extend(result.results)
        return ids_in_order(found, ids)
