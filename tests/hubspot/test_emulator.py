"""The emulator's own API shapes, exercised raw: what a client that is not ours would see."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.hubspot.conftest import (
    OTHER_COMPANY,
    OTHER_CONTACT,
    REFRESH_TOKEN,
    SIX_ITEM_CLIENT_NAME,
    SIX_ITEM_COMPANY,
    SIX_ITEM_DEAL,
    SIX_ITEM_DEAL_NAME,
    SIX_ITEM_LINE_ITEMS,
    UK_CLIENTS,
    UK_DEALS,
    auth_headers,
)

API = "/hubspot/crm/v3/objects"


async def call(admin: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    return await admin.request(method, url, headers=auth_headers(), **kwargs)


async def test_seed_is_the_uk_practice(admin: httpx.AsyncClient) -> None:
    counts = (await admin.get("/_admin/status")).json()["systems"]["hubspot"]["counts"]
    assert counts == {
        "companies": len(UK_CLIENTS),
        "contacts": len(UK_CLIENTS),
        "deals": len(UK_DEALS),
        "line_items": sum(len(o.line_items) for o in UK_DEALS),
    }
    deal = (await call(admin, "GET", f"{API}/deals/{SIX_ITEM_DEAL}")).json()
    assert set(deal) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert deal["properties"]["dealname"] == SIX_ITEM_DEAL_NAME
    assert deal["properties"]["closedate"].endswith("T00:00:00.000Z")
    assert deal["properties"]["hs_object_id"] == SIX_ITEM_DEAL
    assert all(isinstance(value, str) for value in deal["properties"].values())
    lines = await call(
        admin, "POST", f"{API}/line_items/batch/read",
        json={"inputs": [{"id": item} for item in SIX_ITEM_LINE_ITEMS], "properties": ["amount"]},
    )  # fmt: skip
    total = sum(Decimal(item["properties"]["amount"]) for item in lines.json()["results"])
    assert total == Decimal(deal["properties"]["amount"])


async def test_read_with_properties_and_inline_associations(admin: httpx.AsyncClient) -> None:
    response = await call(
        admin, "GET", f"{API}/deals/{SIX_ITEM_DEAL}",
        params={"properties": "dealstage,psflow_rate_card,nonexistent", "associations": "companies,line_items"},
    )  # fmt: skip
    deal = response.json()
    assert set(deal["properties"]) == {"dealstage", "psflow_rate_card", "createdate", "hs_lastmodifieddate",
                                       "hs_object_id"}  # fmt: skip
    companies = deal["associations"]["companies"]["results"]
    assert {(a["id"], a["type"]) for a in companies} == {
        (SIX_ITEM_COMPANY, "deal_to_company"),
        (SIX_ITEM_COMPANY, "deal_to_company_unlabeled"),
    }
    assert len(deal["associations"]["line_items"]["results"]) == 6


async def test_list_pages_with_opaque_after_and_absolute_links(admin: httpx.AsyncClient) -> None:
    first = (await call(admin, "GET", f"{API}/companies", params={"limit": 5})).json()
    after = first["paging"]["next"]["after"]
    assert len(first["results"]) == 5 and not after.isdigit()
    assert first["paging"]["next"]["link"].startswith("http://sandbox/hubspot/crm/v3/objects/companies?")
    link = httpx.URL(first["paging"]["next"]["link"])
    second = (await admin.get(link, headers=auth_headers())).json()
    third = (
        await call(admin, "GET", f"{API}/companies", params={"limit": 5, "after": second["paging"]["next"]["after"]})
    ).json()
    assert len(second["results"]) == 5 and len(third["results"]) == 2 and "paging" not in third
    bad = await call(admin, "GET", f"{API}/companies", params={"after": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def search_body(*filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"filterGroups": [{"filters": list(filters)}], "limit": 200, **extra}


_WON = sum(o.stage == "Closed Won" for o in UK_DEALS)
_CLOSED = sum(o.stage in ("Closed Won", "Closed Lost") for o in UK_DEALS)
_TOKEN = re.findall(r"[a-z0-9]+", SIX_ITEM_CLIENT_NAME.lower())[0]
_WITH_TOKEN = sum(_TOKEN in re.findall(r"[a-z0-9]+", o.name.lower()) for o in UK_DEALS)
_WITH_PREFIX = sum(any(t.startswith(_TOKEN[:5]) for t in re.findall(r"[a-z0-9]+", o.name.lower())) for o in UK_DEALS)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"propertyName": "dealstage", "operator": "EQ", "value": "CLOSEDWON"}], _WON),
        ([{"propertyName": "dealstage", "operator": "NEQ", "value": "closedwon"}], len(UK_DEALS) - _WON),
        ([{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]}], _CLOSED),
        ([{"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}],
         len(UK_DEALS) - _CLOSED),
        ([{"propertyName": "amount", "operator": "GT", "value": "0"}], len(UK_DEALS)),
        ([{"propertyName": "amount", "operator": "BETWEEN", "value": "0", "highValue": "1"}], 0),
        ([{"propertyName": "psflow_id", "operator": "HAS_PROPERTY"}], 0),
        ([{"propertyName": "psflow_id", "operator": "NOT_HAS_PROPERTY"}], len(UK_DEALS)),
        ([{"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": _TOKEN}], _WITH_TOKEN),
        ([{"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": f"{_TOKEN[:5]}*"}], _WITH_PREFIX),
        ([{"propertyName": "dealname", "operator": "NOT_CONTAINS_TOKEN", "value": _TOKEN}],
         len(UK_DEALS) - _WITH_TOKEN),
        ([{"propertyName": "closedate", "operator": "GTE", "value": "0"},
          {"propertyName": "closedate", "operator": "LT", "value": "4102444800000"}], len(UK_DEALS)),
    ],
)  # fmt: skip
async def test_search_operators(admin: httpx.AsyncClient, filters: list[dict[str, Any]], expected: int) -> None:
    response = await call(admin, "POST", f"{API}/deals/search", json=search_body(*filters))
    assert response.status_code == 200 and response.json()["total"] == expected


async def test_search_groups_or_sorts_and_pages(admin: httpx.AsyncClient) -> None:
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}]},
            {"filters": [{"propertyName": "dealstage", "operator": "EQ", "value": "closedlost"}]},
        ],
        "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}],
        "properties": ["amount"],
        "limit": 4,
    }
    first = (await call(admin, "POST", f"{API}/deals/search", json=body)).json()
    second = (
        await call(admin, "POST", f"{API}/deals/search", json={**body, "after": first["paging"]["next"]["after"]})
    ).json()
    amounts = [Decimal(d["properties"]["amount"]) for d in first["results"] + second["results"]]
    assert first["total"] == _CLOSED and first["paging"]["next"]["after"] == "4" and "paging" not in second
    assert amounts == sorted(amounts, reverse=True) and len(amounts) == _CLOSED
    text = (await call(admin, "POST", f"{API}/companies/search", json={"query": _TOKEN})).json()
    assert [c["id"] for c in text["results"]] == [SIX_ITEM_COMPANY]


async def test_create_with_associations_and_v4_association_paging(admin: httpx.AsyncClient) -> None:
    created = await call(
        admin, "POST", f"{API}/deals",
        json={
            "properties": {"dealname": "Extension", "dealstage": "qualifiedtobuy", "amount": 1200},
            "associations": [
                {"to": {"id": SIX_ITEM_COMPANY},
                 "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}]},
            ],
        },
    )  # fmt: skip
    assert created.status_code == 201
    deal = created.json()
    assert deal["properties"]["amount"] == "1200"
    read = await call(admin, "GET", f"{API}/deals/{deal['id']}", params={"properties": "pipeline"})
    assert read.json()["properties"]["pipeline"] == "default"
    listed = (await call(admin, "GET", f"/hubspot/crm/v4/objects/deals/{deal['id']}/associations/companies")).json()
    assert listed["results"] == [
        {
            "toObjectId": int(SIX_ITEM_COMPANY),
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"},
                {"category": "HUBSPOT_DEFINED", "typeId": 341, "label": None},
            ],
        }
    ]
    base = f"/hubspot/crm/v4/objects/companies/{SIX_ITEM_COMPANY}/associations/deals"
    first = (await call(admin, "GET", base, params={"limit": 1})).json()
    rest = (await call(admin, "GET", base, params={"limit": 1, "after": first["paging"]["next"]["after"]})).json()
    assert first["results"][0]["toObjectId"] != rest["results"][0]["toObjectId"]


async def test_v4_associate_and_remove(admin: httpx.AsyncClient) -> None:
    path = f"/hubspot/crm/v4/objects/deals/{SIX_ITEM_DEAL}/associations"
    default = await call(admin, "PUT", f"{path}/default/contacts/{OTHER_CONTACT}")
    assert default.status_code == 200 and default.json()["status"] == "COMPLETE"
    labelled = await call(admin, "PUT", f"{path}/companies/{OTHER_COMPANY}",
                          json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}])  # fmt: skip
    assert labelled.json() == {"fromObjectTypeId": "0-3", "fromObjectId": int(SIX_ITEM_DEAL),
                               "toObjectTypeId": "0-2", "toObjectId": int(OTHER_COMPANY), "labels": []}  # fmt: skip
    wrong = await call(admin, "PUT", f"{path}/companies/{OTHER_COMPANY}",
                       json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}])  # fmt: skip
    assert wrong.status_code == 400
    assert (await call(admin, "DELETE", f"{path}/companies/{OTHER_COMPANY}")).status_code == 204
    companies = (await call(admin, "GET", f"{path}/companies")).json()["results"]
    assert [c["toObjectId"] for c in companies] == [int(SIX_ITEM_COMPANY)]


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"dealname": "No stage"}, "PROPERTY_REQUIRED"),
        ({"dealname": "x", "dealstage": "closedwon", "colour": "red"}, "PROPERTY_DOESNT_EXIST"),
        ({"dealname": "x", "dealstage": "closedwon", "hs_object_id": "1"}, "READ_ONLY_VALUE"),
        ({"dealname": "x", "dealstage": "won"}, "INVALID_OPTION"),
        ({"dealname": "x", "dealstage": "closedwon", "amount": "lots"}, "INVALID_DECIMAL"),
        ({"dealname": "x", "dealstage": "closedwon", "psflow_start_date": "2026-04-06T10:00:00Z"}, "INVALID_DATE"),
        ({"dealname": "x", "dealstage": "closedwon", "closedate": "soon"}, "INVALID_DATE"),
    ],
)
async def test_invalid_writes_are_validation_errors(
    admin: httpx.AsyncClient, properties: dict[str, Any], code: str
) -> None:
    response = await call(admin, "POST", f"{API}/deals", json={"properties": properties})
    body = response.json()
    assert response.status_code == 400
    assert (body["status"], body["category"]) == ("error", "VALIDATION_ERROR") and body["correlationId"]
    assert body["errors"][0]["code"] == code


async def test_malformed_body_is_a_validation_error(admin: httpx.AsyncClient) -> None:
    response = await call(admin, "POST", f"{API}/deals/search", json={"limit": "many"})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


async def test_batch_read_lists_missing_ids_in_a_207(admin: httpx.AsyncClient) -> None:
    response = await call(admin, "POST", f"{API}/companies/batch/read",
                          json={"inputs": [{"id": SIX_ITEM_COMPANY}, {"id": "404"}]})  # fmt: skip
    body = response.json()
    assert response.status_code == 207 and body["numErrors"] == 1
    assert [r["id"] for r in body["results"]] == [SIX_ITEM_COMPANY]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND" and body["errors"][0]["context"] == {"ids": ["404"]}


async def test_batch_upsert_200_then_207_with_per_input_errors(admin: httpx.AsyncClient) -> None:
    inputs = [
        {"idProperty": "psflow_id", "id": "netsuite:1", "objectWriteTraceId": "t1", "properties": {"name": "One"}},
        {"idProperty": "psflow_id", "id": "netsuite:2", "properties": {"name": "Two"}},
    ]
    created = await call(admin, "POST", f"{API}/companies/batch/upsert", json={"inputs": inputs})
    assert created.status_code == 200
    assert [(r["new"], r.get("objectWriteTraceId")) for r in created.json()["results"]] == [(True, "t1"), (True, None)]
    inputs[1]["properties"] = {"industry": "SPACE_PIRACY"}
    partial = await call(admin, "POST", f"{API}/companies/batch/upsert", json={"inputs": inputs})
    body = partial.json()
    assert partial.status_code == 207 and body["numErrors"] == 1
    assert [(r["new"], r["id"]) for r in body["results"]] == [(False, created.json()["results"][0]["id"])]
    assert body["errors"][0]["context"] == {"id": ["netsuite:2"]} and "INVALID_OPTION" in body["errors"][0]["message"]
    duplicate = await call(admin, "POST", f"{API}/companies/batch/upsert", json={"inputs": [inputs[0], inputs[0]]})
    assert duplicate.status_code == 400 and "Duplicate IDs" in duplicate.json()["message"]
    not_unique = {"inputs": [{**inputs[0], "idProperty": "name"}]}
    assert (await call(admin, "POST", f"{API}/companies/batch/upsert", json=not_unique)).status_code == 400


async def test_unique_value_clash_is_a_409(admin: httpx.AsyncClient) -> None:
    first = await call(admin, "POST", f"{API}/contacts", json={"properties": {"email": "a@b.example"}})
    second = await call(admin, "POST", f"{API}/contacts", json={"properties": {"email": "a@b.example"}})
    assert first.status_code == 201 and second.status_code == 409
    assert second.json()["category"] == "CONFLICT" and first.json()["id"] in second.json()["message"]


async def test_archive_is_204_and_hides_the_record(admin: httpx.AsyncClient) -> None:
    assert (await call(admin, "DELETE", f"{API}/deals/{SIX_ITEM_DEAL}")).status_code == 204
    assert (await call(admin, "DELETE", f"{API}/deals/{SIX_ITEM_DEAL}")).status_code == 204
    gone = await call(admin, "GET", f"{API}/deals/{SIX_ITEM_DEAL}")
    assert gone.status_code == 404 and gone.json()["category"] == "OBJECT_NOT_FOUND"


async def test_unknown_object_type_and_path(admin: httpx.AsyncClient) -> None:
    unknown_type = await call(admin, "GET", f"{API}/tickets")
    assert unknown_type.status_code == 400 and "tickets" in unknown_type.json()["message"]
    unknown_path = await call(admin, "GET", "/hubspot/crm/v9/nothing")
    assert unknown_path.status_code == 404 and unknown_path.json()["status"] == "error"


async def test_missing_or_bad_token_is_401_in_hubspot_shape(admin: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = await admin.get(f"{API}/deals/{SIX_ITEM_DEAL}", headers=headers)
        assert response.status_code == 401 and response.json()["category"] == "INVALID_AUTHENTICATION"


async def test_oauth_token_endpoint(admin: httpx.AsyncClient) -> None:
    form = {"grant_type": "refresh_token", "client_id": "psflow-demo", "client_secret": "psflow-demo-secret"}
    token = await admin.post("/hubspot/oauth/v1/token", data={**form, "refresh_token": REFRESH_TOKEN})
    body = token.json()
    assert (body["token_type"], body["expires_in"], body["refresh_token"]) == ("bearer", 1800, REFRESH_TOKEN)
    assert (await admin.get(f"{API}/deals/{SIX_ITEM_DEAL}", headers=auth_headers(body["access_token"]))).is_success
    code = await admin.post("/hubspot/oauth/v1/token", data={**form, "grant_type": "authorization_code",
                                                              "code": "psflow-demo-code"})  # fmt: skip
    rotated = await admin.post("/hubspot/oauth/v1/token", data={**form, "refresh_token": code.json()["refresh_token"]})
    assert rotated.status_code == 200
    for bad, status in (
        ({**form, "refresh_token": "stolen"}, "BAD_REFRESH_TOKEN"),
        ({**form, "client_secret": "guess", "refresh_token": REFRESH_TOKEN}, "BAD_CLIENT_SECRET"),
        ({**form, "grant_type": "password"}, "BAD_GRANT_TYPE"),
    ):
        refused = await admin.post("/hubspot/oauth/v1/token", data=bad)
        assert refused.status_code == 400 and refused.json()["status"] == status


async def test_subscriptions_are_validated_and_listed(admin: httpx.AsyncClient) -> None:
    good = {"target_url": "http://127.0.0.1:9/hook", "client_secret": "s"}
    assert (await admin.post("/_admin/hubspot/webhooks", json=good)).status_code == 201
    bad_type = await admin.post("/_admin/hubspot/webhooks", json={**good, "subscription_type": "deal.explosion"})
    bad_property = await admin.post("/_admin/hubspot/webhooks", json={**good, "property_name": "colour"})
    assert bad_type.status_code == 422 and bad_property.status_code == 422
    listed = (await admin.get("/_admin/hubspot/webhooks")).json()["results"]
    assert [(s["subscriptionType"], s["propertyName"]) for s in listed] == [("deal.propertyChange", "dealstage")]
    assert (await admin.delete(f"/_admin/hubspot/webhooks/{listed[0]['id']}")).status_code == 204
