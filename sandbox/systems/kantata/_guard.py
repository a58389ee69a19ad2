"""What every ``/api/v1`` request passes first: the rate limit, then the bearer token.

Kantata documents a 429 "when too many requests are made in a short window" and says only to
retry after a small delay: no ``Retry-After`` and no rate-limit headers. The emulator counts
requests in a fixed window (``PUT /_admin/kantata/rate_limit`` changes it; the default is
generous) and answers 429 in Kantata's error shape without headers.

Tokens: the fixed demo token works without a token request, as a real Kantata token obtained
once through the authorization-code flow does (they never expire unless revoked); tokens from
``POST /kantata/oauth/token`` work too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from sandbox._auth import check_bearer, issue_token
from sandbox._db import SandboxDB
from sandbox._framework import DB, SandboxHTTPError
from sandbox.systems.kantata._store import NAME

DEMO_ACCESS_TOKEN = "psflow-demo-kantata-token"
"""The sandbox's fixed, non-expiring access token."""
DEFAULT_RATE_LIMIT = (5000, 10.0)
"""Requests per window and window length in seconds, unless an admin call changes them."""
API = "api"
"""The scope every request counts against."""
DEFAULT_SCOPED_LIMITS: dict[str, tuple[int, float]] = {
    "account_invitations": (600, 60.0),
    "custom_field_values": (2000, 60.0),
}
"""Endpoints Kantata limits on their own (research apis-round2 §1 "Envelope, limits, events"):
account invitations (create/resend) and custom field values (create/list), counted on top of ``api``."""

_LIMIT_KEY = "rate_limit"
_DEMO_TOKEN_KEY = "demo_token_registered"
_STATE_ATTRIBUTE = "kantata_rate_limiters"


@dataclass
class RateLimiter:
    """A fixed-window request counter.

    Attributes:
        requests: Requests allowed per window.
        window_s: The window length in seconds.
    """

    requests: int
    window_s: float
    _window_start: float = 0.0
    _count: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self) -> bool:
        """Count one request; False when the window's allowance is used up."""
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self.window_s:
                self._window_start, self._count = now, 0
            self._count += 1
            return self._count <= self.requests

    def describe(self) -> dict[str, float | int]:
        """The limit and this window's count, for the admin API."""
        return {"requests": self.requests, "window_s": self.window_s, "used_in_window": self._count}


def _limiters(request: Request) -> dict[str, RateLimiter]:
    current: dict[str, RateLimiter] | None = getattr(request.app.state, _STATE_ATTRIBUTE, None)
    if current is None:
        current = {}
        setattr(request.app.state, _STATE_ATTRIBUTE, current)
    return current


def _key(scope: str) -> str:
    return _LIMIT_KEY if scope == API else f"{_LIMIT_KEY}:{scope}"


def limiter(request: Request, db: SandboxDB, scope: str = API) -> RateLimiter:
    """The app's limiter of one scope, built from the stored limit on first use."""
    limiters = _limiters(request)
    if scope not in limiters:
        default = DEFAULT_RATE_LIMIT if scope == API else DEFAULT_SCOPED_LIMITS[scope]
        requests, window_s = db.kv_get(NAME, _key(scope), list(default))
        limiters[scope] = RateLimiter(int(requests), float(window_s))
    return limiters[scope]


def set_rate_limit(request: Request, db: SandboxDB, requests: int, window_s: float, scope: str = API) -> RateLimiter:
    """Replace one scope's limit (kept in the DB, so a restart on the same file keeps it)."""
    if scope != API and scope not in DEFAULT_SCOPED_LIMITS:
        raise SandboxHTTPError(
            400, "invalid_request", f"no rate limit scope {scope!r}; use api or one of {sorted(DEFAULT_SCOPED_LIMITS)}"
        )
    db.kv_set(NAME, _key(scope), [requests, window_s])
    fresh = RateLimiter(requests, window_s)
    _limiters(request)[scope] = fresh
    return fresh


def scoped_guard(scope: str) -> Callable[[Request, SandboxDB], None]:
    """A dependency counting a request against an endpoint's own limit too (429 without headers)."""

    def check(request: Request, db: DB) -> None:
        if not limiter(request, db, scope).allow():
            raise SandboxHTTPError(
                429, "rate_limited", f"Too many {scope} requests in a short period: retry after a small delay"
            )

    return check


def register_demo_token(db: SandboxDB) -> None:
    """Make the fixed demo token valid, once per database (a reset registers it again)."""
    if db.kv_get(NAME, _DEMO_TOKEN_KEY) is None:
        issue_token(db, NAME, subject="psflow-demo", ttl_s=None, token=DEMO_ACCESS_TOKEN)
        db.kv_set(NAME, _DEMO_TOKEN_KEY, True)


def guard(request: Request, db: DB) -> None:
    """Dependency of every API route: 429 past the rate limit, 401 without a valid token."""
    if not limiter(request, db).allow():
        raise SandboxHTTPError(429, "rate_limited", "Too many requests in a short period: retry after a small delay")
    register_demo_token(db)
    check_bearer(db, NAME, request, code="oauth", message="Invalid OAuth 2 Request")
