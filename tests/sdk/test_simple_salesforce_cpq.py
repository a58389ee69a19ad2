"""simple-salesforce against the sandbox's Contract, CPQ quote and ContractAmender, unpatched.

What the client sends and parses is research apis-round2.md §2 ("simple-salesforce: what it sends and
parses", "What an emulator must get right (Salesforce)"); the login, CA and proxy are those of
``test_simple_salesforce`` (same session sandbox, same fixtures).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from tests.sdk.test_simple_salesforce import admin, password_login, proxies, trust_the_sandbox

__all__ = ["admin", "proxies", "trust_the_sandbox"]  # the fixtures this module shares

AMENDER = "SBQQ.ContractManipulationAPI.ContractAmender"


@pytest.fixture
def sf(proxies: dict[str, str]) -> Salesforce:
    return password_login(proxies)


def _account_id(sf: Salesforce) -> str:
    account = sf.Account.create({"Name": f"Contract Co {uuid.uuid4().hex[:6]}", "CurrencyIsoCode": "GBP"})
    return str(account["id"])


def _won_contracted_deal(sf: Salesforce) -> dict[str, Any]:
    """A seeded won deal with its activated contract that no other test of this module amended."""
    rows = sf.query_all(
        "SELECT Id, ContractId, CurrencyIsoCode FROM Opportunity "
        "WHERE IsWon = true AND ContractId != null AND SBQQ__AmendedContract__c = null ORDER BY Name"
    )["records"]
    for row in rows:
        amended = sf.query(f"SELECT Id FROM Opportunity WHERE SBQQ__AmendedContract__c = '{row['ContractId']}'")
        if amended["totalSize"] == 0:
            return dict(row)
    raise AssertionError("the demo org has no unamended contract left")


def _amend(sf: Salesforce, contract_id: str, data: dict[str, Any] | None = None) -> Any:
    return sf.apexecute(
        f"SBQQ/ServiceRouter?loader={AMENDER}&uid={contract_id}", method="PATCH", data={} if data is None else data
    )


def test_contract_describe_and_create_with_the_status_rules(sf: Salesforce) -> None:
    described = sf.Contract.describe()
    assert (described["name"], described["keyPrefix"]) == ("Contract", "800")
    fields = {field["name"]: field for field in described["fields"]}
    assert fields["AccountId"]["referenceTo"] == ["Account"] and not fields["AccountId"]["nillable"]
    assert fields["EndDate"]["type"] == "date" and not fields["EndDate"]["updateable"]
    assert fields["ContractTerm"]["type"] == "int" and fields["StatusCode"]["type"] == "picklist"
    statuses = {value["value"] for value in fields["Status"]["picklistValues"]}
    assert {"Draft", "Activated"} <= statuses

    account_id = _account_id(sf)
    created = sf.Contract.create({"AccountId": account_id, "StartDate": "2027-01-31", "ContractTerm": 1})
    assert created["success"] and created["id"].startswith("800") and created["errors"] == []
    contract = sf.Contract.get(created["id"])
    assert contract["attributes"]["type"] == "Contract"
    # ContractSettings.autoCalculateEndDate: 31 Jan + 1 month is 28 Feb; the contract ends the day before.
    assert (contract["Status"], contract["StatusCode"], contract["EndDate"]) == ("Draft", "Draft", "2027-02-27")
    assert contract["ContractNumber"] and contract["AccountId"] == account_id

    for status in ("Terminated", "Expired"):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.Contract.update(created["id"], {"Status": status})
        (error,) = refused.value.content
        assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION" and error["fields"] == ["Status"]
        with pytest.raises(SalesforceMalformedRequest):
            sf.Contract.create({"AccountId": account_id, "StartDate": "2027-01-01", "Status": status})
    with pytest.raises(SalesforceMalformedRequest) as computed:
        sf.Contract.update(created["id"], {"EndDate": "2030-01-01"})
    assert computed.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Contract.create({"StartDate": "2027-01-01", "ContractTerm": 12})
    assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"

    assert sf.Contract.update(created["id"], {"Status": "Activated", "ContractTerm": 12}) == 204
    activated = sf.Contract.get(created["id"])
    assert (activated["StatusCode"], activated["EndDate"]) == ("Activated", "2028-01-30")
    assert activated["ActivatedDate"]
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contract.get("8008d00000000ZZAAA")


def test_the_contract_amender_through_apexecute(sf: Salesforce) -> None:
    deal = _won_contracted_deal(sf)
    contract = sf.Contract.get(deal["ContractId"])

    answer = _amend(sf, deal["ContractId"])
    # CPQ's ServiceRouter methods return String: the body is a JSON string holding the QuoteModel.
    assert isinstance(answer, str)
    model = json.loads(answer)
    quote = model["record"]
    assert quote["attributes"]["type"] == "SBQQ__Quote__c" and quote["Id"].startswith("a0q")
    assert (quote["SBQQ__Type__c"], quote["SBQQ__MasterContract__c"]) == ("Amendment", deal["ContractId"])
    assert quote["SBQQ__EndDate__c"] == contract["EndDate"]  # co-termed
    assert {"lineItems", "lineItemGroups", "nextKey", "netTotal"} <= set(model)
    assert all(item["record"]["attributes"]["type"] == "SBQQ__QuoteLine__c" for item in model["lineItems"])
    assert model["nextKey"] == len(model["lineItems"]) + 1

    found = sf.query(
        "SELECT Id, ContractId, SBQQ__AmendedContract__c, SBQQ__PrimaryQuote__c FROM Opportunity "
        f"WHERE SBQQ__AmendedContract__c = '{deal['ContractId']}'"
    )
    (amendment,) = found["records"]
    assert amendment["attributes"]["type"] == "Opportunity"
    assert amendment["Id"] == quote["SBQQ__Opportunity2__c"] and amendment["SBQQ__PrimaryQuote__c"] == quote["Id"]
    assert amendment["ContractId"] is None

    # AmendmentContext (Winter '21) is passed as the load() context: a JSON-encoded string.
    only_id = _amend(sf, deal["ContractId"], {"context": json.dumps({"returnOnlyQuoteId": True})})
    assert isinstance(only_id, str) and only_id.startswith("a0q")

    with pytest.raises(SalesforceMalformedRequest) as garbled:
        _amend(sf, deal["ContractId"], {"context": "{returnOnlyQuoteId"})
    assert garbled.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"
    amendments = f"SELECT Id FROM Opportunity WHERE SBQQ__AmendedContract__c = '{deal['ContractId']}'"
    assert sf.query(amendments)["totalSize"] == 2  # the refused call amended nothing
    with pytest.raises(SalesforceResourceNotFound):
        _amend(sf, "8008d00000000ZZAAA")
    draft = sf.Contract.create({"AccountId": _account_id(sf), "StartDate": "2027-01-01", "ContractTerm": 12})
    with pytest.raises(SalesforceMalformedRequest) as not_activated:
        _amend(sf, draft["id"])
    assert not_activated.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_quotes_describe_and_query_all_pages(sf: Salesforce, admin: httpx.Client) -> None:
    described = sf.SBQQ__Quote__c.describe()
    assert described["name"] == "SBQQ__Quote__c" and described["custom"]
    fields = {field["name"]: field for field in described["fields"]}
    assert fields["SBQQ__MasterContract__c"]["referenceTo"] == ["Contract"]
    assert fields["SBQQ__MasterContract__c"]["relationshipName"] == "SBQQ__MasterContract__r"
    assert {value["value"] for value in fields["SBQQ__Type__c"]["picklistValues"]} >= {"Quote", "Amendment"}

    for _ in range(3):
        _amend(sf, _won_contracted_deal(sf)["ContractId"])
    soql = "SELECT Id, SBQQ__Type__c, SBQQ__MasterContract__c FROM SBQQ__Quote__c WHERE SBQQ__Type__c = 'Amendment'"
    everything = sf.query(soql)
    assert everything["done"] and everything["totalSize"] >= 3
    admin.put("/salesforce/settings", json={"query_batch_size": 2}).raise_for_status()
    try:
        first = sf.query(soql)
        paged = sf.query_all(soql)
    finally:
        admin.put("/salesforce/settings", json={"query_batch_size": 2000}).raise_for_status()
    assert not first["done"] and first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    ids = [record["Id"] for record in paged["records"]]
    assert len(ids) == len(set(ids)) == everything["totalSize"] == paged["totalSize"]
    assert all(record["attributes"]["type"] == "SBQQ__Quote__c" for record in paged["records"])


def test_updated_opportunities_include_the_amendment(sf: Salesforce) -> None:
    deal = _won_contracted_deal(sf)
    model = json.loads(_amend(sf, deal["ContractId"]))
    opportunity_id = model["record"]["SBQQ__Opportunity2__c"]
    stamp = sf.Opportunity.get(opportunity_id)["SystemModstamp"]
    # The window is built from the record's own stamp, not the test's clock.
    modified = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
    minute = modified.replace(second=0, microsecond=0)

    updated = sf.Opportunity.updated(minute - timedelta(minutes=1), minute + timedelta(minutes=2))
    assert opportunity_id in updated["ids"]
    assert set(updated) == {"ids", "latestDateCovered"}
    covered = datetime.strptime(updated["latestDateCovered"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert covered.second == 0 and covered <= minute + timedelta(minutes=2)
    quotes = sf.SBQQ__Quote__c.updated(minute - timedelta(minutes=1), minute + timedelta(minutes=2))
    assert model["record"]["Id"] in quotes["ids"]

    before = sf.Opportunity.updated(minute - timedelta(minutes=5), minute - timedelta(minutes=1))
    assert opportunity_id not in before["ids"]
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Opportunity.updated(minute - timedelta(days=31), minute)
    assert too_old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest) as backwards:
        sf.Opportunity.updated(minute, minute - timedelta(minutes=5))
    assert backwards.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_api_usage_is_parsed_from_every_answer(sf: Salesforce, admin: httpx.Client) -> None:
    admin.put("/salesforce/settings", json={"api_daily_limit": 15000, "api_used": 1200}).raise_for_status()
    sf.query("SELECT Id FROM Contract LIMIT 1")
    assert sf.api_usage["api-usage"].used == 1201 and sf.api_usage["api-usage"].total == 15000
    _amend(sf, _won_contracted_deal(sf)["ContractId"])
    used = sf.api_usage["api-usage"].used
    assert used > 1201 and sf.api_usage["api-usage"].total == 15000
    contracts = sf.Contract  # each attribute access makes a new SFType, with its own api_usage
    contracts.describe()
    assert contracts.api_usage["api-usage"].used == used + 1
