"""Contracts and CPQ amendments: the emulator (Contract, ServiceRouter, CDC enrichment) and the connector.

Research apis-round2.md §2: a won deal's Contract (``Opportunity.ContractId``), the ContractAmender
creating an amendment opportunity (``SBQQ__AmendedContract__c``) that carries deltas, and its
primary Amendment quote holding the dates.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from canonical import Money, RoleRate
from connectors._core import BusinessError, NotFoundError
from connectors.salesforce import ChangeEvent, SalesforceConnector

from . import test_relay
from .conftest import API, bearer
from .test_relay import SECRET, Subscriber, settled_deliveries, subscribe

subscriber = test_relay.subscriber

AMENDER = "SBQQ.ContractManipulationAPI.ContractAmender"
SERVICE_ROUTER = "/salesforce/services/apexrest/SBQQ/ServiceRouter"


async def _soql(http: httpx.AsyncClient, q: str) -> list[dict[str, Any]]:
    response = await http.get(f"{API}/query", params={"q": q}, headers=await bearer(http))
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["records"]
    return records


async def _won_deal(http: httpx.AsyncClient) -> dict[str, Any]:
    """The first seeded won deal, with its contract and lines."""
    (deal,) = await _soql(
        http,
        "SELECT Id, Amount, ContractId, CurrencyIsoCode, End_Date__c, "
        "(SELECT Product2.Name, Role__c, UnitPrice, Quantity FROM OpportunityLineItems ORDER BY CreatedDate, Id) "
        "FROM Opportunity WHERE IsWon = TRUE ORDER BY CreatedDate, Id LIMIT 1",
    )
    return deal


async def amend(http: httpx.AsyncClient, contract_id: str) -> dict[str, Any]:
    """Call the ContractAmender; the QuoteModel (CPQ answers it as a JSON-encoded string)."""
    response = await http.patch(
        SERVICE_ROUTER, params={"loader": AMENDER, "uid": contract_id}, json={}, headers=await bearer(http)
    )
    assert response.status_code == 200, response.text
    model: dict[str, Any] = json.loads(response.json())
    return model


async def edit(http: httpx.AsyncClient, opportunity_id: str, **body: Any) -> None:
    response = await http.put(f"/_admin/salesforce/amendments/{opportunity_id}", json=body)
    assert response.status_code == 200, response.text


async def win(http: httpx.AsyncClient, opportunity_id: str) -> None:
    response = await http.patch(
        f"{API}/sobjects/Opportunity/{opportunity_id}", json={"StageName": "Closed Won"}, headers=await bearer(http)
    )
    assert response.status_code == 204, response.text


def _line(deal: dict[str, Any], index: int) -> dict[str, Any]:
    return dict(deal["OpportunityLineItems"]["records"][index])


# -- the emulator --------------------------------------------------------------------------------


async def test_every_won_deal_has_an_activated_contract(http: httpx.AsyncClient) -> None:
    won = await _soql(http, "SELECT Id, ContractId, Start_Date__c, End_Date__c FROM Opportunity WHERE IsWon = TRUE")
    contracts = await _soql(
        http,
        "SELECT Id, Status, StatusCode, StartDate, EndDate, ContractTerm, ContractNumber, SBQQ__Opportunity__c "
        "FROM Contract",
    )
    assert len(contracts) == len(won) > 0
    by_id = {c["Id"]: c for c in contracts}
    for deal in won:
        contract = by_id[deal["ContractId"]]
        assert contract["Id"].startswith("800") and contract["SBQQ__Opportunity__c"] == deal["Id"]
        assert (contract["Status"], contract["StatusCode"], contract["ContractTerm"]) == ("Activated", "Activated", 12)
        assert contract["StartDate"] == deal["Start_Date__c"] and contract["EndDate"] >= deal["End_Date__c"]
    assert sorted(c["ContractNumber"] for c in contracts)[0] == "00000100"


async def test_contract_rules(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    deal = await _won_deal(http)
    (account,) = await _soql(http, f"SELECT AccountId FROM Opportunity WHERE Id = '{deal['Id']}'")
    missing = await http.post(f"{API}/sobjects/Contract", json={"StartDate": "2027-01-31"}, headers=headers)
    assert (missing.status_code, missing.json()[0]["errorCode"]) == (400, "REQUIRED_FIELD_MISSING")
    created = await http.post(
        f"{API}/sobjects/Contract",
        json={"AccountId": account["AccountId"], "StartDate": "2027-01-31", "ContractTerm": 1},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    contract = (await http.get(f"{API}/sobjects/Contract/{created.json()['id']}", headers=headers)).json()
    # 31 Jan + 1 month is 28 Feb; the contract ends the day before.
    assert (contract["Status"], contract["StatusCode"], contract["EndDate"]) == ("Draft", "Draft", "2027-02-27")
    for status in ("Terminated", "Expired"):
        refused = await http.patch(
            f"{API}/sobjects/Contract/{contract['Id']}", json={"Status": status}, headers=headers
        )
        assert (refused.status_code, refused.json()[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")
    computed = await http.patch(
        f"{API}/sobjects/Contract/{contract['Id']}", json={"EndDate": "2030-01-01"}, headers=headers
    )
    assert computed.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    draft = await http.patch(
        "/salesforce/services/apexrest/SBQQ/ServiceRouter",
        params={"loader": AMENDER, "uid": contract["Id"]},
        json={},
        headers=headers,
    )
    assert (draft.status_code, draft.json()[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")  # not activated
    activated = await http.patch(
        f"{API}/sobjects/Contract/{contract['Id']}", json={"Status": "Activated"}, headers=headers
    )
    assert activated.status_code == 204
    again = (await http.get(f"{API}/sobjects/Contract/{contract['Id']}", headers=headers)).json()
    assert again["StatusCode"] == "Activated" and again["ActivatedDate"]
    describe = (await http.get(f"{API}/sobjects/Contract/describe", headers=headers)).json()
    assert describe["keyPrefix"] == "800"
    assert {f["name"] for f in describe["fields"]} >= {"AccountId", "StatusCode", "ContractTerm", "EndDate"}


async def test_the_contract_amender_creates_the_amendment_opportunity_and_its_quote(http: httpx.AsyncClient) -> None:
    deal = await _won_deal(http)
    model = await amend(http, deal["ContractId"])
    quote = model["record"]
    assert quote["attributes"]["type"] == "SBQQ__Quote__c" and quote["Id"].startswith("a0q")
    assert (quote["SBQQ__Type__c"], quote["SBQQ__MasterContract__c"], quote["SBQQ__Primary__c"]) == (
        "Amendment",
        deal["ContractId"],
        True,
    )
    (contract,) = await _soql(http, f"SELECT EndDate FROM Contract WHERE Id = '{deal['ContractId']}'")
    assert quote["SBQQ__EndDate__c"] == contract["EndDate"]
    assert len(model["lineItems"]) == deal["OpportunityLineItems"]["totalSize"]
    assert Decimal(str(model["netTotal"])) == Decimal(str(deal["Amount"]))
    (opportunity,) = await _soql(
        http,
        "SELECT Id, StageName, Amount, CloseDate, SBQQ__AmendedContract__c, SBQQ__PrimaryQuote__c, "
        f"SBQQ__PrimaryQuote__r.SBQQ__StartDate__c FROM Opportunity WHERE Id = '{quote['SBQQ__Opportunity2__c']}'",
    )
    assert opportunity["SBQQ__AmendedContract__c"] == deal["ContractId"]
    assert opportunity["SBQQ__PrimaryQuote__c"] == quote["Id"]
    assert opportunity["SBQQ__PrimaryQuote__r"]["SBQQ__StartDate__c"] == opportunity["CloseDate"]
    assert opportunity["Amount"] is None  # no delta yet

    line = _line(deal, 0)
    await edit(
        http,
        opportunity["Id"],
        close_date="2026-12-14",
        lines=[
            {
                "product": line["Product2"]["Name"],
                "role": line["Role__c"],
                "quantity": 40,
                "unit_price": line["UnitPrice"],
            }
        ],
    )
    (edited,) = await _soql(http, f"SELECT Amount, CloseDate FROM Opportunity WHERE Id = '{opportunity['Id']}'")
    assert (
        Decimal(str(edited["Amount"])) == 40 * Decimal(str(line["UnitPrice"])) and edited["CloseDate"] == "2026-12-14"
    )

    unknown = await http.patch(
        SERVICE_ROUTER, params={"loader": AMENDER, "uid": "8008d00000000ZZAAA"}, json={}, headers=await bearer(http)
    )
    assert unknown.status_code == 404
    quote_id = await http.patch(
        SERVICE_ROUTER,
        params={"loader": AMENDER, "uid": deal["ContractId"]},
        json={"context": {"returnOnlyQuoteId": True}},
        headers=await bearer(http),
    )
    assert quote_id.status_code == 200 and quote_id.json().startswith("a0q")
    serialized = await http.patch(
        SERVICE_ROUTER,
        params={"loader": AMENDER, "uid": deal["ContractId"]},
        json={"context": json.dumps({"returnOnlyQuoteId": True})},
        headers=await bearer(http),
    )
    assert serialized.status_code == 200 and serialized.json().startswith("a0q")
    other = await http.patch(
        SERVICE_ROUTER,
        params={"loader": "SBQQ.QuoteAPI.QuoteReader", "uid": deal["ContractId"]},
        headers=await bearer(http),
    )
    assert other.status_code == 400


# -- the connector -------------------------------------------------------------------------------


async def _amendment(
    http: httpx.AsyncClient, contract_id: str, close: str, lines: list[dict[str, Any]], **dates: Any
) -> str:
    model = await amend(http, contract_id)
    opportunity_id = str(model["record"]["SBQQ__Opportunity2__c"])
    await edit(http, opportunity_id, close_date=close, lines=lines, **dates)
    return opportunity_id


async def test_read_amendment_turns_deltas_into_new_values(
    http: httpx.AsyncClient, connector: SalesforceConnector
) -> None:
    deal = await _won_deal(http)
    contract_id, currency = deal["ContractId"], deal["CurrencyIsoCode"]
    first, second = _line(deal, 0), _line(deal, 1)
    price = Decimal(str(first["UnitPrice"]))
    more_hours = await _amendment(
        http,
        contract_id,
        "2026-12-14",
        [{"product": first["Product2"]["Name"], "role": first["Role__c"], "quantity": 40, "unit_price": str(price)}],
        end_date="2027-09-30",
    )
    rate_up = await _amendment(
        http,
        contract_id,
        "2027-01-04",
        [
            {
                "product": second["Product2"]["Name"],
                "role": second["Role__c"],
                "quantity": -10,
                "unit_price": str(second["UnitPrice"]),
            },
            {"product": second["Product2"]["Name"], "role": second["Role__c"], "quantity": 10, "unit_price": "999.00"},
            {"product": first["Product2"]["Name"], "role": "Quantum Advisor", "quantity": 8, "unit_price": "500"},
        ],
    )
    assert await connector.contract_of(more_hours) == contract_id
    assert await connector.contract_of(deal["Id"]) is None

    await win(http, more_hours)
    await win(http, rate_up)
    v1 = await connector.read_amendment(contract_id, more_hours)
    original = Decimal(str(deal["Amount"]))
    assert (v1.id, v1.contract_id, v1.engagement_id, v1.version) == (
        f"salesforce:{more_hours}",
        contract_id,
        f"salesforce:{deal['Id']}",
        1,
    )
    assert v1.budget == Money(amount=original + 40 * price, currency=currency)
    assert (v1.effective_date, v1.end_date, v1.rate_changes, v1.added_roles) == (
        date(2026, 12, 14),
        date(2027, 9, 30),
        (),
        (),
    )
    assert v1.source is not None and v1.source.id == more_hours

    v2 = await connector.read_amendment(contract_id, rate_up)
    delta = -10 * Decimal(str(second["UnitPrice"])) + 10 * Decimal("999.00") + 8 * Decimal(500)
    assert (v2.version, v2.effective_date, v2.end_date) == (2, date(2027, 1, 4), None)
    assert v2.budget == Money(amount=original + 40 * price + delta, currency=currency)
    assert v2.rate_changes == (
        RoleRate(role=second["Role__c"], hourly_rate=Money(amount=Decimal(999), currency=currency)),
    )
    assert v2.added_roles == (
        RoleRate(role="Quantum Advisor", hourly_rate=Money(amount=Decimal(500), currency=currency)),
    )
    # Reading again gives the same amendment (re-deliveries must compare equal).
    assert await connector.read_amendment(contract_id, rate_up) == v2


async def test_read_amendment_refuses_what_is_no_amendment_of_the_contract(
    http: httpx.AsyncClient, connector: SalesforceConnector
) -> None:
    deal = await _won_deal(http)
    line = _line(deal, 0)
    open_one = await _amendment(
        http,
        deal["ContractId"],
        "2026-12-14",
        [
            {
                "product": line["Product2"]["Name"],
                "role": line["Role__c"],
                "quantity": 8,
                "unit_price": line["UnitPrice"],
            }
        ],
    )
    with pytest.raises(BusinessError, match="not won"):
        await connector.read_amendment(deal["ContractId"], open_one)
    with pytest.raises(BusinessError, match="does not amend"):
        await connector.read_amendment(deal["ContractId"], deal["Id"])
    with pytest.raises(NotFoundError):
        await connector.read_amendment(deal["ContractId"], "0068d0000000ZZZAAA")
    with pytest.raises(NotFoundError):
        await connector.read_amendment("8008d0000000ZZZAAA", open_one)
    with pytest.raises(BusinessError):
        await connector.read_amendment("not-an-id", open_one)
    with pytest.raises(NotFoundError):
        await connector.contract_of("0068d0000000ZZZAAA")


# -- change events -------------------------------------------------------------------------------


async def test_the_won_amendment_event_is_enriched_with_its_contract(
    http: httpx.AsyncClient, subscriber: Subscriber
) -> None:
    deal = await _won_deal(http)
    line = _line(deal, 0)
    contracts = await http.post(
        "/_admin/salesforce/subscriptions",
        json={"url": subscriber.url, "secret": SECRET, "channel": "/data/ContractChangeEvent"},
    )
    assert contracts.status_code == 201, contracts.text
    await subscribe(http, subscriber)
    opportunity_id = await _amendment(
        http,
        deal["ContractId"],
        "2026-12-14",
        [
            {
                "product": line["Product2"]["Name"],
                "role": line["Role__c"],
                "quantity": 8,
                "unit_price": line["UnitPrice"],
            }
        ],
    )
    await win(http, opportunity_id)
    headers = await bearer(http)
    renamed = await http.patch(
        f"{API}/sobjects/Contract/{deal['ContractId']}", json={"Name": "Renamed"}, headers=headers
    )
    assert renamed.status_code == 204
    deliveries = await settled_deliveries(http, record_id=opportunity_id)
    events = [ChangeEvent.model_validate(d["event"]) for d in deliveries]
    # Created by the amender (every field, the contract among them), then won: the update carries
    # the contract though it did not change.
    assert [e.payload.header.change_type for e in events] == ["CREATE", "UPDATE"]
    won = events[1]
    assert won.payload.stage_name == "Closed Won"
    assert won.payload.amended_contract == deal["ContractId"]
    assert "SBQQ__AmendedContract__c" not in won.payload.header.changed_fields
    (contract_event,) = [
        ChangeEvent.model_validate(d["event"]) for d in await settled_deliveries(http, record_id=deal["ContractId"])
    ]
    assert (contract_event.payload.header.entity_name, contract_event.payload.header.changed_fields[0]) == (
        "Contract",
        "Name",
    )
    wrong = await http.post(
        "/_admin/salesforce/subscriptions", json={"url": subscriber.url, "secret": SECRET, "channel": "/data/Nope"}
    )
    assert wrong.status_code == 422
