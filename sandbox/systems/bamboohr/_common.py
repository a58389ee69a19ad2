"""What every part of the BambooHR emulator shares: the company, the API key, the clock and the guards.

Research: ``apis-round2.md`` §4 (BambooHR), "Base URL and auth" and "Errors, limits, webhooks".

- Basic auth with the API key as the user name and any password (§4 "Base URL and auth").
- JSON only when ``Accept: application/json`` is sent; the real API answers XML otherwise, which
  this sandbox does not emulate: it answers 406 and says so (§4 "Base URL and auth").
- Rate limiting in two switchable modes (§4 "Errors, limits, webhooks"): ``"2026"`` (from
  2026-09-16: 429 with ``Retry-After`` on every rate-limited response) and ``"legacy"`` (503,
  no ``Retry-After``).
- The clock: wall time unless a test pins it (``PUT /_admin/bamboohr/clock``), so ``lastChanged``
  stamps and ``since`` filters are reproducible.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError

NAME = "bamboohr"
COMPANY = "psflowdemo"
DEMO_API_KEY = "psflow-demo-bamboohr-key"
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 100

CLOCK_KEY = "clock"
KEYS_KEY = "api_keys"
THROTTLE_KEY = "throttle"
WINDOW_KEY = "throttle_window"
DIRECTORY_KEY = "directory_sharing"


def now(db: SandboxDB) -> datetime:
    """The emulator's current time: the pinned clock if a test set one, else wall time (UTC, seconds)."""
    pinned = db.kv_get(NAME, CLOCK_KEY)
    moment = datetime.fromisoformat(pinned) if pinned else datetime.now(UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def stamp(moment: datetime) -> str:
    """BambooHR's ``lastChanged`` form: ISO 8601 with a ``+00:00`` offset, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def log_change(db: SandboxDB, employee_id: str, action: str) -> str:
    """Record that an employee was Inserted, Updated or Deleted now; returns the stamp (§4 Employees)."""
    when = stamp(now(db))
    db.insert(NAME, "change", {"employee_id": employee_id, "action": action, "at": when})
    if action != "Deleted":
        db.update(NAME, "employee", employee_id, {"lastChanged": when})
    return when


def api_keys(db: SandboxDB) -> list[str]:
    """Keys that authenticate (the demo key unless an admin route changed them)."""
    keys: list[str] = db.kv_get(NAME, KEYS_KEY, [DEMO_API_KEY])
    return keys


def authorise(db: SandboxDB, request: Request) -> str:
    """Basic auth with the API key as the user name; the password is ignored. A bad key is a 401."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    key = ""
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(encoded, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    if not key or not any(secrets.compare_digest(key, known) for known in api_keys(db)):
        raise SandboxHTTPError(
            401,
            "unauthorized",
            "Invalid API key: send HTTP Basic auth with the API key as the user name and any password",
            headers={"WWW-Authenticate": 'Basic realm="BambooHR"'},
        )
    return key


def require_json(request: Request) -> None:
    """The real API answers XML without ``Accept: application/json``; this sandbox refuses with 406."""
    if "application/json" not in request.headers.get("accept", "").lower():
        raise SandboxHTTPError(
            406,
            "not_acceptable",
            "This endpoint answers XML unless 'Accept: application/json' is sent; "
            "the sandbox serves JSON only, so send that header",
        )


def throttle(db: SandboxDB) -> None:
    """Count this request against the configured window; over the limit → 429 + Retry-After (2026) or 503."""
    config: dict[str, Any] | None = db.kv_get(NAME, THROTTLE_KEY)
    if not config or config.get("limit") is None:
        return
    clock = time.monotonic()
    window: dict[str, Any] = db.kv_get(NAME, WINDOW_KEY) or {}
    started = float(window.get("started", -math.inf))
    if clock - started >= float(config["window_s"]):
        window = {"started": clock, "count": 0}
    if window["count"] >= int(config["limit"]):
        remaining = float(config["window_s"]) - (clock - float(window["started"]))
        db.kv_set(NAME, WINDOW_KEY, window)
        if config.get("mode", "2026") == "legacy":
            raise SandboxHTTPError(503, "unavailable", "Service Unavailable: the API is throttling requests")
        raise SandboxHTTPError(
            429,
            "rate_limited",
            "Too Many Requests: rate limit exceeded, retry after the number of seconds in Retry-After",
            headers={"Retry-After": str(max(1, math.ceil(remaining)))},
        )
    window["count"] += 1
    db.kv_set(NAME, WINDOW_KEY, window)


def guard(db: SandboxDB, request: Request, *, json_only: bool = True) -> None:
    """Auth, then the rate limit, then the Accept header — what every API route checks first."""
    authorise(db, request)
    throttle(db)
    if json_only:
        require_json(request)


def check_company(company: str) -> None:
    """Reject a ``gateway.php/{company}`` path for another company."""
    if company != COMPANY:
        raise SandboxHTTPError(404, "not_found", f"Company {company!r} does not exist: this sandbox hosts {COMPANY!r}")


def parse_since(value: str | None) -> datetime:
    """Strict ISO 8601 with ``Z``, ``±hh:mm`` or ``±hhmm`` (§4 Employees: missing or bad → 400).

    A ``+`` that was not URL-encoded arrives as a space, which makes the value invalid, as upstream.
    """
    if not value:
        raise SandboxHTTPError(
            400, "invalid_since", "The 'since' parameter is required (ISO 8601, e.g. 2026-01-01T00:00:00Z)"
        )
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        if len(text) < 20 or text[10] != "T":
            raise ValueError(value)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SandboxHTTPError(
            400,
            "invalid_since",
            f"'since' must be ISO 8601 with an offset (Z, +hh:mm or +hhmm; URL-encode the '+'), got {value!r}",
        ) from None
    if moment.tzinfo is None:
        raise SandboxHTTPError(400, "invalid_since", f"'since' needs a time zone offset, got {value!r}")
    return moment.astimezone(UTC)
