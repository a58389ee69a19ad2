"""Emulator behaviour the connector relies on: record shapes, ``q`` filters, SuiteQL, sublists."""

from __future__ import annotations

from typing import Any

import pytest

from connectors._core import BusinessError, NotFoundError
from connectors.netsuite import NetSuiteConnector
from tests.conftest import anchor_month_day
from tests.netsuite.conftest import OPEN_DAY, PRJ_0001_CLIENT

RECORDS = "/record/v1"


async def _json(netsuite: NetSuiteConnector, method: str, url: str, **kw: Any) -> Any:
    return netsuite.client.decode_json(await netsuite.client.request(method, url, **kw))


async def _ids(netsuite: NetSuiteConnector, record_type: str, q: str) -> list[str]:
    body = await _json(netsuite, "GET", f"{RECORDS}/{record_type}", params={"q": q, "limit": 1000})
    return [str(item["id"]) for item in body["items"]]


async def test_create_answers_204_with_the_location_of_the_record(netsuite: NetSuiteConnector) -> None:
    response = await netsuite.client.request("POST", f"{RECORDS}/customer", json={"companyName": "Walk-in Ltd"})
    assert response.status_code == 204 and not response.content
    location = response.headers["Location"]
    assert location.startswith("http://127.0.0.1:8700/netsuite/services/rest/record/v1/customer/")
    record = await _json(netsuite, "GET", location)
    assert record["companyName"] == "Walk-in Ltd" and record["isInactive"] is False
    assert record["links"] == [{"rel": "self", "href": location}]


async def test_entities_share_one_internal_id_space(netsuite: NetSuiteConnector) -> None:
    customer = await _json(netsuite, "GET", f"{RECORDS}/customer/eid:{PRJ_0001_CLIENT}")
    job = await _json(netsuite, "GET", f"{RECORDS}/job/eid:PRJ-0001")
    employee = await _json(netsuite, "GET", f"{RECORDS}/employee/eid:E-1001")
    assert len({customer["id"], job["id"], employee["id"]}) == 3
    assert job["parent"]["id"] == customer["id"]
    with pytest.raises(NotFoundError):
        await netsuite.client.request("GET", f"{RECORDS}/job/{customer['id']}")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('entityId IS "PRJ-0001"', 1),
        ('entityId START_WITH "PRJ-000"', 9),
        ('entityId START_WITH_NOT "PRJ-000"', 3),
        ('companyName CONTAIN "modernisation"', None),
        ('startDate ON_OR_AFTER "2026-01-01" AND isInactive IS false', None),
        ('startDate BEFORE "1/1/2000"', 0),
        ("companyName EMPTY", 0),
        ('externalId IS "PRJ-0002" AND isInactive IS false', 1),
        ('externalId IS "PRJ-0002" AND isInactive IS true', 0),
    ],
)
async def test_q_filters(netsuite: NetSuiteConnector, q: str, expected: int | None) -> None:
    ids = await _ids(netsuite, "job", q)
    if expected is None:
        assert 0 < len(ids) <= 12
    else:
        assert len(ids) == expected


@pytest.mark.parametrize(
    "q", ['entityId IS "A" OR entityId IS "B"', '(entityId IS "A")', "colour IS 1", "entityId RESEMBLES 1"]
)
async def test_q_outside_the_subset_is_refused(netsuite: NetSuiteConnector, q: str) -> None:
    with pytest.raises(BusinessError) as refused:
        await netsuite.client.request("GET", f"{RECORDS}/job", params={"q": q})
    assert refused.value.code == "INVALID_PARAMETER"


async def test_a_page_larger_than_1000_is_refused(netsuite: NetSuiteConnector) -> None:
    with pytest.raises(BusinessError):
        await netsuite.client.request("GET", f"{RECORDS}/job", params={"limit": 1001})


async def test_suiteql_rows_are_flat_lower_case_and_formatted_for_a_us_account(netsuite: NetSuiteConnector) -> None:
    rows = [
        row
        async for row in netsuite.suiteql(
            "SELECT id, entityid, parent, isinactive, startdate FROM job WHERE entityid = 'PRJ-0001'"
        )
    ]
    assert len(rows) == 1
    row = rows[0]
    assert set(row) == {"id", "entityid", "parent", "isinactive", "startdate"}
    assert row["isinactive"] == "F" and row["startdate"].count("/") == 2 and row["parent"].isdigit()


async def test_suiteql_orders_and_filters_with_ranges(netsuite: NetSuiteConnector) -> None:
    # The seeded periods run from 12 months before the anchor's to 3 after; the month before the
    # anchor's and later are open.
    last_month = anchor_month_day(-1, 1)
    query = (
        "SELECT periodname, startdate FROM accountingperiod WHERE closed = 'F' AND startdate >= "
        f"TO_DATE('{last_month}', 'YYYY-MM-DD') ORDER BY startdate DESC"
    )
    names = [row["periodname"] async for row in netsuite.suiteql(query, page_size=2)]
    assert names == [f"{anchor_month_day(n, 1):%b %Y}" for n in range(3, -2, -1)]
    between = (
        f"SELECT id FROM accountingperiod WHERE startdate BETWEEN TO_DATE('{anchor_month_day(-12, 1)}', 'YYYY-MM-DD') "
        f"AND TO_DATE('{last_month}', 'YYYY-MM-DD') AND closed = 'T'"
    )
    assert len([row async for row in netsuite.suiteql(between)]) == 11


async def test_sublists_are_links_unless_expanded_and_merge_unless_replaced(netsuite: NetSuiteConnector) -> None:
    body = {
        "entity": {"id": "1"},
        "tranDate": OPEN_DAY.isoformat(),
        "expense": {"items": [{"amount": 10, "memo": "a"}, {"amount": 20, "memo": "b"}]},
    }
    location = (await netsuite.client.request("POST", f"{RECORDS}/expenseReport", json=body)).headers["Location"]
    plain = await _json(netsuite, "GET", location)
    assert "items" not in plain["expense"] and plain["total"] == 30
    await netsuite.client.request("PATCH", location, json={"expense": {"items": [{"amount": 15}]}})
    merged = await _json(netsuite, "GET", location, params={"expandSubResources": "true"})
    assert [(line["amount"], line["memo"]) for line in merged["expense"]["items"]] == [(15, "a"), (20, "b")]
    await netsuite.client.request(
        "PATCH", location, params={"replace": "expense"}, json={"expense": {"items": [{"amount": 5}]}}
    )
    replaced = await _json(netsuite, "GET", location, params={"expandSubResources": "true"})
    assert replaced["expense"]["items"] == [{"amount": 5}] and replaced["total"] == 5


async def test_fields_narrows_the_record(netsuite: NetSuiteConnector) -> None:
    record = await _json(netsuite, "GET", f"{RECORDS}/employee/eid:E-1001", params={"fields": "email"})
    assert set(record) == {"links", "id", "email"}


async def test_delete_then_read_is_not_found(netsuite: NetSuiteConnector) -> None:
    await netsuite.client.request("DELETE", f"{RECORDS}/projectTask/eid:PRJ-0001-T01")
    with pytest.raises(NotFoundError):
        await netsuite.client.request("GET", f"{RECORDS}/projectTask/eid:PRJ-0001-T01")
    with pytest.raises(NotFoundError):
        await netsuite.client.request("DELETE", f"{RECORDS}/projectTask/eid:PRJ-0001-T01")


async def test_accounting_periods_are_read_only(netsuite: NetSuiteConnector) -> None:
    with pytest.raises(BusinessError, match="_admin/netsuite/periods"):
        await netsuite.client.request("PATCH", f"{RECORDS}/accountingPeriod/1", json={"closed": False})


async def test_an_upsert_body_cannot_contradict_its_external_id(netsuite: NetSuiteConnector) -> None:
    with pytest.raises(BusinessError, match="differs"):
        await netsuite.client.request("PUT", f"{RECORDS}/customer/eid:A", json={"companyName": "A", "externalId": "B"})


async def test_an_unknown_record_type_is_not_found(netsuite: NetSuiteConnector) -> None:
    with pytest.raises(NotFoundError, match="salesOrder"):
        await netsuite.client.request("GET", f"{RECORDS}/salesOrder")
