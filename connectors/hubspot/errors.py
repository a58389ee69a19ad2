"""How HubSpot reports failures: its error body, and the delay a 429 asks for.

Error bodies look like ``{"status": "error", "message", "correlationId", "category",
"errors": [...]}``; throttling is a 429 whose body names the policy (``TEN_SECONDLY_ROLLING``,
``DAILY``, ...) and whose ``X-HubSpot-RateLimit-*`` headers describe the window. HubSpot does not
promise a ``Retry-After``, so the window length is the delay when it is absent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors._core import RateLimitedError, default_error_parser, parse_retry_after

__all__ = ["SYSTEM", "parse_hubspot_error", "rate_limit_delay", "rate_limited_error"]

SYSTEM = "hubspot"

_DEFAULT_WINDOW_S = 10.0


def _body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = json.loads(response.text) if response.text.strip() else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def parse_hubspot_error(response: httpx.Response) -> tuple[str | None, str]:
    """Read (category, message) from a HubSpot error body.

    The code is the ``category`` (``VALIDATION_ERROR``, ``OBJECT_NOT_FOUND``, ``RATE_LIMITS``...),
    else the ``errorType`` older endpoints send; the message carries the first detail and the
    ``correlationId`` HubSpot support asks for.
    """
    body = _body(response)
    if body is None or not isinstance(body.get("message"), str):
        return default_error_parser(response)
    code = body.get("category") or body.get("errorType") or body.get("status")
    message: str = body["message"]
    details = body.get("errors")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        first = details[0].get("message")
        if isinstance(first, str) and first and first not in message:
            message = f"{message}: {first}"
    if isinstance(body.get("correlationId"), str):
        message = f"{message} (correlationId {body['correlationId']})"
    return (code if isinstance(code, str) else None), message


def rate_limit_delay(response: httpx.Response, *, now: datetime | None = None) -> float:
    """Seconds to wait after a 429.

    ``Retry-After`` when present; for the daily policy, until the next midnight UTC (HubSpot
    resets at midnight in the account's time zone, so this may be early — the next 429 then
    says so again); otherwise the length of the rolling window from
    ``X-HubSpot-RateLimit-Interval-Milliseconds`` (10 s when absent).
    """
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now=now)
    if retry_after is not None:
        return retry_after
    body = _body(response) or {}
    if body.get("policyName") == "DAILY":
        current = now or datetime.now(UTC)
        midnight = datetime.combine(current.astimezone(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
        return (midnight - current).total_seconds()
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return max(0.0, float(interval) / 1000) if interval else _DEFAULT_WINDOW_S
    except ValueError:
        return _DEFAULT_WINDOW_S


def rate_limited_error(response: httpx.Response) -> RateLimitedError:
    """The `RateLimitedError` for a 429, with the delay from its headers."""
    code, message = parse_hubspot_error(response)
    body = _body(response)
    policy = body.get("policyName") if body else None
    return RateLimitedError(
        SYSTEM,
        f"{message} [policy {policy}]" if policy else message,
        status=response.status_code,
        code=code,
        retry_after=rate_limit_delay(response),
        details=body if body is not None else response.text[:2000],
        method=response.request.method,
        url=str(response.request.url),
    )
