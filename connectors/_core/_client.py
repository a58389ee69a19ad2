"""`RestClient`: the one HTTP client every connector builds its endpoint methods on."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, TypedDict, Unpack

import httpx

from connectors._core._auth import OAuth2TokenAuth
from connectors._core._budget import BudgetTransport, RateBudget
from connectors._core._classify import ErrorParser, Rule, classify, classify_exception, default_error_parser
from connectors._core._errors import Outcome, PermanentError, error_for
from connectors._core._oauth1 import OAuth1HmacSha256
from connectors._core._observe import ObservedTransport, sending
from connectors._core._redact import RedactingFilter, redact
from connectors._core._retry import (
    DEFAULT_IDEMPOTENCY_HEADERS,
    DEFAULT_RETRY,
    READ_ONLY_EXTENSION,
    REPLAYABLE_EXTENSION,
    RetryConfig,
    RetryTransport,
)

__all__ = ["RestClient"]

logger = logging.getLogger(__name__)
logger.addFilter(RedactingFilter())

_USER_AGENT = "psflow-connector/0.1"


class SendOptions(TypedDict, total=False):
    """What `RestClient.post_json` and `put_json` pass on to `RestClient.request`."""

    params: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    idempotency_key: str | None
    idempotency_header: str
    idempotent: bool | None
    read_only: bool


_MAX_DETAIL_TEXT = 2000


class RestClient:
    """An async JSON-over-HTTP client with the connector policy built in.

    Requests pass, outermost first: auth (token, refresh-once-on-401) → `BudgetTransport` (the
    system's shared rate/concurrency budget) → `RetryTransport` (cheap transients only) → the
    given transport or a real `httpx.AsyncHTTPTransport`. Responses that are not successes
    raise the classified `ConnectorError`; transport failures raise `TransientError`.

    Args:
        system: The system label carried by every error and log line, e.g. ``"netsuite"``.
        base_url: Prefix for relative URLs. httpx appends a leading-slash path to the base path,
            so pass absolute URLs for links the server returns with a full path.
        auth: Authentication; OAuth 2.0 schemes adopt this client's transport and label.
        transport: The innermost transport (an ASGI emulator or `httpx.MockTransport` in tests).
        budget: The system's rate budget; usually `RateBudget.shared(system, ...)`.
        retry: In-process retry bounds; `None` disables the retry layer.
        timeout: Seconds for connect, read, write and pool waits.
        headers: Headers sent on every request.
        parse_error: Reads the system's error body into (code, message).
        rules: System-specific classification overrides.
        idempotency_header_names: Headers that mark a request as safe to retry.
    """

    def __init__(
        self,
        system: str,
        *,
        base_url: str,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        budget: RateBudget | None = None,
        retry: RetryConfig | None = DEFAULT_RETRY,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        parse_error: ErrorParser = default_error_parser,
        rules: Sequence[Rule] = (),
        idempotency_header_names: Collection[str] = DEFAULT_IDEMPOTENCY_HEADERS,
    ) -> None:
        self.system = system
        self.budget = budget
        self._parse_error = parse_error
        self._rules = tuple(rules)
        self._idempotency_header_names = tuple(idempotency_header_names)
        innermost = transport if transport is not None else httpx.AsyncHTTPTransport()
        stack: httpx.AsyncBaseTransport = ObservedTransport(innermost, system)
        if retry is not None:
            stack = RetryTransport(
                stack,
                retry,
                idempotency_header_names=self._idempotency_header_names,
                on_throttle=budget.penalise if budget is not None else None,
                before_resend=auth.sign if isinstance(auth, OAuth1HmacSha256) else None,
            )
        if budget is not None:
            stack = BudgetTransport(stack, budget)
        if isinstance(auth, OAuth2TokenAuth):
            auth.bind(system=system, transport=innermost)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            transport=stack,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": _USER_AGENT, **(headers or {})},
        )

    @property
    def base_url(self) -> httpx.URL:
        """The base URL relative request URLs are resolved against."""
        return self._client.base_url

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotency_header: str = "Idempotency-Key",
        idempotent: bool | None = None,
        read_only: bool = False,
        allow: Collection[int] = (),
    ) -> httpx.Response:
        """Send a request and return the response if it succeeded.

        Args:
            method: The HTTP method.
            url: Relative to `base_url`, or absolute.
            json: A JSON body.
            params: Query parameters.
            data: A form body.
            content: A raw body.
            headers: Extra headers for this request.
            idempotency_key: A deterministic key for the write; sent as `idempotency_header` and
                makes the request safe to retry.
            idempotency_header: The header the system reads the key from
                (e.g. ``"X-NetSuite-Idempotency-Key"``).
            idempotent: Overrides the retry-safety decision, e.g. `True` for an upsert sent as PATCH.
            read_only: The request changes nothing although its method could (a query sent as POST):
                it is retried in-process like a GET, on every transient status.
            allow: Non-2xx statuses to return instead of raising (e.g. ``{404}``, ``{300}``).

        Returns:
            The response, body read.

        Raises:
            ConnectorError: The classified failure; `TransientError` for transport failures.
        """
        request_headers = dict(headers or {})
        extensions: dict[str, Any] = {}
        if idempotency_key is not None:
            request_headers[idempotency_header] = idempotency_key
            extensions[REPLAYABLE_EXTENSION] = True
        if idempotent is not None:
            extensions[REPLAYABLE_EXTENSION] = idempotent
        if read_only:
            extensions[READ_ONLY_EXTENSION] = True
        request = self._client.build_request(
            method,
            url,
            json=json,
            params=params,
            data=data,
            content=content,
            headers=request_headers,
            extensions=extensions,
        )
        started = time.perf_counter()
        try:
            with sending(self.system, request.method, request.url.host):
                response = await self._client.send(request)
        except httpx.TransportError as exc:
            self._log(request, f"failed: {type(exc).__name__}", started)
            raise classify_exception(self.system, exc) from exc
        self._log(request, str(response.status_code), started)
        if response.status_code in allow:
            return response
        classification = classify(response, parse_error=self._parse_error, rules=self._rules)
        if classification.outcome is Outcome.SUCCESS:
            return response
        raise error_for(
            self.system,
            classification,
            details=_error_details(response),
            method=request.method,
            url=str(request.url),
        )

    async def get_json(
        self, url: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """GET and decode the JSON body (`None` for an empty body)."""
        response = await self.request("GET", url, params=params, headers=headers)
        return self.decode_json(response)

    async def post_json(self, url: str, json: Any = None, **options: Unpack[SendOptions]) -> Any:
        """POST a JSON body and decode the JSON reply; see `request` for the idempotency and read-only options."""
        return self.decode_json(await self.request("POST", url, json=json, **options))

    async def put_json(self, url: str, json: Any = None, **options: Unpack[SendOptions]) -> Any:
        """PUT a JSON body and decode the JSON reply (`None` for 204)."""
        return self.decode_json(await self.request("PUT", url, json=json, **options))

    async def delete(
        self, url: str, *, params: Mapping[str, Any] | None = None, allow: Collection[int] = ()
    ) -> httpx.Response:
        """DELETE; pass ``allow={404}`` to treat an already-deleted record as done."""
        return await self.request("DELETE", url, params=params, allow=allow)

    def decode_json(self, response: httpx.Response) -> Any:
        """The JSON body of `response`, or `None` when it has no body.

        Raises:
            PermanentError: The body is not JSON (a proxy page, a wrong base URL).
        """
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            snippet = " ".join(response.text.split())[:200]
            raise PermanentError(
                self.system,
                f"expected a JSON body, got {response.headers.get('Content-Type', 'no content type')}: {snippet}",
                status=response.status_code,
                code="invalid_json",
                method=response.request.method,
                url=str(response.request.url),
            ) from exc

    async def aclose(self) -> None:
        """Close the client and its transports."""
        await self._client.aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _log(self, request: httpx.Request, outcome: str, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s %s -> %s in %.1f ms",
                self.system,
                request.method,
                redact(str(request.url)),
                outcome,
                (time.perf_counter() - started) * 1000,
            )


def _error_details(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:_MAX_DETAIL_TEXT] or None
