"""Salesforce CPQ's ContractAmender, through the ServiceRouter Apex REST resource.

``PATCH /services/apexrest/SBQQ/ServiceRouter?loader=SBQQ.ContractManipulationAPI.ContractAmender&uid=<ContractId>``
amends an activated contract as CPQ does (research apis-round2.md §2, "Amendments" [S5][S6][S7]):

- it creates the **amendment opportunity** on the contract's account, with
  ``SBQQ__AmendedContract__c`` = the contract, the original deal's currency and price book, and a
  close date of today;
- and its primary **amendment quote** (``SBQQ__Type__c = 'Amendment'``, ``SBQQ__MasterContract__c``
  = the contract), starting on the opportunity's close date and ending on the contract's end date
  (co-termed: the end of the last earlier amendment's quote that was not lost, else the
  Contract's ``EndDate``), which the opportunity's ``SBQQ__PrimaryQuote__c`` points at;
- and answers the quote as a **QuoteModel** (``record``, ``lineItems``, ``lineItemGroups``,
  ``nextKey``, ``netTotal`` ...), whose lines are the contract's current subscriptions: the original
  deal's lines and every earlier amendment's.

The amendment opportunity starts without lines: what the customer adds or changes is added to it
as **deltas** (a line of +40 hours; -20 hours at the old rate and +20 at the new one), so its
``Amount`` is the change in contract value. The body is ignored except for an optional
``AmendmentContext`` in ``context`` (``{"returnOnlyQuoteId": true}`` answers only the quote id, Winter '21).

**The answer is a JSON string, not an object.** ``SBQQ.ServiceRouter``'s global methods are
``String read(reader, uid)``, ``String load(loader, uid, context)`` and ``String save(saver, model)``
(CPQ Developer Guide, "Service Router",
https://developer.salesforce.com/docs/revenue/cpq-developer-guide/guide/cpq-api-service-router.html), and
Apex REST renders a returned ``String`` as a JSON string literal; the Contract Amender API page says so
("The actual response is a JSON formatted string",
https://developer.salesforce.com/docs/atlas.en-us.cpq_dev_api.meta/cpq_dev_api/cpq_api_contract_amender.htm).
A client therefore decodes twice: ``json.loads(sf.apexecute(...))`` with simple-salesforce. The ``context``
``load()`` receives is likewise a serialized JSON string (the Configuration Load Rule Executor API's example
body is ``{"context": "{\"quote\": ...}"}``); an object is accepted too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.encoders import jsonable_encoder

from sandbox._db import SandboxDB
from sandbox._framework import DB
from sandbox.systems.salesforce._errors import SaveError
from sandbox.systems.salesforce._limits import MeteredRoute
from sandbox.systems.salesforce._relay import publish
from sandbox.systems.salesforce._schema import API_VERSION, NAME, SOBJECTS
from sandbox.systems.salesforce._store import SaveContext, create, find, format_datetime, public, update

__all__ = ["AMENDER", "amend", "router"]

AMENDER = "SBQQ.ContractManipulationAPI.ContractAmender"
SERVICE_ROUTER = "/services/apexrest/SBQQ/ServiceRouter"

router = APIRouter(route_class=MeteredRoute, tags=["salesforce cpq"])

Row = dict[str, Any]


def _subscriptions(db: SandboxDB, contract: Row) -> list[Row]:
    """The contract's current lines: the original deal's, then each earlier amendment's deltas."""
    opportunities = [contract.get("SBQQ__Opportunity__c")]
    amendments = db.query(NAME, "Opportunity", where={"SBQQ__AmendedContract__c": contract["Id"]})
    opportunities += [o["Id"] for o in sorted(amendments, key=lambda o: (o["CreatedDate"], o["Id"]))]
    lines: list[Row] = []
    for opportunity_id in opportunities:
        if opportunity_id:
            found = db.query(NAME, "OpportunityLineItem", where={"OpportunityId": opportunity_id})
            lines += sorted(found, key=lambda line: (line["CreatedDate"], line["Id"]))
    return lines


def _quote_model(db: SandboxDB, contract: Row, quote: Row) -> Row:
    lines = _subscriptions(db, contract)
    items = [
        {
            "record": {
                "attributes": {"type": "SBQQ__QuoteLine__c"},
                "SBQQ__Product__c": line.get("Product2Id"),
                "SBQQ__Quantity__c": line["Quantity"],
                "SBQQ__PriorQuantity__c": line["Quantity"],
                "SBQQ__NetPrice__c": line.get("UnitPrice"),
                "SBQQ__Number__c": key,
            },
            "key": key,
            "parentItemKey": None,
            "amountDiscountProrated": False,
        }
        for key, line in enumerate(lines, start=1)
    ]
    total = float(sum((Decimal(str(line["TotalPrice"])) for line in lines), Decimal(0)))
    return {
        "record": public(SOBJECTS["sbqq__quote__c"], quote, API_VERSION),
        "lineItems": items,
        "lineItemGroups": [],
        "nextKey": len(items) + 1,
        "applyAdditionalDiscountLast": False,
        "applyPartnerDiscountFirst": False,
        "channelDiscountsOffList": True,
        "customerTotal": total,
        "netTotal": total,
        "calculationRequired": False,
    }


def _current_end(db: SandboxDB, contract: Row) -> str | None:
    end = contract.get("EndDate")
    amendments = db.query(NAME, "Opportunity", where={"SBQQ__AmendedContract__c": contract["Id"]})
    for opportunity in sorted(amendments, key=lambda o: (o["CreatedDate"], o["Id"])):
        lost = opportunity.get("IsClosed") and not opportunity.get("IsWon")
        quote = db.get(NAME, "SBQQ__Quote__c", opportunity.get("SBQQ__PrimaryQuote__c") or "")
        if not lost and quote and quote.get("SBQQ__EndDate__c"):
            end = quote["SBQQ__EndDate__c"]
    return end


def amend(ctx: SaveContext, contract_id: str) -> tuple[Row, Row]:
    """Create the amendment opportunity and its primary quote; returns ``(contract, quote)``.

    Raises:
        SaveError: No such contract, or it is not activated (CPQ amends contracted subscriptions).
    """
    contract = find(ctx.db, SOBJECTS["contract"], contract_id)
    if contract.get("StatusCode") != "Activated":
        raise SaveError(
            400,
            "FIELD_INTEGRITY_EXCEPTION",
            f"Contract {contract['Id']} is {contract.get('Status')}: only an activated contract can be amended",
        )
    original = ctx.db.get(NAME, "Opportunity", contract.get("SBQQ__Opportunity__c") or "") or {}
    end = _current_end(ctx.db, contract)
    today = datetime.now(UTC).date().isoformat()
    opportunity = create(
        ctx,
        SOBJECTS["opportunity"],
        {
            "Name": f"Amendment for contract #{contract['ContractNumber']}",
            "AccountId": contract["AccountId"],
            "StageName": "Prospecting",
            "CloseDate": today,
            "CurrencyIsoCode": original.get("CurrencyIsoCode") or contract.get("CurrencyIsoCode"),
            "Pricebook2Id": original.get("Pricebook2Id"),
            "SBQQ__AmendedContract__c": contract["Id"],
        },
    )
    quote = create(
        ctx,
        SOBJECTS["sbqq__quote__c"],
        {
            "SBQQ__Type__c": "Amendment",
            "SBQQ__Status__c": "Draft",
            "SBQQ__Account__c": contract["AccountId"],
            "SBQQ__Opportunity2__c": opportunity["Id"],
            "SBQQ__MasterContract__c": contract["Id"],
            "SBQQ__StartDate__c": today,
            "SBQQ__EndDate__c": end,
            "SBQQ__Primary__c": True,
            "CurrencyIsoCode": opportunity.get("CurrencyIsoCode"),
        },
    )
    update(ctx, SOBJECTS["opportunity"], opportunity["Id"], {"SBQQ__PrimaryQuote__c": quote["Id"]})
    return contract, find(ctx.db, SOBJECTS["sbqq__quote__c"], quote["Id"])


@router.patch(SERVICE_ROUTER)
def service_router(
    request: Request,
    db: DB,
    loader: str | None = None,
    uid: str | None = None,
    body: Annotated[Any, Body()] = None,
) -> str:
    """The CPQ ServiceRouter's ``load``: only the ContractAmender loader is emulated.

    Answers ``String``, as ``load()`` does: the QuoteModel serialized (a JSON string in the body), or
    only the quote id when the context asks for it.
    """
    if loader != AMENDER:
        raise SaveError(
            400, "APEX_ERROR", f"SBQQ.ServiceRouter: unsupported loader {loader!r}; the sandbox emulates {AMENDER}"
        )
    if not uid:
        raise SaveError(400, "APEX_ERROR", "SBQQ.ServiceRouter: uid (the contract id) is required")
    context = _amendment_context(body)
    ctx = SaveContext(db=db, version=API_VERSION, now=format_datetime(datetime.now(UTC)))
    with db.transaction():
        contract, quote = amend(ctx, uid)
    publish(request.app.state, db, ctx.events, f"com/salesforce/api/rest/{API_VERSION}")
    if context.get("returnOnlyQuoteId"):
        return str(quote["Id"])
    return json.dumps(jsonable_encoder(_quote_model(db, contract, quote)))


def _amendment_context(body: Any) -> Row:
    """The ``AmendmentContext`` in the body's ``context``: a serialized JSON string, or an object."""
    context = body.get("context") if isinstance(body, dict) else None
    if isinstance(context, str):
        try:
            context = json.loads(context)
        except ValueError as exc:
            raise SaveError(400, "JSON_PARSER_ERROR", f"SBQQ.ServiceRouter: context is not JSON: {exc}") from exc
    return context if isinstance(context, dict) else {}
