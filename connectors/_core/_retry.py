"""In-process retries of cheap transients — and nothing else.

The connector is the inner of two retry layers: it smooths over a dropped connection or a short
503/429 within a few hundred milliseconds. Anything longer (a long ``Retry-After``, an outage)
is handed back as a response or exception, classified by the caller, and retried by Temporal
with its own backoff. Retrying in both places would multiply attempts, so this layer stops
early and never retries a request that could create a duplicate.

Which statuses are worth another attempt depends on what the request does:

- a **read** (GET, HEAD, OPTIONS, or a query sent as POST and marked `READ_ONLY_EXTENSION`, such
  as SuiteQL) has no effect to repeat: every status the classification table calls TRANSIENT
  or RATE_LIMITED is retried (500 included), as are timeouts;
- a **write safe to repeat** (PUT, DELETE, or a request with an idempotency key) is retried only
  on `RetryConfig.retry_statuses` (502, 503, 504, 429). A 500 to a write is as often the write's
  own doing (a script that fails on this record) as a passing fault, and the caller — with its
  ledger or read-back — knows better what to send again;
- any other request only when the connection failed before anything was sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import httpx

from connectors._core._classify import parse_retry_after, retryable_status
from connectors._core._redact import RedactingFilter, redact

__all__ = [
    "DEFAULT_IDEMPOTENCY_HEADERS",
    "DEFAULT_RETRY",
    "READ_ONLY_EXTENSION",
    "REPLAYABLE_EXTENSION",
    "THROTTLE_STATUSES",
    "RetryConfig",
    "RetryTransport",
    "is_read_only",
    "is_replayable",
]

logger = logging.getLogger(__name__)
logger.addFilter(RedactingFilter())

DEFAULT_IDEMPOTENCY_HEADERS = ("Idempotency-Key", "X-NetSuite-Idempotency-Key", "X-Idempotency-Key")
"""Headers whose presence makes any request safe to repeat."""

REPLAYABLE_EXTENSION = "psflow.replayable"
"""Request extension that overrides the method-based decision (e.g. an upsert sent as PATCH)."""

READ_ONLY_EXTENSION = "psflow.read_only"
"""Request extension marking a request that changes nothing (a query sent as POST): retried like a GET."""

THROTTLE_STATUSES = frozenset({429, 503})
"""Statuses whose ``Retry-After`` means "everyone slow down", not just this request."""

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAFE_METHODS = _READ_METHODS | {"PUT", "DELETE"}

# The request never left this machine, so even a POST can be sent again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have reached the server; only replayable requests are sent again.
_MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class RetryConfig:
    """Bounds of the in-process retry.

    Attributes:
        max_attempts: Attempts in total, the first included (1 disables retries).
        base_delay_s: Backoff before the second attempt; doubles each time, with jitter.
        max_delay_s: Cap on one backoff.
        retry_statuses: Statuses worth another attempt for a write safe to repeat; a read is retried on
            every status the classification table calls transient or rate-limited.
        max_retry_after_s: Longest ``Retry-After`` slept in-process; longer waits are returned.
    """

    max_attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0
    retry_statuses: tuple[int, ...] = (502, 503, 504, 429)
    max_retry_after_s: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.max_retry_after_s < 0:
            raise ValueError("retry delays must not be negative")

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before attempt number ``attempt + 1``: exponential, capped, with jitter in [50%, 100%]."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + rand() / 2)


DEFAULT_RETRY = RetryConfig()


def is_read_only(request: httpx.Request) -> bool:
    """Whether `request` only reads: GET/HEAD/OPTIONS, or any method marked `READ_ONLY_EXTENSION`.

    A request marked not replayable (`REPLAYABLE_EXTENSION` false) is never treated as a read.
    """
    marked = request.extensions.get(READ_ONLY_EXTENSION)
    if marked is not None:
        return bool(marked)
    return request.extensions.get(REPLAYABLE_EXTENSION) is not False and request.method.upper() in _READ_METHODS


def is_replayable(request: httpx.Request, idempotency_header_names: Collection[str]) -> bool:
    """Whether sending `request` twice has the same effect as sending it once.

    True for reads (`is_read_only`), PUT and DELETE, and any request carrying an idempotency key
    header; the `REPLAYABLE_EXTENSION` request extension, when set, decides instead.
    """
    marked = request.extensions.get(REPLAYABLE_EXTENSION)
    if marked is not None:
        return bool(marked)
    if is_read_only(request) or request.method.upper() in _SAFE_METHODS:
        return True
    return any(name in request.headers for name in idempotency_header_names)


class RetryTransport(httpx.AsyncBaseTransport):
    """Retries transport errors and transient statuses for requests safe to repeat (see the module docstring).

    Args:
        inner: The transport that sends each attempt.
        config: Attempt and delay bounds.
        idempotency_header_names: Headers that mark a request as safe to repeat.
        on_throttle: Called with the server's delay whenever a 429/503 carries ``Retry-After``
            (the rate budget uses it to hold back every other caller too).
        before_resend: Called with the request before each further attempt, e.g. to give an
            OAuth 1.0a request a fresh nonce and signature.
        sleep: The sleep function (tests substitute a recorder).
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        config: RetryConfig = DEFAULT_RETRY,
        *,
        idempotency_header_names: Collection[str] = DEFAULT_IDEMPOTENCY_HEADERS,
        on_throttle: Callable[[float], None] | None = None,
        before_resend: Callable[[httpx.Request], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._inner = inner
        self._config = config
        self._idempotency_header_names = tuple(idempotency_header_names)
        self._on_throttle = on_throttle
        self._before_resend = before_resend
        self._sleep = sleep

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying within the configured bounds; return the last response."""
        replayable = is_replayable(request, self._idempotency_header_names)
        read_only = replayable and is_read_only(request)
        if replayable and self._config.max_attempts > 1:
            # A streamed body can be read only once; buffer it so a second attempt can resend it.
            await request.aread()
        attempt = 1
        while True:
            try:
                response = await self._inner.handle_async_request(request)
            except _NOT_SENT + _MAYBE_SENT as exc:
                sent = not isinstance(exc, _NOT_SENT)
                if attempt >= self._config.max_attempts or (sent and not replayable):
                    raise
                delay = self._config.backoff(attempt)
                self._log_retry(request, attempt, type(exc).__name__, delay)
            else:
                delay_or_none = self._retry_delay(response, attempt, replayable=replayable, read_only=read_only)
                if delay_or_none is None:
                    return response
                delay = delay_or_none
                await response.aclose()
                self._log_retry(request, attempt, str(response.status_code), delay)
            await self._sleep(delay)
            attempt += 1
            if self._before_resend is not None:
                self._before_resend(request)

    def _retry_delay(
        self, response: httpx.Response, attempt: int, *, replayable: bool, read_only: bool
    ) -> float | None:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None and status in THROTTLE_STATUSES and self._on_throttle:
            self._on_throttle(retry_after)
        if not (retryable_status(status) if read_only else status in self._config.retry_statuses):
            return None
        if not replayable or attempt >= self._config.max_attempts:
            return None
        if retry_after is None:
            return self._config.backoff(attempt)
        if retry_after > self._config.max_retry_after_s:
            # Too long to hold a worker slot; the caller turns it into RATE_LIMITED(retry_after).
            return None
        return retry_after

    def _log_retry(self, request: httpx.Request, attempt: int, reason: str, delay: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "retrying %s %s after %s (attempt %d of %d) in %.3fs",
                request.method,
                redact(str(request.url)),
                reason,
                attempt,
                self._config.max_attempts,
                delay,
            )

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
