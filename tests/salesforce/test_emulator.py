"""The emulator on the wire: sign-in, sObject rows, upsert statuses, collections, errors, limits."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.salesforce.conftest import API, admin_settings, bearer, soql

TOKEN = "/salesforce/services/oauth2/token"
DEMO = {"client_id": "psflow-demo", "client_secret": "psflow-demo-secret"}


def error(response: httpx.Response) -> dict[str, Any]:
    """The single error of a Salesforce error array."""
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert set(body[0]) == {"message", "errorCode", "fields"}
    first: dict[str, Any] = body[0]
    return first


async def test_client_credentials_answer_like_salesforce(http: httpx.AsyncClient) -> None:
    response = await http.post(TOKEN, data={"grant_type": "client_credentials", **DEMO})
    body = response.json()
    assert response.status_code == 200
    assert body["instance_url"] == "http://sandbox/salesforce"
    assert body["token_type"] == "Bearer" and body["issued_at"].isdigit() and body["signature"]
    assert body["id"].startswith("http://sandbox/salesforce/id/00D")
    assert "expires_in" not in body


async def test_the_refresh_token_grant(http: httpx.AsyncClient) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": "psflow-demo-refresh-token", **DEMO}
    assert (await http.post(TOKEN, data=form)).status_code == 200
    refused = await http.post(TOKEN, data={**form, "refresh_token": "stolen"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"grant_type": "client_credentials", "client_id": "psflow-demo", "client_secret": "wrong"}, "invalid_client"),
        ({"grant_type": "password", "username": "integration@psflow-demo.example", **DEMO}, "invalid_grant"),
        ({"grant_type": "authorization_code", "code": "x", **DEMO}, "unsupported_grant_type"),
    ],
)
async def test_refused_grants_use_oauth_errors(http: httpx.AsyncClient, form: dict[str, str], code: str) -> None:
    response = await http.post(TOKEN, data=form)
    assert response.status_code == 400
    assert response.json()["error"] == code and response.json()["error_description"]


async def test_the_jwt_bearer_grant_checks_the_registered_key(http: httpx.AsyncClient) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {"iss": "cert-app", "sub": "integration@brightline.example", "aud": "https://login.salesforce.com"}
    assertion = jwt.encode({**claims, "exp": int(time.time()) + 60}, key, algorithm="RS256")
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    assert (await http.post(TOKEN, data=form)).json()["error"] == "invalid_client_id"
    registered = await http.put("/_admin/salesforce/jwt-keys/cert-app", json={"public_key_pem": public_pem.decode()})
    assert registered.status_code == 200
    assert (await http.post(TOKEN, data=form)).status_code == 200
    expired = jwt.encode({**claims, "exp": int(time.time()) - 60}, key, algorithm="RS256")
    refused = await http.post(TOKEN, data={**form, "assertion": expired})
    assert refused.json()["error"] == "invalid_grant"


async def test_data_calls_need_a_session(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{API}/sobjects/Account/0018d0000000001AAA", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert error(response)["errorCode"] == "INVALID_SESSION_ID"


async def test_create_read_update_delete(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    created = await http.post(f"{API}/sobjects/Account", json={"Name": "Kestrel Aerospace"}, headers=headers)
    assert created.status_code == 201
    assert set(created.json()) == {"id", "success", "errors"} and created.json()["success"]
    account_id = created.json()["id"]
    assert account_id.startswith("001") and len(account_id) == 18
    changed = await http.patch(
        f"{API}/sobjects/Account/{account_id}", json={"Industry": "Manufacturing"}, headers=headers
    )
    assert changed.status_code == 204 and not changed.content
    read = await http.get(
        f"{API}/sobjects/Account/{account_id[:15]}", params={"fields": "Name,Industry"}, headers=headers
    )
    assert read.json() == {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/{account_id}"},
        "Name": "Kestrel Aerospace",
        "Industry": "Manufacturing",
    }
    assert (await http.delete(f"{API}/sobjects/Account/{account_id}", headers=headers)).status_code == 204
    gone = await http.get(f"{API}/sobjects/Account/{account_id}", headers=headers)
    assert gone.status_code == 404 and error(gone)["errorCode"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("sobject", "body", "status", "code", "fields"),
    [
        ("Contact", {"FirstName": "Ada"}, 400, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ("Account", {"Name": "X", "Colour__c": "red"}, 400, "INVALID_FIELD", ["Colour__c"]),
        ("Opportunity", {"Name": "X", "StageName": "Won-ish", "CloseDate": "2025-01-01"}, 400,
         "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["StageName"]),
        ("Opportunity", {"Name": "X", "StageName": "Prospecting", "CloseDate": "31/01/2025"}, 400,
         "JSON_PARSER_ERROR", []),
        ("Contact", {"LastName": "Byrne", "AccountId": "not-an-id"}, 400, "MALFORMED_ID", ["AccountId"]),
        ("Contact", {"LastName": "Byrne", "AccountId": "0018d00000ZZZZZAAA"}, 400, "MALFORMED_ID", ["AccountId"]),
        ("Contact", {"LastName": "Byrne", "AccountId": "0018d0000000zzz"}, 400, "INVALID_CROSS_REFERENCE_KEY",
         ["AccountId"]),
        ("Opportunity", {"Name": "X", "StageName": "Prospecting", "CloseDate": "2025-01-01", "IsWon": True}, 400,
         "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsWon"]),
        ("Spaceship", {"Name": "X"}, 404, "NOT_FOUND", []),
    ],
)  # fmt: skip
async def test_bad_input_gets_the_documented_error(
    http: httpx.AsyncClient, sobject: str, body: dict[str, Any], status: int, code: str, fields: list[str]
) -> None:
    response = await http.post(f"{API}/sobjects/{sobject}", json=body, headers=await bearer(http))
    assert response.status_code == status, response.text
    assert error(response)["errorCode"] == code
    assert error(response)["fields"] == fields


async def test_a_body_that_is_not_json_is_a_parser_error(http: httpx.AsyncClient) -> None:
    headers = {**await bearer(http), "Content-Type": "application/json"}
    response = await http.post(f"{API}/sobjects/Account", content=b"{not json", headers=headers)
    assert response.status_code == 400 and error(response)["errorCode"] == "JSON_PARSER_ERROR"


async def test_upsert_answers_201_then_200_then_300(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    url = f"{API}/sobjects/Account/PSFlow_Id__c/netsuite%3A77"
    created = await http.patch(url, json={"Name": "Tidewater Utilities"}, headers=headers)
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "success": True, "errors": [], "created": True}
    updated = await http.patch(url, json={"Industry": "Utilities"}, headers=headers)
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert updated.json()["id"] == created.json()["id"]
    # PSFlow_Id__c is an External ID but not unique, so a second record can carry the same value.
    twin = {"Name": "Tidewater Utilities (dup)", "PSFlow_Id__c": "netsuite:77"}
    assert (await http.post(f"{API}/sobjects/Account", json=twin, headers=headers)).status_code == 201
    ambiguous = await http.patch(url, json={"Industry": "Energy"}, headers=headers)
    assert ambiguous.status_code == 300
    assert len(ambiguous.json()) == 2 and all(
        u.startswith("/services/data/v62.0/sobjects/Account/001") for u in ambiguous.json()
    )
    assert (await http.get(url, headers=headers)).status_code == 300


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("Account/Name/Acme", {"Industry": "Retail"}, 404, "NOT_FOUND"),
        ("Account/PSFlow_Id__c/x-1", {"PSFlow_Id__c": "x-1", "Name": "Acme"}, 400, "INVALID_FIELD"),
    ],
)
async def test_upsert_refusals(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = await http.patch(f"{API}/sobjects/{path}", json=body, headers=await bearer(http))
    assert response.status_code == status and error(response)["errorCode"] == code


async def test_collections_report_each_record(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Okafor"},
        {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
        {"attributes": {"type": "Account"}, "Name": "Ember Renewables"},
        {"Name": "No type"},
    ]
    response = await http.post(
        f"{API}/composite/sobjects", json={"allOrNone": False, "records": records}, headers=headers
    )
    assert response.status_code == 200
    results = response.json()
    assert [r["success"] for r in results] == [True, False, True, False]
    assert results[1]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [LastName]",
            "fields": ["LastName"],
        }
    ]
    assert results[3]["errors"][0]["statusCode"] == "INVALID_TYPE"
    rolled_back = await http.post(
        f"{API}/composite/sobjects", json={"allOrNone": True, "records": records}, headers=headers
    )
    results = rolled_back.json()
    assert not any(r["success"] for r in results)
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    contacts = await soql(http, "SELECT Id FROM Contact WHERE LastName = 'Okafor' AND FirstName = null", headers)
    assert contacts.json()["totalSize"] == 1  # only the first, partial call saved it


async def test_collections_cap_the_batch(http: httpx.AsyncClient) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(201)]
    response = await http.post(f"{API}/composite/sobjects", json={"records": records}, headers=await bearer(http))
    assert response.status_code == 400 and error(response)["errorCode"] == "EXCEEDED_ID_LIMIT"


async def test_line_items_price_and_roll_up(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    book = (await soql(http, "SELECT Id FROM Pricebook2 WHERE IsStandard = TRUE", headers)).json()["records"][0]["Id"]
    entry = (
        await soql(
            http, "SELECT Id, Product2Id, UnitPrice FROM PricebookEntry WHERE CurrencyIsoCode = 'GBP' LIMIT 1", headers
        )
    ).json()["records"][0]
    opportunity = {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2025-09-30", "CurrencyIsoCode": "GBP"}
    opp_id = (await http.post(f"{API}/sobjects/Opportunity", json=opportunity, headers=headers)).json()["id"]
    line = {"OpportunityId": opp_id, "PricebookEntryId": entry["Id"], "Quantity": 10, "UnitPrice": 150.5}
    assert (await http.post(f"{API}/sobjects/OpportunityLineItem", json=line, headers=headers)).status_code == 201
    by_product = {"OpportunityId": opp_id, "Product2Id": entry["Product2Id"], "Quantity": 2, "TotalPrice": 99}
    assert (await http.post(f"{API}/sobjects/OpportunityLineItem", json=by_product, headers=headers)).status_code == 201
    both = {**line, "TotalPrice": 1}
    refused = await http.post(f"{API}/sobjects/OpportunityLineItem", json=both, headers=headers)
    assert error(refused)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    read = (await http.get(f"{API}/sobjects/Opportunity/{opp_id}", headers=headers)).json()
    assert read["Amount"] == 1604.0 and read["Pricebook2Id"] in (None, book)
    assert read["Probability"] == 10.0 and read["IsClosed"] is False


async def test_every_data_response_reports_api_usage(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    first = await http.get(f"{API}/limits", headers=headers)
    second = await http.get(f"{API}/sobjects/Account/0018d00000zzzzzAAA", headers=headers)
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert second.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
    assert first.json() == {"DailyApiRequests": {"Max": 15000, "Remaining": 14999}}


async def test_a_spent_allocation_is_403_request_limit_exceeded(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    await admin_settings(http, api_daily_limit=3, api_used=2)
    assert (await http.get(f"{API}/limits", headers=headers)).status_code == 200
    refused = await http.get(f"{API}/limits", headers=headers)
    assert refused.status_code == 403
    assert error(refused)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    assert "Retry-After" not in refused.headers


async def test_unknown_api_versions_and_paths_are_not_found(http: httpx.AsyncClient) -> None:
    headers = await bearer(http)
    old = await http.get("/salesforce/services/data/v19.0/limits", headers=headers)
    assert old.status_code == 404 and error(old)["errorCode"] == "NOT_FOUND"
    versions = await http.get("/salesforce/services/data/")
    assert versions.json()[0]["version"] == "62.0"
