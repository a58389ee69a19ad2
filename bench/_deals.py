"""Open deals for a benchmark run, written into the Salesforce emulator before any timing starts.

Each deal copies one of the demo firm's open opportunities (price book, currency, rate card,
billing type, dates and line items) under a NEW account that copies the template's billing
address and payment terms, so every run provisions new clients and none waits for a person.
Records go in through sObject Collections (200 per call): accounts, then opportunities, then
line items.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.salesforce import SalesforceConnector
from connectors.salesforce.models import SaveResult

_TEMPLATES = (
    "SELECT Id, Name, StageName, CloseDate, CurrencyIsoCode, Pricebook2Id, Rate_Card__c, Billing_Type__c, "
    "Start_Date__c, End_Date__c, Account.Name, Account.Industry, Account.BillingStreet, Account.BillingCity, "
    "Account.BillingState, Account.BillingPostalCode, Account.BillingCountry, Account.CurrencyIsoCode, "
    "Account.Payment_Terms__c, "
    "(SELECT PricebookEntryId, Quantity, UnitPrice, Role__c, ServiceDate FROM OpportunityLineItems) "
    "FROM Opportunity WHERE IsClosed = false AND SBQQ__AmendedContract__c = null ORDER BY Id"
)
_ACCOUNT_FIELDS = (
    "Industry",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "CurrencyIsoCode",
    "Payment_Terms__c",
)
_OPPORTUNITY_FIELDS = (
    "StageName",
    "CloseDate",
    "CurrencyIsoCode",
    "Pricebook2Id",
    "Rate_Card__c",
    "Billing_Type__c",
    "Start_Date__c",
    "End_Date__c",
)
_LINE_FIELDS = ("PricebookEntryId", "Quantity", "UnitPrice", "Role__c", "ServiceDate")
SALESFORCE_CALLS_PER_DEAL = 3
"""Salesforce requests one provisioning makes: win the deal (PATCH), read it (SOQL), read its account."""


class DealSetupError(Exception):
    """The emulator could not hold the benchmark's deals; the message says why."""


@dataclass(frozen=True)
class _Template:
    name: str
    account: dict[str, Any]
    opportunity: dict[str, Any]
    lines: list[dict[str, Any]]


def _copy(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {field: row[field] for field in fields if row.get(field) is not None}


async def _templates(salesforce: SalesforceConnector) -> list[_Template]:
    templates = []
    async for row in salesforce.query(_TEMPLATES):
        lines = (row.get("OpportunityLineItems") or {}).get("records") or []
        account = row.get("Account") or {}
        billable = account.get("BillingStreet") and account.get("BillingCountry") and account.get("Payment_Terms__c")
        if lines and billable:
            templates.append(
                _Template(
                    name=str(row["Name"]),
                    account=_copy(account, _ACCOUNT_FIELDS),
                    opportunity=_copy(row, _OPPORTUNITY_FIELDS),
                    lines=[_copy(line, _LINE_FIELDS) for line in lines],
                )
            )
    return templates


def _ids(results: Sequence[SaveResult], what: str) -> list[str]:
    failed = [result for result in results if not result.success or result.id is None]
    if failed:
        reasons = "; ".join(error.message for error in failed[0].errors) or "no reason given"
        raise DealSetupError(f"the Salesforce emulator refused {len(failed)} of {len(results)} {what}: {reasons}")
    return [str(result.id) for result in results]


async def create_open_deals(
    salesforce: SalesforceConnector, count: int, run_id: str, say: Callable[[str], None] = lambda _msg: None
) -> list[str]:
    """Create ``count`` open opportunities with line items, each under its own new account.

    Args:
        salesforce: The connector onto the emulator.
        count: How many deals.
        run_id: Marks this run's records (names and ``PSFlow_Id__c``), so runs never collide.
        say: Progress messages.

    Returns:
        The opportunity ids, in creation order.

    Raises:
        DealSetupError: No open deal to copy, too few API requests left today, or a refused record.
    """
    templates = await _templates(salesforce)
    if not templates:
        raise DealSetupError(
            "the Salesforce emulator has no open opportunity with line items and a billable account to copy: "
            "start the sandbox with `--seed demo`"
        )
    used, allowed = salesforce.api_usage()
    needed = count * SALESFORCE_CALLS_PER_DEAL + 20
    if allowed and allowed - used < needed:
        raise DealSetupError(
            f"the Salesforce emulator allows {allowed - used} more API requests today and this run needs about "
            f"{needed}: raise it with PUT /_admin/salesforce/settings {{'api_used': 0}} or use fewer --deals"
        )
    say(f"creating {count} open deals (copies of {len(templates)} demo opportunities, each with a new client)")
    chosen = [templates[index % len(templates)] for index in range(count)]
    keys = [f"bench-{run_id}-{index:05d}" for index in range(count)]
    accounts = [
        {**template.account, "Name": f"Bench {run_id} client {index}", "PSFlow_Id__c": key}
        for index, (template, key) in enumerate(zip(chosen, keys, strict=True))
    ]
    account_ids = _ids(await salesforce.create_records("Account", accounts), "accounts")
    opportunities = [
        {
            **template.opportunity,
            "Name": f"{template.name} (bench {run_id} #{index})",
            "AccountId": account_id,
            "PSFlow_Id__c": key,
        }
        for index, (template, account_id, key) in enumerate(zip(chosen, account_ids, keys, strict=True))
    ]
    opportunity_ids = _ids(await salesforce.create_records("Opportunity", opportunities), "opportunities")
    lines = [
        {**line, "OpportunityId": opportunity_id}
        for template, opportunity_id in zip(chosen, opportunity_ids, strict=True)
        for line in template.lines
    ]
    _ids(await salesforce.create_records("OpportunityLineItem", lines), "line items")
    return opportunity_ids
