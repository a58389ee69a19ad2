import asyncio
import base64
import json
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors._core import (
    CLIENT_ASSERTION_TYPE_JWT_BEARER,
    AuthError,
    OAuth2ClientCredentials,
    OAuth2JwtBearerAssertion,
    OAuth2RefreshToken,
    RestClient,
    StaticBearerAuth,
    TransientError,
)

TOKEN_URL = "https://login.example.test/oauth/token"


class FakeAuthServer:
    """A token endpoint plus one protected resource that accepts only the newest token."""

    def __init__(self, *, expires_in: int | None = 3600, token_delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.token_delay = token_delay
        self.issued: list[str] = []
        self.token_forms: list[dict[str, str]] = []
        self.token_headers: list[httpx.Headers] = []
        self.resource_auth: list[str | None] = []
        self.revoked: set[str] = set()
        self.token_status = 200
        self.token_error: dict[str, str] = {}
        self.always_401 = False
        self.rotate_refresh = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return await self._token(request)
        auth = request.headers.get("Authorization")
        self.resource_auth.append(auth)
        token = (auth or "").removeprefix("Bearer ")
        if self.always_401 or token not in self.issued or token in self.revoked:
            return httpx.Response(
                401, json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
            )
        return httpx.Response(200, json={"ok": True, "token": token})

    async def _token(self, request: httpx.Request) -> httpx.Response:
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        self.token_forms.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        self.token_headers.append(request.headers)
        if self.token_status != 200:
            return httpx.Response(self.token_status, json=self.token_error)
        token = f"access-{len(self.issued) + 1:04d}"
        self.issued.append(token)
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "instance_url": "https://org.example.test",
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if self.rotate_refresh:
            body["refresh_token"] = f"refresh-rotated-{len(self.issued)}"
        return httpx.Response(200, json=body)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(server: FakeAuthServer, auth: httpx.Auth) -> RestClient:
    return RestClient(
        "salesforce", base_url="https://org.example.test", auth=auth, transport=httpx.MockTransport(server)
    )


async def test_client_credentials_token_cached() -> None:
    server = FakeAuthServer()
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1", scope="api")
    async with _client(server, auth) as client:
        for _ in range(3):
            assert (await client.get_json("/data"))["token"] == "access-0001"
    assert server.token_forms == [
        {"grant_type": "client_credentials", "scope": "api", "client_id": "cid", "client_secret": "client-secret-1"}
    ]
    token = await auth.current_token()
    assert token.extra["instance_url"] == "https://org.example.test"
    assert "access-0001" not in repr(token)


async def test_401_refreshes_once_and_replays() -> None:
    server = FakeAuthServer()
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1")
    async with _client(server, auth) as client:
        await client.get_json("/data")
        server.revoked.add("access-0001")
        body = await client.get_json("/data")
    assert body["token"] == "access-0002"
    assert auth.fetch_count == 2
    assert server.resource_auth == ["Bearer access-0001", "Bearer access-0001", "Bearer access-0002"]


async def test_no_loop_when_refreshed_token_also_gets_401() -> None:
    server = FakeAuthServer()
    server.always_401 = True
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1")
    async with _client(server, auth) as client:
        with pytest.raises(AuthError) as caught:
            await client.get_json("/data")
    assert auth.fetch_count == 2
    assert len(server.resource_auth) == 2
    assert caught.value.status == 401
    assert caught.value.code == "INVALID_SESSION_ID"
    assert str(caught.value).startswith("salesforce: HTTP 401 INVALID_SESSION_ID")


async def test_proactive_refresh_before_expiry() -> None:
    server, clock = FakeAuthServer(expires_in=3600), Clock()
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1", clock=clock, refresh_margin=60)
    async with _client(server, auth) as client:
        await client.get_json("/data")
        clock.now += 3600 - 61
        await client.get_json("/data")
        assert auth.fetch_count == 1
        clock.now += 2
        assert (await client.get_json("/data"))["token"] == "access-0002"
    assert auth.fetch_count == 2
    # The stale token was replaced before use, so the resource never saw a rejected token.
    assert server.resource_auth == ["Bearer access-0001", "Bearer access-0001", "Bearer access-0002"]


async def test_token_without_expiry_is_kept_until_401() -> None:
    server, clock = FakeAuthServer(expires_in=None), Clock()
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1", clock=clock)
    async with _client(server, auth) as client:
        await client.get_json("/data")
        clock.now += 10 * 24 * 3600
        await client.get_json("/data")
    assert auth.fetch_count == 1


async def test_concurrent_requests_share_one_fetch_and_one_refresh() -> None:
    server = FakeAuthServer(token_delay=0.05)
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1")
    async with _client(server, auth) as client:
        await asyncio.gather(*(client.get_json("/data") for _ in range(20)))
        assert auth.fetch_count == 1
        server.revoked.add("access-0001")
        results = await asyncio.gather(*(client.get_json("/data") for _ in range(20)))
    assert auth.fetch_count == 2
    assert {r["token"] for r in results} == {"access-0002"}


async def test_token_endpoint_refusal_is_auth_error_with_description_redacted() -> None:
    server = FakeAuthServer()
    server.token_status = 400
    server.token_error = {"error": "invalid_client", "error_description": "bad secret client-secret-zz9 for cid"}
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-zz9")
    async with _client(server, auth) as client:
        with pytest.raises(AuthError) as caught:
            await client.get_json("/data")
    error = caught.value
    assert error.code == "invalid_client"
    assert error.system == "salesforce"
    assert "bad secret" in error.message
    assert "client-secret-zz9" not in str(error)
    assert server.resource_auth == []


async def test_token_endpoint_outage_is_transient() -> None:
    server = FakeAuthServer()
    server.token_status = 503
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1")
    async with _client(server, auth) as client:
        with pytest.raises(TransientError):
            await client.get_json("/data")


async def test_token_endpoint_unreachable_is_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1", transport=httpx.MockTransport(refuse))
    async with _client(FakeAuthServer(), auth) as client:
        with pytest.raises(TransientError, match="connect"):
            await client.get_json("/data")


async def test_basic_client_authentication() -> None:
    server = FakeAuthServer()
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1", client_auth="basic")
    async with _client(server, auth) as client:
        await client.get_json("/data")
    assert server.token_forms == [{"grant_type": "client_credentials"}]
    expected = base64.b64encode(b"cid:client-secret-1").decode()
    assert server.token_headers[0]["Authorization"] == f"Basic {expected}"


async def test_refresh_token_grant_and_rotation() -> None:
    server = FakeAuthServer()
    server.rotate_refresh = True
    auth = OAuth2RefreshToken(TOKEN_URL, "cid", "client-secret-1", "refresh-original")
    async with _client(server, auth) as client:
        await client.get_json("/data")
        server.revoked.add("access-0001")
        await client.get_json("/data")
    assert [f["refresh_token"] for f in server.token_forms] == ["refresh-original", "refresh-rotated-1"]
    assert server.token_forms[0]["grant_type"] == "refresh_token"
    assert auth.refresh_token == "refresh-rotated-2"


async def test_jwt_bearer_assertion_is_a_valid_ps256_jwt() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    server = FakeAuthServer()
    auth = OAuth2JwtBearerAssertion(
        TOKEN_URL, "netsuite-client", pem.decode(), "cert-kid-1", None, ["restlets", "rest_webservices"]
    )
    async with _client(server, auth) as client:
        await client.get_json("/data")
    form = server.token_forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE_JWT_BEARER
    assertion = form["client_assertion"]
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == "PS256" and header["kid"] == "cert-kid-1" and header["typ"] == "JWT"
    claims = jwt.decode(assertion, key.public_key(), algorithms=["PS256"], audience=TOKEN_URL)
    assert claims["iss"] == "netsuite-client"
    assert claims["scope"] == ["restlets", "rest_webservices"]
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(assertion, other.public_key(), algorithms=["PS256"], audience=TOKEN_URL)


def test_jwt_bearer_rejects_a_bad_key() -> None:
    with pytest.raises(ValueError, match="not an unencrypted PEM key"):
        OAuth2JwtBearerAssertion(TOKEN_URL, "c", "not a key", "kid", None, "rest_webservices")


class ClosingCounter(httpx.MockTransport):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1


async def test_token_requests_reuse_the_connector_transport_without_closing_it() -> None:
    server = FakeAuthServer()
    transport = ClosingCounter(server)
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1")
    client = RestClient("hubspot", base_url="https://api.example.test", auth=auth, transport=transport)
    await client.get_json("/data")
    server.revoked.add("access-0001")
    await client.get_json("/data")
    assert transport.closed == 0
    assert len(server.token_forms) == 2
    await client.aclose()
    assert transport.closed == 1


async def test_over_asgi_transport() -> None:
    async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        if scope["path"] == "/oauth/token":
            payload = {"access_token": "asgi-token-1", "expires_in": 3600}
        elif headers.get(b"authorization") == b"Bearer asgi-token-1":
            payload = {"ok": True}
        else:
            payload = {"error": "unauthorised"}
        data = json.dumps(payload).encode()
        status = 200 if "error" not in payload else 401
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": data})

    auth = OAuth2ClientCredentials("http://emulator/oauth/token", "cid", "client-secret-1")
    async with RestClient(
        "kantata", base_url="http://emulator", auth=auth, transport=httpx.ASGITransport(app)
    ) as client:
        assert await client.get_json("/api/v1/workspaces.json") == {"ok": True}


async def test_static_bearer() -> None:
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={})

    async with RestClient(
        "kantata",
        base_url="https://k.test",
        auth=StaticBearerAuth("static-token-1"),
        transport=httpx.MockTransport(api),
    ) as client:
        await client.get_json("/x")
    assert seen == ["Bearer static-token-1"]


def test_oauth2_refuses_sync_clients() -> None:
    auth = OAuth2ClientCredentials(TOKEN_URL, "cid", "client-secret-1")
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    with httpx.Client(auth=auth, transport=transport) as client, pytest.raises(RuntimeError, match="AsyncClient"):
        client.get("https://x.test/")
