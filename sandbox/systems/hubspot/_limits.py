"""Authentication, the account's rate limits, and the headers every API response carries.

HubSpot counts requests per account in a rolling ten-second window (100 for a private app by
default) and per day; every response says where the caller stands in
``X-HubSpot-RateLimit-*`` headers (daily ones only for private-app traffic), and a request
over the limit gets a 429 naming the policy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response

from sandbox._auth import check_token
from sandbox._framework import SandboxHTTPError
from sandbox.systems.hubspot._errors import TEN_SECONDLY, HubSpotError, error_response
from sandbox.systems.hubspot._schema import NAME, OBJECT_TYPES, PRIVATE_APP_TOKEN

__all__ = ["HubSpotRoute", "Limits", "RateLimiter", "authorize", "limiter"]

_HEADERS = "hubspot_rate_headers"
_READ_SUFFIXES = ("/search", "/batch/read")


@dataclass
class Limits:
    """The account's limits (``PUT /_admin/hubspot/limits`` changes them)."""

    ten_second_max: int = 100
    interval_ms: int = 10_000
    daily_max: int = 250_000
    search_result_cap: int = 10_000


@dataclass
class RateLimiter:
    """Counts the account's requests in the rolling window and per UTC day."""

    limits: Limits = field(default_factory=Limits)
    _starts: deque[float] = field(default_factory=deque)
    _day: date | None = None
    _daily_used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, *, daily_headers: bool) -> tuple[str | None, dict[str, str]]:
        """Count one request; return the policy it breaks (None if admitted) and the headers."""
        with self._lock:
            now = time.monotonic()
            today = datetime.now(UTC).date()
            if today != self._day:
                self._day, self._daily_used = today, 0
            while self._starts and now - self._starts[0] >= self.limits.interval_ms / 1000:
                self._starts.popleft()
            if self._daily_used >= self.limits.daily_max:
                broken: str | None = "DAILY"
            elif len(self._starts) >= self.limits.ten_second_max:
                broken = TEN_SECONDLY
            else:
                broken = None
                self._starts.append(now)
                self._daily_used += 1
            headers = {
                "X-HubSpot-RateLimit-Max": str(self.limits.ten_second_max),
                "X-HubSpot-RateLimit-Remaining": str(max(0, self.limits.ten_second_max - len(self._starts))),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.limits.interval_ms),
            }
            if daily_headers:
                headers["X-HubSpot-RateLimit-Daily"] = str(self.limits.daily_max)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.limits.daily_max - self._daily_used))
            return broken, headers

    def usage(self) -> dict[str, int]:
        """Requests counted in the current window and today."""
        with self._lock:
            now = time.monotonic()
            in_window = sum(1 for start in self._starts if now - start < self.limits.interval_ms / 1000)
            return {"in_window": in_window, "today": self._daily_used}


_STATE_LOCK = threading.Lock()


def limiter(request: Request) -> RateLimiter:
    """The app's rate limiter (one per sandbox app, like one per HubSpot account)."""
    state = request.app.state
    with _STATE_LOCK:
        found: RateLimiter | None = getattr(state, "hubspot_limiter", None)
        if found is None:
            found = state.hubspot_limiter = RateLimiter()
    return found


def _required_scope(request: Request) -> str | None:
    params = request.path_params
    object_type = OBJECT_TYPES.get(params.get("object_type") or params.get("from_type") or "")
    if object_type is None:
        return None
    path = request.url.path
    reading = request.method == "GET" or path.endswith(_READ_SUFFIXES)
    return f"{object_type.scope}.{'read' if reading else 'write'}"


async def authorize(request: Request) -> None:
    """Router dependency: check the bearer token and its scopes, then count the request.

    It runs on the event loop as the request arrives, before the endpoint queues for a worker
    thread, so the window counts arrivals as HubSpot's edge does.

    Raises:
        HubSpotError: 401 ``INVALID_AUTHENTICATION``, 403 ``MISSING_SCOPES`` or 429 ``RATE_LIMITS``.
    """
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HubSpotError(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found: send Authorization: Bearer <private app or OAuth access token>",
        )
    private = token == PRIVATE_APP_TOKEN
    info = None if private else check_token(request.app.state.db, NAME, token)
    if not private and info is None:
        raise HubSpotError(
            401,
            "INVALID_AUTHENTICATION",
            "The access token is invalid or has expired: get a new one with the refresh_token grant",
        )
    required = _required_scope(request)
    granted = set(((info or {}).get("scope") or "").split())
    if info is not None and required is not None and required not in granted:
        raise HubSpotError(
            403,
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call.",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [required]},
                }
            ],
        )
    broken, headers = limiter(request).admit(daily_headers=private)
    setattr(request.state, _HEADERS, headers)
    if broken is not None:
        window = "daily" if broken == "DAILY" else "ten_secondly_rolling"
        raise HubSpotError(
            429,
            "RATE_LIMITS",
            f"You have reached your {window} limit.",
            extra={"errorType": "RATE_LIMIT", "policyName": broken},
        )


class HubSpotRoute(APIRoute):
    """Route class of the API: errors in HubSpot's shape, rate-limit headers on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except SandboxHTTPError as exc:
                return error_response(exc, getattr(request.state, _HEADERS, {}))
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
                )
                invalid = HubSpotError(400, "VALIDATION_ERROR", f"Invalid input JSON: {problems}")
                return error_response(invalid, getattr(request.state, _HEADERS, {}))
            response.headers.update(getattr(request.state, _HEADERS, {}))
            return response

        return handle
