"""TBA signatures and the OAuth 2.0 M2M flow, as the emulator checks them."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors._core import AuthError, OAuth1HmacSha256
from connectors.netsuite import NetSuiteConnector
from sandbox.systems.netsuite._account import Account
from tests.netsuite.conftest import OPEN_DAY, SANDBOX, settings

EMPLOYEE_URL = f"{SANDBOX}/netsuite/services/rest/record/v1/employee/eid:E-1001"
TOKEN_URL = f"{SANDBOX}/netsuite/services/rest/auth/oauth2/v1/token"


def _signer(**overrides: Any) -> OAuth1HmacSha256:
    demo = settings()
    values: dict[str, Any] = {
        "realm": demo.realm,
        "consumer_key": demo.tba_consumer_key,
        "consumer_secret": demo.tba_consumer_secret,
        "token_id": demo.tba_token_id,
        "token_secret": demo.tba_token_secret,
        **overrides,
    }
    return OAuth1HmacSha256(**values)


async def _get(admin: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    return await admin.get(EMPLOYEE_URL, headers=headers)


def _code(response: httpx.Response) -> str:
    return str(response.json()["o:errorDetails"][0]["o:errorCode"])


async def test_a_correct_tba_signature_is_accepted_once(admin: httpx.AsyncClient) -> None:
    signer = _signer(nonce=lambda: "fixed-nonce")
    header = signer.authorization_for(httpx.Request("GET", EMPLOYEE_URL))
    assert (await _get(admin, header)).status_code == 200
    replayed = await _get(admin, header)
    assert (replayed.status_code, _code(replayed)) == (401, "INVALID_LOGIN")
    assert "nonce" in replayed.json()["o:errorDetails"][0]["detail"]


def test_the_account_forgets_nonces_once_they_are_older_than_the_timestamp_window() -> None:
    account = Account()
    for n in range(50_000):  # one busy posting day's worth: each call stays O(1)
        assert account.remember_nonce(("ck", "tok", f"old-{n}"), 1_000, now=1_000, window_s=300)
    assert not account.remember_nonce(("ck", "tok", "old-7"), 1_100, now=1_100, window_s=300)
    assert account.remember_nonce(("ck", "tok", "new"), 1_400, now=1_400, window_s=300)
    assert list(account.nonces) == [("ck", "tok", "new")]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"token_secret": "wrong"}, "signature"),
        ({"consumer_key": "someone-else"}, "consumer key"),
        ({"realm": "OTHER_ACCOUNT"}, "realm"),
        ({"clock": lambda: time.time() - 3600}, "oauth_timestamp"),
    ],
)
async def test_a_bad_tba_header_is_invalid_login(
    admin: httpx.AsyncClient, overrides: dict[str, Any], reason: str
) -> None:
    header = _signer(**overrides).authorization_for(httpx.Request("GET", EMPLOYEE_URL))
    response = await _get(admin, header)
    assert (response.status_code, _code(response)) == (401, "INVALID_LOGIN")
    assert reason in response.json()["o:errorDetails"][0]["detail"]


async def test_a_signature_covers_the_query(admin: httpx.AsyncClient) -> None:
    signed = _signer().authorization_for(httpx.Request("GET", EMPLOYEE_URL + "?fields=id"))
    response = await admin.get(EMPLOYEE_URL + "?fields=email", headers={"Authorization": signed})
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
async def test_no_or_unknown_credentials_are_invalid_login(admin: httpx.AsyncClient, authorization: str | None) -> None:
    response = await _get(admin, authorization)
    assert (response.status_code, _code(response)) == (401, "INVALID_LOGIN")


async def test_m2m_mints_a_token_from_a_signed_assertion(m2m_netsuite: NetSuiteConnector) -> None:
    assert await m2m_netsuite.find_employee("E-1001") is not None
    assert await m2m_netsuite.period_is_open(OPEN_DAY)


async def test_m2m_with_an_unregistered_certificate_is_an_auth_error(
    transport: httpx.ASGITransport, m2m_key: tuple[str, str]
) -> None:
    m2m = settings(auth_mode="m2m", m2m_certificate_id="unknown-kid", m2m_private_key_pem=m2m_key[0])
    async with NetSuiteConnector(m2m, transport=transport) as netsuite:
        with pytest.raises(AuthError, match="unknown-kid"):
            await netsuite.find_employee("E-1001")


async def test_m2m_accepts_a_certificate_and_ec_keys(transport: httpx.ASGITransport, admin: httpx.AsyncClient) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "psflow-demo")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    registered = await admin.post(
        "/_admin/netsuite/m2m-keys", json={"kid": "cert-ec", "public_key_pem": pem, "client_id": "psflow-demo"}
    )
    assert registered.status_code == 201
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    m2m = settings(auth_mode="m2m", m2m_certificate_id="cert-ec", m2m_private_key_pem=private, m2m_algorithm="ES256")
    async with NetSuiteConnector(m2m, transport=transport) as netsuite:
        assert await netsuite.find_employee("E-1001") is not None


@pytest.mark.parametrize(
    ("claims", "algorithm", "error"),
    [
        ({}, "RS256", "invalid_request"),
        ({"iss": "another-client"}, "PS256", "invalid_client"),
        ({"scope": ["restlets"]}, "PS256", "invalid_scope"),
        ({"aud": "https://example.com/token"}, "PS256", "invalid_request"),
        ({"exp": int(time.time()) + 7200}, "PS256", "invalid_request"),
        ({"exp": int(time.time()) - 10}, "PS256", "invalid_client"),
    ],
)
async def test_bad_assertions_are_refused(
    admin: httpx.AsyncClient, m2m_netsuite: NetSuiteConnector, m2m_key: tuple[str, str],
    claims: dict[str, Any], algorithm: str, error: str,
) -> None:  # fmt: skip
    now = int(time.time())
    payload = {"iss": "psflow-demo", "scope": ["rest_webservices"], "aud": TOKEN_URL, "iat": now, "exp": now + 300}
    assertion = jwt.encode({**payload, **claims}, m2m_key[0], algorithm=algorithm, headers={"kid": "kid-1"})
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    response = await admin.post(TOKEN_URL, data=form)
    assert response.status_code in (400, 401) and response.json()["error"] == error


async def test_only_client_credentials_is_granted(admin: httpx.AsyncClient) -> None:
    response = await admin.post(TOKEN_URL, data={"grant_type": "password"})
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")
