"""What vendor SDKs rely on: Salesforce's URL forms, describe and logins, NetSuite's refName, Workday's links.

The SDKs themselves drive a real sandbox in psflow's ``tests/sdk``; these tests pin each shape
in-process, on the shared port and at a system's own root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from xml.dom import minidom

import httpx
import pytest
from fastapi import FastAPI

from sandbox._auth import issue_token
from sandbox.app import create_app, create_system_app
from sandbox.systems.salesforce._auth import DEMO_PASSWORD, DEMO_SECURITY_TOKEN, DEMO_USERNAME
from sandbox.systems.workday import TENANT

from .conftest import TEST_TODAY

DATA = "/salesforce/services/data/v62.0"
CLIENT = {"client_id": "psflow-demo", "client_secret": "psflow-demo-secret"}
PASSWORD = {"grant_type": "password", "username": DEMO_USERNAME, **CLIENT}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """Every system, seeded with the demo firm (the tests here only read, or write their own records)."""
    app = create_app(tmp_path_factory.mktemp("shapes") / "s.db", seed="demo", today=TEST_TODAY, faults={})
    yield app
    app.state.db.close()


@pytest.fixture
async def http(seeded: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=seeded), base_url="http://sandbox") as client:
        yield client


async def _salesforce_session(http: httpx.AsyncClient) -> dict[str, str]:
    token = await http.post("/salesforce/services/oauth2/token", data={"grant_type": "client_credentials", **CLIENT})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/query/?q=SELECT+Id+FROM+Account+LIMIT+1"),
        ("GET", "/queryAll/?q=SELECT+Id+FROM+Account+LIMIT+1"),
        ("GET", "/limits/"),
        ("GET", "/sobjects"),
        ("GET", "/sobjects/"),
        ("GET", "/sobjects/Account/"),
        ("GET", "/sobjects/Account/describe"),
        ("GET", "/sobjects/Account/describe/"),
        ("POST", "/sobjects/Account/"),
    ],
)
async def test_salesforce_answers_the_url_forms_clients_send(http: httpx.AsyncClient, method: str, path: str) -> None:
    headers = await _salesforce_session(http)
    body = {"Name": "Trailing Slash Ltd"} if method == "POST" else None
    response = await http.request(method, f"{DATA}{path}", headers=headers, json=body)
    assert response.status_code in (200, 201), response.text
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


async def test_describe_tells_the_fields_psflow_uses(http: httpx.AsyncClient) -> None:
    headers = await _salesforce_session(http)
    listed = (await http.get(f"{DATA}/sobjects", headers=headers)).json()
    names = {sobject["name"] for sobject in listed["sobjects"]}
    assert {"Account", "Contact", "Opportunity", "OpportunityLineItem", "Product2", "PricebookEntry"} <= names

    opportunity = (await http.get(f"{DATA}/sobjects/Opportunity/describe", headers=headers)).json()
    assert (opportunity["name"], opportunity["keyPrefix"]) == ("Opportunity", "006")
    fields = {field["name"]: field for field in opportunity["fields"]}
    assert fields["Id"]["label"] == "Opportunity ID" and not fields["Id"]["nillable"]
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["AccountId"]["relationshipName"] == "Account"
    assert fields["PSFlow_Id__c"]["externalId"] and fields["PSFlow_Id__c"]["custom"]
    assert "Closed Won" in [value["value"] for value in fields["StageName"]["picklistValues"]]
    assert not fields["IsWon"]["createable"] and not fields["IsWon"]["updateable"]
    assert {"childSObject": "OpportunityLineItem", "relationshipName": "OpportunityLineItems"}.items() <= (
        opportunity["childRelationships"][0].items()
    )
    info = (await http.get(f"{DATA}/sobjects/Opportunity", headers=headers)).json()
    assert info["objectDescribe"]["urls"]["describe"] == "/services/data/v62.0/sobjects/Opportunity/describe"
    missing = await http.get(f"{DATA}/sobjects/Nope/describe", headers=headers)
    assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"


async def test_query_all_pages_under_its_own_resource(http: httpx.AsyncClient) -> None:
    headers = await _salesforce_session(http)
    await http.put("/_admin/salesforce/settings", json={"query_batch_size": 7})
    try:
        first = (await http.get(f"{DATA}/queryAll/", params={"q": "SELECT Id FROM Account"}, headers=headers)).json()
        assert first["nextRecordsUrl"].startswith("/services/data/v62.0/queryAll/01g")
        rest = (await http.get(f"/salesforce{first['nextRecordsUrl']}", headers=headers)).json()
        assert len(first["records"]) == len(rest["records"]) == 7
    finally:
        await http.put("/_admin/salesforce/settings", json={"query_batch_size": 2000})


async def test_the_username_password_flow_needs_the_security_token_and_can_be_blocked(
    http: httpx.AsyncClient,
) -> None:
    token = "/salesforce/services/oauth2/token"
    refused = await http.post(token, data={**PASSWORD, "password": DEMO_PASSWORD})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    granted = await http.post(token, data={**PASSWORD, "password": DEMO_PASSWORD + DEMO_SECURITY_TOKEN})
    assert granted.status_code == 200 and granted.json()["instance_url"] == "http://sandbox/salesforce"

    await http.put("/_admin/salesforce/settings", json={"username_password_flow": False})
    try:
        blocked = await http.post(token, data={**PASSWORD, "password": DEMO_PASSWORD + DEMO_SECURITY_TOKEN})
        assert blocked.status_code == 400 and "blockOAuthUnPwFlow" in blocked.json()["error_description"]
    finally:
        await http.put("/_admin/salesforce/settings", json={"username_password_flow": True})


def _soap_login(username: str, password: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8" ?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Body><urn:login>'
        f"<urn:username>{username}</urn:username><urn:password>{password}</urn:password>"
        "</urn:login></soapenv:Body></soapenv:Envelope>"
    )


def _tag(xml: bytes, name: str) -> str | None:
    found = minidom.parseString(xml).getElementsByTagName(name)
    return found[0].firstChild.nodeValue if found and found[0].firstChild else None  # type: ignore[union-attr]


async def test_soap_login_answers_only_as_salesforce_still_does(seeded: FastAPI, http: httpx.AsyncClient) -> None:
    own = create_system_app(seeded, "salesforce")
    envelope = _soap_login(DEMO_USERNAME, DEMO_PASSWORD + DEMO_SECURITY_TOKEN)
    headers = {"content-type": "text/xml", "SOAPAction": "login"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own), base_url="https://127.0.0.1:8711") as root:
        ok = await root.post("/services/Soap/u/59.0", content=envelope, headers=headers)
        assert ok.status_code == 200
        # Read as simple-salesforce reads it: unprefixed elements, found by tag name.
        assert _tag(ok.content, "serverUrl") == "https://127.0.0.1:8711/services/Soap/u/59.0/00D8d0000000001"
        session = _tag(ok.content, "sessionId")
        data = await root.get("/services/data/v59.0/limits/", headers={"Authorization": f"Bearer {session}"})
        assert data.status_code == 200

        retired = await root.post("/services/Soap/u/65.0", content=envelope, headers=headers)
        assert retired.status_code == 500 and _tag(retired.content, "sf:exceptionCode") == "UNSUPPORTED_API_VERSION"
        wrong = await root.post("/services/Soap/u/59.0", content=_soap_login(DEMO_USERNAME, DEMO_PASSWORD))
        assert wrong.status_code == 500 and _tag(wrong.content, "sf:exceptionCode") == "INVALID_LOGIN"

        await http.put("/_admin/salesforce/settings", json={"soap_login": False})
        try:
            off = await root.post("/services/Soap/u/59.0", content=envelope, headers=headers)
            assert _tag(off.content, "sf:exceptionCode") == "INVALID_OPERATION"
        finally:
            await http.put("/_admin/salesforce/settings", json={"soap_login": True})


@pytest.mark.parametrize(
    ("base_url", "instance_url"),
    [
        ("https://127.0.0.1:8711", "https://127.0.0.1:8711"),
        ("https://login.salesforce.com", "https://psflow-demo.my.salesforce.com"),
        ("https://psflow-demo.my.salesforce.com", "https://psflow-demo.my.salesforce.com"),
    ],
)
async def test_the_instance_url_is_where_the_client_goes_next(
    seeded: FastAPI, base_url: str, instance_url: str
) -> None:
    own = create_system_app(seeded, "salesforce")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=own), base_url=base_url) as root:
        token = await root.post("/services/oauth2/token", data={"grant_type": "client_credentials", **CLIENT})
        assert token.json()["instance_url"] == instance_url
        assert token.json()["id"].startswith(f"{instance_url}/id/00D")


async def test_netsuite_references_carry_their_display_names(seeded: FastAPI, http: httpx.AsyncClient) -> None:
    token = issue_token(seeded.state.db, "netsuite", subject="test", ttl_s=60)
    headers = {"Authorization": f"Bearer {token}"}
    record = "/netsuite/services/rest/record/v1"
    job = (await http.get(f"{record}/job/eid:PRJ-0001", headers=headers)).json()
    customer = (await http.get(job["parent"]["links"][0]["href"], headers=headers)).json()
    assert job["parent"]["refName"] == customer["companyName"]
    assert job["currency"]["refName"] in {"US Dollar", "British pound", "Euro"} and "links" not in job["currency"]
    assert job["jobBillingType"]["refName"] in {"Time and Materials", "Fixed Bid, Milestone"}
    assert job["entityStatus"] == {"id": "2", "refName": "In Progress"}
    manager = (await http.get(job["projectManager"]["links"][0]["href"], headers=headers)).json()
    assert job["projectManager"]["refName"] == f"{manager['firstName']} {manager['lastName']}"

    task = (await http.get(f"{record}/projectTask/eid:PRJ-0001-T01", headers=headers)).json()
    assert task["project"]["refName"] == f"{customer['companyName']} : {job['companyName']}"


async def test_every_workday_link_leads_somewhere(seeded: FastAPI, http: httpx.AsyncClient) -> None:
    token = issue_token(seeded.state.db, "workday", subject="test", ttl_s=60)
    headers = {"Authorization": f"Bearer {token}"}
    workers = (await http.get(f"/workday/ccx/api/common/v1/{TENANT}/workers?limit=100", headers=headers)).json()

    def links(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("href", "workers") and isinstance(item, str):
                    yield item
                yield from links(item)
        elif isinstance(value, list):
            for item in value:
                yield from links(item)

    seen: set[str] = set()
    pending = sorted(set(links(workers)))
    assert any("/supervisoryOrganizations/" in link for link in pending)
    while pending:
        link = pending.pop()
        seen.add(link)
        response = await http.get(link, headers=headers)
        assert response.status_code == 200, f"{link}: {response.status_code} {response.text}"
        pending += sorted(set(links(response.json())) - seen - set(pending))
    organizations = {link for link in seen if link.rstrip("/").split("/")[-2] == "supervisoryOrganizations"}
    assert len(organizations) >= 3

    org = (await http.get(sorted(organizations)[0], headers=headers)).json()
    members = (await http.get(org["workers"], headers=headers)).json()
    assert members["total"] == len(members["data"]) > 0
    assert {m["primarySupervisoryOrganization"]["id"] for m in members["data"]} == {org["id"]}
    assert org["manager"]["href"].endswith(f"/workers/{org['manager']['id']}")
