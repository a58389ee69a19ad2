"""`SalesforceConnector`: the CRM calls provisioning and contract amendments make, over the shared REST core.

Reads use SOQL (following ``nextRecordsUrl``) and sObject rows; writes are idempotent by
business identity wherever Salesforce allows it: an upsert by the ``PSFlow_Id__c`` External ID,
a stage set to a fixed value. Every data call goes to the ``instance_url`` of the session.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from canonical import ContractAmendment, Customer, Opportunity, OpportunityStage, SystemName
from connectors._core import (
    BaseConnector,
    BusinessError,
    NotFoundError,
    Page,
    PermanentError,
    next_url_cursor,
    paginate,
)
from connectors.salesforce.amendments import amendment_from_records
from connectors.salesforce.auth import SalesforceOAuth
from connectors.salesforce.errors import RULES, SYSTEM, parse_salesforce_error
from connectors.salesforce.mapping import (
    account_to_customer,
    customer_to_account,
    opportunity_to_canonical,
    salesforce_id,
    stage_to_salesforce,
)
from connectors.salesforce.models import (
    QueryResult,
    SaveResult,
    SfAccount,
    SfAmendmentOpportunity,
    SfContract,
    SfOpportunity,
)
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.usage import UsageRecorder

__all__ = ["COLLECTION_LIMIT", "EXTERNAL_ID_FIELD", "SalesforceConnector"]

EXTERNAL_ID_FIELD = "PSFlow_Id__c"
"""The External ID field psflow upserts Accounts (and collections) by."""
COLLECTION_LIMIT = 200
"""Records per sObject Collections call."""

T = TypeVar("T")

_LINE_ITEMS = (
    "(SELECT Id, Name, Quantity, UnitPrice, TotalPrice, Role__c, Product2.Name "
    "FROM OpportunityLineItems ORDER BY CreatedDate, Id)"
)
_OPPORTUNITY_FIELDS = (
    "Id, Name, AccountId, StageName, Amount, CloseDate, IsClosed, IsWon, "
    "Start_Date__c, End_Date__c, Billing_Type__c, Rate_Card__c"
)

_AMENDMENT_FIELDS = (
    "Id, StageName, IsWon, IsClosed, Amount, CloseDate, CreatedDate, SBQQ__AmendedContract__c, "
    "SBQQ__PrimaryQuote__r.SBQQ__StartDate__c, SBQQ__PrimaryQuote__r.SBQQ__EndDate__c"
)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to Salesforce: {value!r}")


class SalesforceConnector(BaseConnector[SalesforceSettings]):
    """Typed Salesforce calls returning canonical models.

    Args:
        settings: The org to talk to; defaults to ``PSFLOW_SALESFORCE_*`` (the sandbox by default).
        transport: The innermost transport (``httpx.ASGITransport`` over the sandbox in tests).
    """

    def __init__(
        self, settings: SalesforceSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        settings = settings or SalesforceSettings()
        self._usage = UsageRecorder(transport or httpx.AsyncHTTPTransport())
        self.auth = SalesforceOAuth(settings, timeout=settings.timeout_s)
        headers = {"Sforce-Call-Options": f"client={settings.client_name}"}
        if settings.query_batch_size is not None:
            headers["Sforce-Query-Options"] = f"batchSize={settings.query_batch_size}"
        super().__init__(
            SYSTEM,
            settings,
            transport=self._usage,
            auth=self.auth,
            headers=headers,
            parse_error=parse_salesforce_error,
            rules=RULES,
        )

    # -- plumbing ----------------------------------------------------------------------------

    async def _data_url(self, path: str) -> str:
        return f"{await self.auth.instance_url()}/services/data/v{self.settings.api_version}{path}"

    async def _send(self, method: str, url: str, body: Any = None, **options: Any) -> httpx.Response:
        if body is None:
            return await self.client.request(method, url, **options)
        content = json.dumps(body, default=_json_default).encode()
        headers = {"Content-Type": "application/json"}
        return await self.client.request(method, url, content=content, headers=headers, **options)

    def _json(self, response: httpx.Response) -> Any:
        """The body with numbers as ``Decimal`` (currency must not pass through floats)."""
        try:
            return json.loads(response.content, parse_float=Decimal) if response.content else None
        except ValueError as exc:
            raise PermanentError(
                SYSTEM,
                f"expected JSON, got {response.headers.get('Content-Type', 'no content type')}",
                status=response.status_code,
                code="invalid_json",
                url=str(response.request.url),
            ) from exc

    @staticmethod
    def _record_id(value: str) -> str:
        try:
            return salesforce_id(value)
        except ValueError as exc:
            raise BusinessError(SYSTEM, str(exc), code="MALFORMED_ID") from None

    @staticmethod
    def _mapped(build: Callable[[], T], sobject: str, record_id: str) -> T:
        try:
            return build()
        except ValueError as exc:
            raise BusinessError(
                SYSTEM, f"{sobject} {record_id} cannot be read as a canonical record: {exc}", code="UNMAPPABLE_RECORD"
            ) from exc

    # -- queries -----------------------------------------------------------------------------

    async def query_page(self, soql: str, cursor: str | None = None) -> Page[dict[str, Any]]:
        """One batch of a SOQL query: the first for ``cursor=None``, else the one at ``cursor``.

        The cursor is the ``nextRecordsUrl`` of the previous batch (None after the last).
        """
        if cursor is None:
            response = await self._send("GET", await self._data_url("/query"), params={"q": soql})
        else:
            url = cursor if cursor.startswith("http") else f"{await self.auth.instance_url()}{cursor}"
            response = await self._send("GET", url)
        result = QueryResult.model_validate(self._json(response))
        return Page(result.records, next_url_cursor(result.next_records_url, done=result.done))

    async def query(self, soql: str) -> AsyncIterator[dict[str, Any]]:
        """Every row of a SOQL query, batch after batch."""

        async def fetch(cursor: str | None) -> Page[dict[str, Any]]:
            return await self.query_page(soql, cursor)

        async for row in paginate(fetch):
            yield row

    def _closed_won_soql(self, since: datetime, *, amendments: bool = False) -> str:
        if since.tzinfo is None:
            raise ValueError(f"since must be timezone-aware, got {since!r}")
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        kind = ""
        if self.settings.cpq:
            kind = f" AND SBQQ__AmendedContract__c {'!=' if amendments else '='} null"
        return (
            f"SELECT Id FROM Opportunity WHERE IsWon = TRUE{kind} AND SystemModstamp >= {stamp} "
            "ORDER BY SystemModstamp, Id"
        )

    async def closed_won_page(self, since: datetime, cursor: str | None = None) -> Page[str]:
        """One batch of `closed_won_since`, resumable from the returned cursor."""
        page = await self.query_page(self._closed_won_soql(since), cursor)
        return Page([str(row["Id"]) for row in page.items], page.next_cursor)

    async def closed_won_since(self, since: datetime) -> AsyncIterator[str]:
        """Ids of won opportunities modified at or after ``since`` (the polling fallback).

        At least once: an opportunity edited again after it was won comes back on a later
        poll; the one-workflow-per-opportunity id makes that harmless. CPQ amendment
        opportunities are not new engagements and are left out (see `amendments_won_since`).
        """

        async def fetch(cursor: str | None) -> Page[str]:
            return await self.closed_won_page(since, cursor)

        async for opportunity_id in paginate(fetch):
            yield opportunity_id

    async def amendments_won_since(self, since: datetime) -> AsyncIterator[str]:
        """Ids of won CPQ amendment opportunities modified at or after ``since`` (none without CPQ)."""
        if not self.settings.cpq:
            return
        async for row in self.query(self._closed_won_soql(since, amendments=True)):
            yield str(row["Id"])

    # -- contracts ---------------------------------------------------------------------------

    async def contract_of(self, record_id: str) -> str | None:
        """The contract an opportunity amends (its ``SBQQ__AmendedContract__c``); None for any other deal.

        Raises:
            NotFoundError: No such opportunity.
            BusinessError: The id is malformed.
        """
        opportunity_id = self._record_id(record_id)
        if not self.settings.cpq:
            await self._one("Opportunity", "Id", opportunity_id)
            return None
        row = await self._one("Opportunity", "SBQQ__AmendedContract__c", opportunity_id)
        contract = row.get("SBQQ__AmendedContract__c")
        return str(contract) if contract else None

    async def _one(self, sobject: str, fields: str, record_id: str) -> dict[str, Any]:
        page = await self.query_page(f"SELECT {fields} FROM {sobject} WHERE Id = '{record_id}'")
        if not page.items:
            raise NotFoundError(SYSTEM, f"no {sobject} {record_id}", code="NOT_FOUND")
        return page.items[0]

    async def _amendment_rows(self, where: str) -> list[SfAmendmentOpportunity]:
        fields = _AMENDMENT_FIELDS + (", CurrencyIsoCode" if self.settings.multi_currency else "")
        soql = f"SELECT {fields}, {_LINE_ITEMS} FROM Opportunity WHERE {where} ORDER BY CreatedDate, Id"
        return [SfAmendmentOpportunity.model_validate(row) async for row in self.query(soql)]

    async def read_amendment(self, contract_id: str, record_id: str) -> ContractAmendment:
        """The won CPQ amendment opportunity ``record_id`` of ``contract_id``, as new values.

        The opportunity's delta lines and its quote's dates become the contract's new budget,
        end date and rates; ``version`` is the opportunity's place among the contract's amendment
        opportunities by ``CreatedDate``, ``Id`` (see `connectors.salesforce.amendments`).

        Raises:
            NotFoundError: No such opportunity or contract.
            BusinessError: A malformed id; the opportunity does not amend this contract, is not won,
                changes nothing or breaks a canonical rule; the contract has no original deal.
        """
        contract_key, opportunity_key = self._record_id(contract_id), self._record_id(record_id)
        found = await self._amendment_rows(f"Id = '{opportunity_key}'")
        if not found:
            raise NotFoundError(SYSTEM, f"no Opportunity {opportunity_key}", code="NOT_FOUND")
        contract = SfContract.model_validate(
            await self._one("Contract", "Id, StatusCode, StartDate, EndDate, SBQQ__Opportunity__c", contract_key)
        )
        amendment = found[0]
        if amendment.amended_contract != contract.id:
            raise BusinessError(
                SYSTEM,
                f"Opportunity {amendment.id} does not amend Contract {contract.id} "
                f"(its SBQQ__AmendedContract__c is {amendment.amended_contract})",
                code="NOT_AN_AMENDMENT",
            )
        if not amendment.is_won:
            raise BusinessError(
                SYSTEM,
                f"amendment Opportunity {amendment.id} is not won (stage {amendment.stage_name!r}): "
                "nothing to apply yet",
                code="NOT_WON",
            )
        original_id = contract.opportunity
        if original_id is None:
            rows = await self.query_page(
                f"SELECT Id FROM Opportunity WHERE ContractId = '{contract.id}' ORDER BY CreatedDate, Id LIMIT 1"
            )
            original_id = str(rows.items[0]["Id"]) if rows.items else None
        originals = await self._amendment_rows(f"Id = '{original_id}'") if original_id else []
        if not originals:
            raise BusinessError(
                SYSTEM,
                f"Contract {contract.id} names no original opportunity (SBQQ__Opportunity__c, or an "
                "Opportunity whose ContractId is the contract): link the won deal to it",
                code="NO_ORIGINAL_OPPORTUNITY",
            )
        amendments = await self._amendment_rows(f"SBQQ__AmendedContract__c = '{contract.id}'")
        return self._mapped(
            lambda: amendment_from_records(
                contract,
                originals[0],
                amendments,
                amendment.id,
                default_currency=self.settings.default_currency,
            ),
            "Opportunity",
            amendment.id,
        )

    # -- records -----------------------------------------------------------------------------

    async def get_opportunity(self, opportunity_id: str) -> Opportunity:
        """The opportunity with its line items (``salesforce:<Id>`` or a bare Id).

        Raises:
            NotFoundError: No such opportunity.
            BusinessError: The id is malformed, or the record does not map (e.g. an unknown stage).
        """
        record_id = self._record_id(opportunity_id)
        fields = _OPPORTUNITY_FIELDS + (", CurrencyIsoCode" if self.settings.multi_currency else "")
        soql = f"SELECT {fields}, {_LINE_ITEMS} FROM Opportunity WHERE Id = '{record_id}'"
        page = await self.query_page(soql)
        if not page.items:
            raise NotFoundError(SYSTEM, f"no Opportunity {record_id}", code="NOT_FOUND")
        return self._mapped(
            lambda: opportunity_to_canonical(
                SfOpportunity.model_validate(page.items[0]),
                default_currency=self.settings.default_currency,
                stage_map=self.settings.stage_map,
            ),
            "Opportunity",
            record_id,
        )

    async def get_account(self, account_id: str) -> Customer:
        """The account as a customer; a missing address or payment terms stay None.

        Raises:
            NotFoundError: No such account.
            BusinessError: The id is malformed or the record does not map.
        """
        record_id = self._record_id(account_id)
        response = await self._send("GET", await self._data_url(f"/sobjects/Account/{record_id}"))
        body = self._json(response)
        return self._mapped(
            lambda: account_to_customer(
                SfAccount.model_validate(body), default_currency=self.settings.default_currency
            ),
            "Account",
            record_id,
        )

    async def set_opportunity_stage(self, opportunity_id: str, stage: OpportunityStage) -> None:
        """Move an opportunity to a stage (safe to repeat: the stage is a value, not a step)."""
        record_id = self._record_id(opportunity_id)
        body = {"StageName": stage_to_salesforce(stage, self.settings.stage_map)}
        await self._send("PATCH", await self._data_url(f"/sobjects/Opportunity/{record_id}"), body, idempotent=True)

    async def upsert_account(self, customer: Customer) -> str:
        """Create or update the customer's Account; returns its Salesforce Id.

        A customer that came from Salesforce updates its own record; any other is upserted by
        ``PSFlow_Id__c`` = the customer's canonical id, so repeating the call never duplicates.

        Raises:
            BusinessError: Several Accounts carry the external id (HTTP 300,
                ``DUPLICATE_EXTERNAL_ID``; ``details`` lists them), or Salesforce refused the data.
        """
        fields = customer_to_account(customer, multi_currency=self.settings.multi_currency)
        if customer.source is not None and customer.source.system is SystemName.SALESFORCE:
            url = await self._data_url(f"/sobjects/Account/{self._record_id(customer.source.id)}")
            await self._send("PATCH", url, fields, idempotent=True)
            return customer.source.id
        url = await self._data_url(f"/sobjects/Account/{EXTERNAL_ID_FIELD}/{quote(customer.id, safe='')}")
        response = await self._send("PATCH", url, fields, idempotent=True, allow={300})
        body = self._json(response)
        if response.status_code == 300:
            raise BusinessError(
                SYSTEM,
                f"{len(body)} Accounts have {EXTERNAL_ID_FIELD} = {customer.id!r}: merge them, then retry",
                status=300,
                code="DUPLICATE_EXTERNAL_ID",
                details=body,
            )
        if not isinstance(body, dict) or not body.get("id"):
            raise PermanentError(
                SYSTEM,
                f"the upsert answered HTTP {response.status_code} without a record id",
                status=response.status_code,
            )
        return str(body["id"])

    async def _collection(
        self, method: str, path: str, sobject: str, records: Sequence[Mapping[str, Any]], **options: Any
    ) -> list[SaveResult]:
        url = await self._data_url(path)
        results: list[SaveResult] = []
        for start in range(0, len(records), COLLECTION_LIMIT):
            chunk = [
                {"attributes": {"type": sobject}, **record} for record in records[start : start + COLLECTION_LIMIT]
            ]
            response = await self._send(method, url, {"allOrNone": False, "records": chunk}, **options)
            results.extend(SaveResult.model_validate(item) for item in self._json(response))
        return results

    async def create_records(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> list[SaveResult]:
        """Create records with sObject Collections, 200 per call; one result per record, in order.

        A record Salesforce refuses does not stop the others: check each ``SaveResult.success``.
        Not safe to repeat (a create has no business key): prefer `upsert_records` for retries.
        """
        return await self._collection("POST", "/composite/sobjects", sobject, records)

    async def upsert_records(
        self, sobject: str, external_id_field: str, records: Sequence[Mapping[str, Any]]
    ) -> list[SaveResult]:
        """Upsert records by an External ID field, 200 per call; one result per record, in order.

        Each record must carry its ``external_id_field`` value; repeating the call is safe.
        """
        return await self._collection(
            "PATCH", f"/composite/sobjects/{sobject}/{external_id_field}", sobject, records, idempotent=True
        )

    def api_usage(self) -> tuple[int, int]:
        """``(used, allowed)`` daily API requests from the last response, ``(0, 0)`` before any."""
        return self._usage.last or (0, 0)
