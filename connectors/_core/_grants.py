"""The OAuth 2.0 grants the connectors use, on top of the shared token lifecycle of `OAuth2TokenAuth`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal, Unpack

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from connectors._core._auth import OAuth2TokenAuth, Secret, Token, TokenOptions, reveal
from connectors._core._redact import register_secret

__all__ = [
    "CLIENT_ASSERTION_TYPE_JWT_BEARER",
    "OAuth2ClientCredentials",
    "OAuth2JwtBearerAssertion",
    "OAuth2RefreshToken",
]

CLIENT_ASSERTION_TYPE_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

ClientAuthMethod = Literal["body", "basic"]


class _ClientSecretGrant(OAuth2TokenAuth):
    """A grant authenticated by client id and secret, in the form body or as HTTP Basic."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        transport: httpx.AsyncBaseTransport | None,
        client_auth: ClientAuthMethod,
        options: TokenOptions,
    ) -> None:
        super().__init__(transport=transport, **options)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = reveal(client_secret)
        self.client_auth = client_auth
        register_secret(self._client_secret)

    async def _post_grant(self, client: httpx.AsyncClient, form: dict[str, str]) -> Token:
        if self.client_auth == "basic":
            return await self.request_token(
                client, self.token_url, form, basic_auth=(self.client_id, self._client_secret)
            )
        form = {**form, "client_id": self.client_id, "client_secret": self._client_secret}
        return await self.request_token(client, self.token_url, form)


class OAuth2ClientCredentials(_ClientSecretGrant):
    """The ``client_credentials`` grant (Salesforce, Business Central, HubSpot server apps).

    Args:
        token_url: The token endpoint.
        client_id: The client id.
        client_secret: The client secret.
        scope: Space-separated scopes, if the server wants them.
        transport: Token transport; see `OAuth2TokenAuth`.
        client_auth: ``"body"`` sends the credentials as form fields, ``"basic"`` as HTTP Basic.
        **options: `OAuth2TokenAuth` options (``refresh_margin``, ``system``, ``timeout``, ``clock``).
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        scope: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        client_auth: ClientAuthMethod = "body",
        **options: Unpack[TokenOptions],
    ) -> None:
        super().__init__(token_url, client_id, client_secret, transport, client_auth, options)
        self.scope = scope

    async def fetch_token(self, client: httpx.AsyncClient) -> Token:
        """Request a token with the client's own credentials."""
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        return await self._post_grant(client, form)


class OAuth2RefreshToken(_ClientSecretGrant):
    """The ``refresh_token`` grant (Workday integrations, HubSpot and Salesforce connected apps).

    A new refresh token in the response replaces the old one (rotation).

    Args:
        token_url: The token endpoint.
        client_id: The client id.
        client_secret: The client secret.
        refresh_token: The long-lived refresh token.
        transport: Token transport; see `OAuth2TokenAuth`.
        client_auth: ``"body"`` or ``"basic"``, as for `OAuth2ClientCredentials`.
        **options: `OAuth2TokenAuth` options.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        refresh_token: Secret,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        client_auth: ClientAuthMethod = "body",
        **options: Unpack[TokenOptions],
    ) -> None:
        super().__init__(token_url, client_id, client_secret, transport, client_auth, options)
        self._refresh_token = reveal(refresh_token)
        register_secret(self._refresh_token)

    @property
    def refresh_token(self) -> str:
        """The current refresh token (changes when the server rotates it)."""
        return self._refresh_token

    async def fetch_token(self, client: httpx.AsyncClient) -> Token:
        """Exchange the refresh token for an access token."""
        token = await self._post_grant(client, {"grant_type": "refresh_token", "refresh_token": self._refresh_token})
        if token.refresh_token:
            self._refresh_token = token.refresh_token
        return token


class OAuth2JwtBearerAssertion(OAuth2TokenAuth):
    """``client_credentials`` with a signed JWT client assertion (NetSuite OAuth 2.0 M2M).

    Each token request carries a fresh assertion signed with the private key whose certificate
    is registered with the server under `key_id`.

    Args:
        token_url: The token endpoint.
        client_id: The client id; the JWT ``iss``.
        private_key_pem: The PEM-encoded private key (RSA for PS256/RS256, EC for ES256).
        key_id: The certificate id; the JWT header ``kid``.
        audience: The JWT ``aud``; `None` uses `token_url`.
        scope: The JWT ``scope`` claim, a string or a list (NetSuite: ``["rest_webservices"]``).
        algorithm: The JWS algorithm.
        transport: Token transport; see `OAuth2TokenAuth`.
        assertion_lifetime_s: Seconds until the assertion's ``exp`` (at most 3600).
        **options: `OAuth2TokenAuth` options.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key_pem: Secret | bytes,
        key_id: str,
        audience: str | None,
        scope: str | Sequence[str],
        algorithm: str = "PS256",
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        assertion_lifetime_s: int = 300,
        **options: Unpack[TokenOptions],
    ) -> None:
        super().__init__(transport=transport, **options)
        if not 0 < assertion_lifetime_s <= 3600:
            raise ValueError(f"assertion_lifetime_s must be in (0, 3600], got {assertion_lifetime_s}")
        pem = private_key_pem if isinstance(private_key_pem, bytes) else reveal(private_key_pem).encode()
        try:
            key = load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"private_key_pem for client {client_id!r} is not an unencrypted PEM key") from exc
        if not isinstance(key, RSAPrivateKey | EllipticCurvePrivateKey | Ed25519PrivateKey | Ed448PrivateKey):
            raise ValueError(f"private_key_pem for client {client_id!r} is a {type(key).__name__}, not a JWS key")
        self._private_key = key
        self.token_url = token_url
        self.client_id = client_id
        self.key_id = key_id
        self.audience = audience or token_url
        self.scope: str | list[str] = scope if isinstance(scope, str) else list(scope)
        self.algorithm = algorithm
        self.assertion_lifetime_s = assertion_lifetime_s

    def build_assertion(self, now: float | None = None) -> str:
        """A signed client assertion (``iss``, ``scope``, ``aud``, ``iat``, ``exp``).

        Args:
            now: Issue time in Unix seconds (defaults to the wall clock).
        """
        issued_at = int(now if now is not None else time.time())
        claims = {
            "iss": self.client_id,
            "scope": self.scope,
            "aud": self.audience,
            "iat": issued_at,
            "exp": issued_at + self.assertion_lifetime_s,
        }
        return jwt.encode(
            claims,
            self._private_key,
            algorithm=self.algorithm,
            headers={"kid": self.key_id, "typ": "JWT"},
        )

    async def fetch_token(self, client: httpx.AsyncClient) -> Token:
        """Request a token with a fresh signed assertion."""
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
            "client_assertion": self.build_assertion(),
        }
        return await self.request_token(client, self.token_url, form)
