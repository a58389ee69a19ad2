"""Bearer-token authentication: static tokens and the OAuth 2.0 token lifecycle.

Every OAuth 2.0 scheme shares one lifecycle (`OAuth2TokenAuth`): the token is cached with its
expiry and replaced ``refresh_margin`` seconds before it runs out; a 401 replaces it once and
replays the request once — a second 401 is returned to the caller, never looped on. Concurrent
requests that find the token stale share one refresh. The grants themselves live in `_grants`.
"""

from __future__ import annotations

import abc
import asyncio
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

import httpx
from pydantic import SecretStr

from connectors._core._classify import classify, classify_exception
from connectors._core._errors import AuthError, Outcome, error_for
from connectors._core._redact import redact, register_secret

__all__ = [
    "OAuth2TokenAuth",
    "StaticBearerAuth",
    "Token",
    "TokenOptions",
]

Secret = str | SecretStr
"""A credential given as plain text or as a pydantic `SecretStr` from settings."""


class TokenOptions(TypedDict, total=False):
    """Keyword options every OAuth 2.0 scheme passes on to `OAuth2TokenAuth`."""

    refresh_margin: float
    system: str | None
    timeout: float
    clock: Callable[[], float]


def reveal(value: Secret) -> str:
    """The plain value of a credential."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class _SharedTransport(httpx.AsyncBaseTransport):
    """Lends the connector's transport to a short-lived token client without letting it close it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        return None


class StaticBearerAuth(httpx.Auth):
    """Sends a fixed ``Authorization: Bearer`` token (HubSpot private apps, Kantata).

    Args:
        token: The access token.
    """

    def __init__(self, token: Secret) -> None:
        self._token = reveal(token)
        register_secret(self._token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the bearer header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass
class Token:
    """An access token and what came with it.

    Attributes:
        access_token: The bearer token.
        expires_at: When it expires, in `time.monotonic` seconds; `None` if the server did not say.
        extra: The rest of the token response (``instance_url``, ``scope``, ``token_type`` …),
            without tokens.
        refresh_token: A refresh token, when the response carried one (rotation).
    """

    access_token: str = field(repr=False)
    expires_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    refresh_token: str | None = field(default=None, repr=False)


class OAuth2TokenAuth(httpx.Auth, abc.ABC):
    """Base for OAuth 2.0 schemes: subclasses implement `fetch_token`.

    Args:
        transport: Transport for token requests; `None` adopts the connector's (see `bind`), so
            an in-process emulator serves the token endpoint too.
        refresh_margin: Seconds before expiry at which the token is replaced.
        system: Label for errors; `None` adopts the connector's.
        timeout: Timeout of token requests, in seconds.
        clock: Monotonic clock (tests substitute their own).
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        refresh_margin: float = 60.0,
        system: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self.refresh_margin = refresh_margin
        self._system = system
        self._timeout = timeout
        self._clock = clock
        self._token: Token | None = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self.fetch_count = 0
        """How many tokens this instance has fetched (for tests and diagnostics)."""

    @property
    def system(self) -> str:
        """The label used in errors."""
        return self._system or "oauth2"

    def bind(self, *, system: str, transport: httpx.AsyncBaseTransport | None) -> None:
        """Adopt a connector's system label and transport where none were given explicitly."""
        if self._system is None:
            self._system = system
        if self._transport is None:
            self._transport = transport

    @abc.abstractmethod
    async def fetch_token(self, client: httpx.AsyncClient) -> Token:
        """Obtain a new token from the authorization server.

        Args:
            client: A client over the token transport; closed after the call.

        Raises:
            AuthError: The server refused the grant.
            TransientError: The server could not be reached or failed.
        """

    async def current_token(self) -> Token:
        """The cached token, refreshed first if it is missing or about to expire.

        Connectors call this when they need something from the token response before the first
        request, e.g. Salesforce's ``instance_url``.
        """
        token = self._token
        if token is not None and self._is_fresh(token):
            return token
        return await self._refresh(stale=token)

    def invalidate(self) -> None:
        """Drop the cached token; the next request fetches a new one."""
        self._token = None

    def apply(self, request: httpx.Request, token: Token) -> None:
        """Put the token on the request (``Authorization: Bearer``); override for other schemes."""
        request.headers["Authorization"] = f"Bearer {token.access_token}"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Authenticate `request`; on a 401, refresh once and replay once."""
        token = await self.current_token()
        self.apply(request, token)
        response = yield request
        if response.status_code != 401:
            return
        token = await self._refresh(stale=token)
        self.apply(request, token)
        yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Not supported: token refresh needs the async client."""
        raise RuntimeError(f"{type(self).__name__} works with httpx.AsyncClient only")

    async def request_token(
        self,
        client: httpx.AsyncClient,
        token_url: str,
        form: Mapping[str, str],
        *,
        basic_auth: tuple[str, str] | None = None,
    ) -> Token:
        """POST a form-encoded grant and read a standard token response.

        Args:
            client: The token client given to `fetch_token`.
            token_url: The token endpoint.
            form: The grant parameters.
            basic_auth: ``(client_id, client_secret)`` to send as HTTP Basic instead of in the form.

        Returns:
            The token, with ``expires_at`` from ``expires_in`` when present.

        Raises:
            AuthError: The endpoint refused the grant (its ``error``/``error_description``, redacted).
            TransientError: The endpoint was unreachable, throttled or failing.
        """
        try:
            response = await client.post(
                token_url,
                data=dict(form),
                auth=httpx.BasicAuth(*basic_auth) if basic_auth else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise classify_exception(self.system, exc) from exc
        classification = classify(response)
        if classification.outcome in (Outcome.TRANSIENT, Outcome.RATE_LIMITED):
            raise error_for(self.system, classification, method="POST", url=token_url)
        if classification.outcome is not Outcome.SUCCESS:
            raise AuthError(
                self.system,
                f"token request refused: {classification.message}",
                status=classification.status,
                code=classification.code,
                method="POST",
                url=token_url,
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise AuthError(
                self.system,
                f"token response has no access_token: {redact(response.text[:200])}",
                status=response.status_code,
                method="POST",
                url=token_url,
            )
        register_secret(payload["access_token"], payload.get("refresh_token"), payload.get("id_token"))
        refresh_token = payload.get("refresh_token")
        return Token(
            access_token=payload["access_token"],
            expires_at=self._expiry(payload.get("expires_in")),
            extra={k: v for k, v in payload.items() if k not in ("access_token", "refresh_token", "id_token")},
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        )

    def _expiry(self, expires_in: Any) -> float | None:
        try:
            seconds = float(expires_in)
        except (TypeError, ValueError):
            return None
        return self._clock() + seconds

    def _is_fresh(self, token: Token) -> bool:
        return token.expires_at is None or token.expires_at - self.refresh_margin > self._clock()

    def _lock(self) -> asyncio.Lock:
        # asyncio.Lock binds to the loop that first waits on it; keep one per loop.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def _refresh(self, stale: Token | None) -> Token:
        async with self._lock():
            current = self._token
            if current is not None and current is not stale and self._is_fresh(current):
                return current  # another request refreshed while we waited
            transport = _SharedTransport(self._transport) if self._transport is not None else None
            async with httpx.AsyncClient(transport=transport, timeout=self._timeout) as client:
                token = await self.fetch_token(client)
            self.fetch_count += 1
            self._token = token
            return token
