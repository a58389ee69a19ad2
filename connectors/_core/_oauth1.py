"""OAuth 1.0a request signing (RFC 5849) with HMAC-SHA256: NetSuite token-based authentication.

There is no token to refresh: each request carries a fresh nonce and timestamp and its own
signature over the method, the URL and the parameters. The pure functions here are the whole
algorithm, so a verifier (an emulator) can recompute a signature from a received request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
from pydantic import SecretStr

from connectors._core._auth import reveal
from connectors._core._redact import register_secret

__all__ = [
    "OAuth1HmacSha256",
    "oauth1_authorization_header",
    "oauth1_percent_encode",
    "oauth1_sign",
    "oauth1_signature_base_string",
    "parse_oauth1_header",
]

_DIGESTS = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEADER_PARAM = re.compile(r'([A-Za-z0-9_\-.~%]+)="([^"]*)"')


def oauth1_percent_encode(value: str) -> str:
    """RFC 5849 §3.6 encoding: UTF-8, everything but ``A-Z a-z 0-9 - . _ ~`` as ``%XX``."""
    return quote(value, safe="-._~")


def oauth1_signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature base string of RFC 5849 §3.4.1.

    Args:
        method: The HTTP method.
        url: The full request URL; its query parameters are included in the signature.
        params: The ``oauth_*`` protocol parameters (without ``realm`` and ``oauth_signature``)
            plus any ``application/x-www-form-urlencoded`` body parameters, decoded.

    Returns:
        ``METHOD&encoded-base-uri&encoded-normalized-parameters``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    authority = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    base_uri = f"{scheme}://{authority}{parts.path or '/'}"
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), *params]
    encoded = sorted((oauth1_percent_encode(k), oauth1_percent_encode(v)) for k, v in pairs)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join((method.upper(), oauth1_percent_encode(base_uri), oauth1_percent_encode(normalized)))


def oauth1_sign(base_string: str, consumer_secret: str, token_secret: str, *, method: str = "HMAC-SHA256") -> str:
    """Sign a base string (RFC 5849 §3.4.2) and return the base64 signature.

    Args:
        base_string: From `oauth1_signature_base_string`.
        consumer_secret: The consumer (integration) secret.
        token_secret: The token secret.
        method: ``"HMAC-SHA256"`` or ``"HMAC-SHA1"``.
    """
    digest = _DIGESTS.get(method)
    if digest is None:
        raise ValueError(f"unsupported OAuth 1.0a signature method {method!r}; use one of {sorted(_DIGESTS)}")
    key = f"{oauth1_percent_encode(consumer_secret)}&{oauth1_percent_encode(token_secret)}"
    mac = hmac.new(key.encode(), base_string.encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def oauth1_authorization_header(realm: str | None, params: Mapping[str, str]) -> str:
    """Format an ``Authorization: OAuth …`` header value from its parameters (signature included)."""
    items = [f'realm="{realm}"'] if realm is not None else []
    items += [f'{oauth1_percent_encode(k)}="{oauth1_percent_encode(v)}"' for k, v in params.items()]
    return "OAuth " + ", ".join(items)


def parse_oauth1_header(value: str) -> dict[str, str]:
    """Read an ``Authorization: OAuth …`` header into its decoded parameters (``realm`` included).

    Raises:
        ValueError: If the value is not an OAuth header.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        raise ValueError(f"not an OAuth 1.0a Authorization header: scheme {scheme!r}")
    return {unquote(k): unquote(v) for k, v in _HEADER_PARAM.findall(rest)}


class OAuth1HmacSha256(httpx.Auth):
    """NetSuite token-based authentication: an OAuth 1.0a HMAC-SHA256 signature on every request.

    Args:
        realm: The NetSuite account id as the realm (``1234567_SB1``).
        consumer_key: The integration record's consumer key.
        consumer_secret: The integration record's consumer secret.
        token_id: The access token id.
        token_secret: The access token secret.
        nonce: Nonce factory (tests substitute a fixed one).
        clock: Unix-time clock for ``oauth_timestamp``.
    """

    # Form-encoded bodies are part of the signature, so httpx must hand the body over first.
    requires_request_body = True

    def __init__(
        self,
        realm: str,
        consumer_key: str,
        consumer_secret: str | SecretStr,
        token_id: str,
        token_secret: str | SecretStr,
        *,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.realm = realm
        self.consumer_key = consumer_key
        self.token_id = token_id
        self._consumer_secret = reveal(consumer_secret)
        self._token_secret = reveal(token_secret)
        self._nonce = nonce
        self._clock = clock
        register_secret(self._consumer_secret, self._token_secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign the request and add the ``Authorization: OAuth`` header."""
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """(Re-)sign `request` in place; a resent request needs a new nonce, or the server rejects a replay."""
        request.headers["Authorization"] = self.authorization_for(request)

    def authorization_for(self, request: httpx.Request) -> str:
        """The ``Authorization`` header value for `request`, with a fresh nonce and timestamp."""
        oauth = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_token": self.token_id,
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": str(int(self._clock())),
            "oauth_nonce": self._nonce(),
            "oauth_version": "1.0",
        }
        body_params: list[tuple[str, str]] = []
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            body_params = parse_qsl(request.content.decode(), keep_blank_values=True)
        base_string = oauth1_signature_base_string(request.method, str(request.url), [*oauth.items(), *body_params])
        oauth["oauth_signature"] = oauth1_sign(base_string, self._consumer_secret, self._token_secret)
        return oauth1_authorization_header(self.realm, oauth)
