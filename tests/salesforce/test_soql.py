"""The emulator's SOQL subset: what it answers, what it refuses, and how it pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox.seed import DemoFirm
from tests.salesforce.conftest import API, admin_settings, bearer, soql


async def rows(http: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    response = await soql(http, query, await bearer(http))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["done"] and body["totalSize"] == len(body["records"])
    records: list[dict[str, Any]] = body["records"]
    return records


async def test_parent_fields_and_child_subqueries(http: httpx.AsyncClient) -> None:
    found = await rows(
        http,
        "SELECT Id, Name, Account.Name, Account.PSFlow_Id__c, "
        "(SELECT Quantity, Role__c, Product2.Name FROM OpportunityLineItems ORDER BY Quantity DESC LIMIT 2) "
        "FROM Opportunity WHERE PSFlow_Id__c = 'OPP-0001'",
    )
    (opportunity,) = found
    assert list(opportunity) == ["attributes", "Id", "Name", "Account", "OpportunityLineItems"]
    assert opportunity["Account"]["attributes"]["type"] == "Account"
    assert opportunity["Account"]["PSFlow_Id__c"] == DemoFirm.generate().opportunity("OPP-0001").client_id
    lines = opportunity["OpportunityLineItems"]
    assert lines["done"] and lines["totalSize"] == 2
    quantities = [line["Quantity"] for line in lines["records"]]
    assert quantities == sorted(quantities, reverse=True)
    assert all(line["Product2"]["Name"] for line in lines["records"])


async def test_an_empty_child_relationship_is_null(http: httpx.AsyncClient) -> None:
    found = await rows(http, "SELECT Id, (SELECT Id FROM Opportunities) FROM Account WHERE Name LIKE 'Oakhurst%'")
    assert found and all(set(row) == {"attributes", "Id", "Opportunities"} for row in found)
    headers = await bearer(http)
    created = await http.post(f"{API}/sobjects/Account", json={"Name": "Zeta Holdings"}, headers=headers)
    (bare,) = await rows(http, f"SELECT (SELECT Id FROM Contacts) FROM Account WHERE Id = '{created.json()['id']}'")
    assert bare["Contacts"] is None


@pytest.mark.parametrize(
    ("where", "check"),
    [
        ("StageName = 'closed won'", lambda r: r["StageName"] == "Closed Won"),  # text compares ignore case
        ("StageName != 'Closed Won'", lambda r: r["StageName"] != "Closed Won"),
        ("StageName IN ('Closed Won', 'Closed Lost')", lambda r: r["IsClosed"]),
        ("StageName NOT IN ('Closed Won', 'Closed Lost')", lambda r: not r["IsClosed"]),
        ("Amount > 100000", lambda r: r["Amount"] > 100000),
        ("Amount <= 50000.5", lambda r: r["Amount"] <= 50000.5),
        ("IsWon = TRUE AND Amount >= 60000", lambda r: r["IsWon"] and r["Amount"] >= 60000),
        ("(IsWon = TRUE OR IsClosed = FALSE) AND Amount < 40000",
         lambda r: (r["IsWon"] or not r["IsClosed"]) and r["Amount"] < 40000),
        ("NOT StageName LIKE 'Closed%'", lambda r: not r["IsClosed"]),
        ("Name LIKE '%erp%'", lambda r: "erp" in r["Name"].lower()),
        ("CloseDate < TODAY", lambda r: date.fromisoformat(r["CloseDate"]) < datetime.now(UTC).date()),
        ("CloseDate > 2020-01-01", lambda r: True),
        ("Rate_Card__c = null", lambda r: False),
        ("Account.Industry = 'Insurance'", lambda r: r["Account"]["Industry"] == "Insurance"),
    ],
)  # fmt: skip
async def test_where(http: httpx.AsyncClient, where: str, check: Any) -> None:
    fields = "Id, Name, StageName, Amount, IsWon, IsClosed, CloseDate, Account.Industry"
    found = await rows(http, f"SELECT {fields} FROM Opportunity WHERE {where}")
    every = await rows(http, f"SELECT {fields} FROM Opportunity")
    assert len(every) == 60
    assert [r["Id"] for r in found] == [r["Id"] for r in every if check(r)]


async def test_relative_dates_and_datetimes(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    body = {"Name": "Fresh deal", "StageName": "Prospecting", "CloseDate": datetime.now(UTC).date().isoformat()}
    created = (await http.post(f"{API}/sobjects/Opportunity", json=body, headers=headers)).json()["id"]
    assert [r["Id"] for r in await rows(http, "SELECT Id FROM Opportunity WHERE CreatedDate = LAST_N_DAYS:1")] == [
        created
    ]
    assert [r["Id"] for r in await rows(http, "SELECT Id FROM Opportunity WHERE CloseDate = TODAY")] == [created]
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = await rows(http, f"SELECT Id FROM Opportunity WHERE SystemModstamp > {an_hour_ago}")
    assert [r["Id"] for r in recent] == [created]
    upcoming = await rows(http, "SELECT CloseDate FROM Opportunity WHERE CloseDate = NEXT_N_DAYS:400")
    assert upcoming and all(date.fromisoformat(r["CloseDate"]) > datetime.now(UTC).date() for r in upcoming)


async def test_order_by_with_nulls_and_limit(http: httpx.AsyncClient) -> None:
    found = await rows(http, "SELECT Name, Industry FROM Account ORDER BY Industry DESC NULLS LAST, Name LIMIT 5")
    keys = [(r["Industry"], r["Name"]) for r in found]
    assert len(keys) == 5 and [k[0] for k in keys] == sorted((k[0] for k in keys), key=str.lower, reverse=True)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("SELECT COUNT() FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity GROUP BY StageName", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE IsWon = TRUE AND Amount > 1 OR IsClosed = FALSE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE AccountId IN (SELECT Id FROM Account)", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = THIS_QUARTER", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity LIMIT 5 OFFSET 5", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE", "MALFORMED_QUERY"),
        ("SELECT Id, (SELECT Id, (SELECT Id FROM Contacts) FROM Opportunities) FROM Account", "MALFORMED_QUERY"),
        ("SELECT Colour__c FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Amount > '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE CloseDate > '2025-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE SystemModstamp > 2025-01-01", "INVALID_FIELD"),
        ("SELECT Owner.Name FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Spaceship", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Id FROM Invoices) FROM Account", "INVALID_TYPE"),
        ("SELECT Id FROM Opportunity WHERE IsWon > TRUE", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Opportunity WHERE Amount LIKE '1%'", "INVALID_QUERY_FILTER_OPERATOR"),
    ],
)
async def test_unsupported_or_wrong_soql_is_refused_never_misanswered(
    http: httpx.AsyncClient, query: str, code: str
) -> None:
    response = await soql(http, query, await bearer(http))
    assert response.status_code == 400, response.text
    assert response.json()[0]["errorCode"] == code


async def test_paging_follows_next_records_url(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    await admin_settings(http, query_batch_size=7)
    first = (await soql(http, "SELECT Id FROM Account ORDER BY Name", headers)).json()
    assert first["totalSize"] == 36 and not first["done"] and len(first["records"]) == 7
    seen, page, pages = list(first["records"]), first, 1
    while not page["done"]:
        assert page["nextRecordsUrl"].startswith("/services/data/v62.0/query/01g")
        page = (await http.get(f"/salesforce{page['nextRecordsUrl']}", headers=headers)).json()
        seen += page["records"]
        pages += 1
    assert pages == 6 and "nextRecordsUrl" not in page
    assert len({r["Id"] for r in seen}) == 36


async def test_the_batch_size_header_is_honoured_within_salesforce_bounds(http: httpx.AsyncClient) -> None:
    headers = {**await bearer(http), "Sforce-Query-Options": "batchSize=5"}
    response = await http.get(f"{API}/query", params={"q": "SELECT Id FROM OpportunityLineItem"}, headers=headers)
    assert len(response.json()["records"]) == 200  # Salesforce raises batch sizes below 200 to 200


async def test_an_unknown_locator_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/query/01gdeadbeef-2000", headers=await bearer(http))
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
