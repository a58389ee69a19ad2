"""simple-salesforce against the sandbox, unpatched: its logins, queries, record calls and describe.

The client logs in at ``login.salesforce.com`` (or the org's My Domain) as it always does; the
sandbox's proxy leads that host to the Salesforce emulator's own HTTPS port, and the client trusts
the sandbox's CA through ``REQUESTS_CA_BUNDLE`` — nothing else is configured.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceResourceNotFound

from tests.sdk.conftest import Sandbox

# The demo org's integration user and connected app (docs/connectors/salesforce.md).
USERNAME = "integration@psflow-demo.example"
PASSWORD = "psflow-demo-password"
SECURITY_TOKEN = "PsflowDemoSecurityToken"
CONSUMER_KEY = "psflow-demo"
CONSUMER_SECRET = "psflow-demo-secret"
MY_DOMAIN = "psflow-demo.my"


@pytest.fixture(autouse=True)
def trust_the_sandbox(sdk_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", sdk_sandbox.ca_file)


@pytest.fixture
def proxies(sdk_sandbox: Sandbox) -> dict[str, str]:
    return {"https": sdk_sandbox.proxy}


@pytest.fixture
def admin(sdk_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sdk_sandbox.admin}/_admin") as client:
        yield client


def password_login(proxies: dict[str, str], **extra: Any) -> Salesforce:
    """The OAuth username-password flow: the security token goes after the password."""
    return Salesforce(
        username=USERNAME,
        password=PASSWORD + SECURITY_TOKEN,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        proxies=proxies,
        **extra,
    )


def test_username_password_login_then_records_by_id_and_external_id(proxies: dict[str, str]) -> None:
    sf = password_login(proxies)
    assert sf.sf_instance == "psflow-demo.my.salesforce.com"

    key = f"SDK-{uuid.uuid4().hex[:8]}"
    created = sf.Account.create({"Name": "Larchmont Analytics", "PSFlow_Id__c": key, "CurrencyIsoCode": "GBP"})
    assert created["success"] and created["id"].startswith("001")
    assert sf.Account.get(created["id"])["Name"] == "Larchmont Analytics"
    assert sf.Account.update(created["id"], {"Industry": "Technology"}) == 204
    assert sf.Account.get_by_custom_id("PSFlow_Id__c", key)["Industry"] == "Technology"

    assert sf.Account.upsert(f"PSFlow_Id__c/{key}", {"Name": "Larchmont Analytics Ltd"}) == 200
    assert sf.Account.get(created["id"])["Name"] == "Larchmont Analytics Ltd"
    fresh = f"SDK-{uuid.uuid4().hex[:8]}"
    assert sf.Account.upsert(f"PSFlow_Id__c/{fresh}", {"Name": "Upsert New Co"}) == 201

    found = sf.query(f"SELECT Id, Name FROM Account WHERE PSFlow_Id__c = '{fresh}'")
    assert found["totalSize"] == 1 and found["records"][0]["Name"] == "Upsert New Co"
    sf.Account.delete(created["id"])
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])


def test_query_all_follows_the_next_records_url(proxies: dict[str, str], admin: httpx.Client) -> None:
    sf = password_login(proxies)
    everything = sf.query("SELECT Id FROM Opportunity")
    assert everything["done"] and everything["totalSize"] >= 60
    admin.put("/salesforce/settings", json={"query_batch_size": 7}).raise_for_status()
    try:
        first = sf.query("SELECT Id FROM Opportunity")
        assert not first["done"] and first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
        paged = sf.query_all("SELECT Id FROM Opportunity")
        deleted_too = sf.query_all("SELECT Id FROM Opportunity", include_deleted=True)
    finally:
        admin.put("/salesforce/settings", json={"query_batch_size": 2000}).raise_for_status()
    ids = [record["Id"] for record in paged["records"]]
    assert len(ids) == len(set(ids)) == everything["totalSize"]
    assert [record["Id"] for record in deleted_too["records"]] == ids


def test_describe_the_objects_psflow_uses(proxies: dict[str, str]) -> None:
    sf = password_login(proxies)
    names = {sobject["name"] for sobject in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Opportunity", "OpportunityLineItem", "Product2", "PricebookEntry"} <= names
    fields = {field["name"]: field for field in sf.Opportunity.describe()["fields"]}
    assert fields["StageName"]["type"] == "picklist" and fields["CloseDate"]["type"] == "date"
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert sf.OpportunityLineItem.metadata()["objectDescribe"]["keyPrefix"] == "00k"
    assert sf.limits()["DailyApiRequests"]["Max"] > 0


def test_client_credentials_login_at_the_orgs_my_domain(proxies: dict[str, str]) -> None:
    sf = Salesforce(consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, domain=MY_DOMAIN, proxies=proxies)
    assert sf.auth_type == "client-credentials"
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1


def test_jwt_bearer_login_with_a_registered_certificate(proxies: dict[str, str], admin: httpx.Client) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    admin.put("/salesforce/jwt-keys/psflow-sdk-jwt", json={"public_key_pem": public.decode()}).raise_for_status()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    sf = Salesforce(username=USERNAME, consumer_key="psflow-sdk-jwt", privatekey=private.decode(), proxies=proxies)
    assert sf.auth_type == "jwt-bearer"
    assert sf.query("SELECT Id FROM Opportunity LIMIT 2")["totalSize"] == 2


def test_an_expired_session_logs_in_again(proxies: dict[str, str], admin: httpx.Client) -> None:
    sf = password_login(proxies)
    before = sf.session_id
    admin.put("/faults/salesforce", json={"token_expiry": True}).raise_for_status()
    admin.delete("/faults/salesforce").raise_for_status()
    # The 401 carries INVALID_SESSION_ID, which is what makes simple-salesforce log in again.
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    assert sf.session_id != before


def test_soap_login_while_salesforce_still_serves_it(proxies: dict[str, str], admin: httpx.Client) -> None:
    sf = Salesforce(username=USERNAME, password=PASSWORD, security_token=SECURITY_TOKEN, proxies=proxies)
    assert sf.sf_instance == "psflow-demo.my.salesforce.com"
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1

    with pytest.raises(SalesforceAuthenticationFailed, match="UNSUPPORTED_API_VERSION"):
        Salesforce(username=USERNAME, password=PASSWORD, security_token=SECURITY_TOKEN, proxies=proxies, version="65.0")
    admin.put("/salesforce/settings", json={"soap_login": False, "username_password_flow": False}).raise_for_status()
    try:
        with pytest.raises(SalesforceAuthenticationFailed, match="INVALID_OPERATION"):
            Salesforce(username=USERNAME, password=PASSWORD, security_token=SECURITY_TOKEN, proxies=proxies)
        with pytest.raises(SalesforceAuthenticationFailed, match="blockOAuthUnPwFlow"):
            password_login(proxies)
    finally:
        admin.put("/salesforce/settings", json={"soap_login": True, "username_password_flow": True}).raise_for_status()


def test_a_session_used_directly_on_the_emulators_own_port(sdk_sandbox: Sandbox, proxies: dict[str, str]) -> None:
    session = password_login(proxies).session_id
    sf = Salesforce(instance_url=sdk_sandbox.salesforce, session_id=session)
    created = sf.Contact.create({"LastName": "Okafor", "Email": "okafor@example.com"})
    assert sf.Contact.get(created["id"])["LastName"] == "Okafor"
    assert sf.query_all("SELECT Id FROM Contact WHERE LastName = 'Okafor'")["totalSize"] >= 1
