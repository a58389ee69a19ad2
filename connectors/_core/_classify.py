"""The error policy: one table from HTTP status (and system error code) to an `Outcome`.

| status                    | outcome       |
|---------------------------|---------------|
| 2xx                       | SUCCESS       |
| 401, 403                  | AUTH          |
| 404, 410                  | NOT_FOUND     |
| 408, 500, 502, 503, 504   | TRANSIENT     |
| 429                       | RATE_LIMITED  |
| 400, 409, 412, 422        | BUSINESS      |
| other 4xx, 1xx, 3xx       | PERMANENT     |
| other 5xx                 | TRANSIENT     |

A connector adds `Rule`s for its system's exceptions to the table, matched on (status, code)
before the table — Salesforce's quota exhaustion arrives as 403 ``REQUEST_LIMIT_EXCEEDED``.

The in-process retry asks the same table (`retryable_status`) whether a read is worth another
attempt: every TRANSIENT and RATE_LIMITED status is, a read having no effect to repeat.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors._core._errors import RETRYABLE_OUTCOMES, ConnectorError, Outcome, PermanentError, TransientError
from connectors._core._redact import redact

__all__ = [
    "Classification",
    "ErrorParser",
    "Rule",
    "classify",
    "classify_exception",
    "default_error_parser",
    "outcome_for_status",
    "parse_retry_after",
    "retryable_status",
]

ErrorParser = Callable[[httpx.Response], tuple[str | None, str]]
"""Reads a system's error body into (error code, human message)."""

_MAX_TEXT = 300

_STATUS_OUTCOMES: Mapping[int, Outcome] = {
    401: Outcome.AUTH,
    403: Outcome.AUTH,
    404: Outcome.NOT_FOUND,
    410: Outcome.NOT_FOUND,
    408: Outcome.TRANSIENT,
    500: Outcome.TRANSIENT,
    502: Outcome.TRANSIENT,
    503: Outcome.TRANSIENT,
    504: Outcome.TRANSIENT,
    429: Outcome.RATE_LIMITED,
    400: Outcome.BUSINESS,
    409: Outcome.BUSINESS,
    412: Outcome.BUSINESS,
    422: Outcome.BUSINESS,
}


@dataclass(frozen=True)
class Classification:
    """What one response means.

    Attributes:
        outcome: The policy decision.
        status: The HTTP status.
        code: The system's error code, if its error body had one.
        message: The system's error message (empty on success).
        retry_after: Seconds from the ``Retry-After`` header, whatever the outcome.
    """

    outcome: Outcome
    status: int | None
    code: str | None
    message: str
    retry_after: float | None


@dataclass(frozen=True)
class Rule:
    """A system-specific override of the default table.

    Attributes:
        status: The HTTP status to match, or `None` for any status.
        code: The error code to match, or `None` for any code.
        outcome: The outcome when both match.
    """

    status: int | None
    code: str | None
    outcome: Outcome

    def matches(self, status: int, code: str | None) -> bool:
        """Whether this rule applies to a response with `status` and error `code`."""
        return (self.status is None or self.status == status) and (self.code is None or self.code == code)


def outcome_for_status(status: int) -> Outcome:
    """The default table: the outcome of an HTTP status when no rule applies."""
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status in _STATUS_OUTCOMES:
        return _STATUS_OUTCOMES[status]
    if status >= 500:
        return Outcome.TRANSIENT
    # Unexpected 4xx, and 1xx/3xx that no caller asked for: repeating the call will not change them.
    return Outcome.PERMANENT


def retryable_status(status: int) -> bool:
    """Whether the default table says the same request can succeed later (TRANSIENT or RATE_LIMITED)."""
    return outcome_for_status(status) in RETRYABLE_OUTCOMES


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delay-seconds or an HTTP-date.

    Args:
        value: The header value, or `None` when absent.
        now: The current time, for HTTP-date values (defaults to the wall clock, UTC).

    Returns:
        The delay in seconds (never negative), or `None` when absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=UTC)
    return max(0.0, (when - current).total_seconds())


def default_error_parser(response: httpx.Response) -> tuple[str | None, str]:
    """Read (code, message) from the common error body shapes, or from plain text.

    Understands Salesforce arrays (``[{"errorCode", "message"}]``), HubSpot (``category``,
    ``message``), NetSuite (``o:errorDetails``), OAuth (``error``, ``error_description``),
    OData (``{"error": {"code", "message"}}``) and ``{"errors": [...]}`` lists.

    Args:
        response: A read response.

    Returns:
        The error code (or `None`) and a message (the reason phrase when the body says nothing).
    """
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return None, response.reason_phrase
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    if body is not None:
        code, message = _read_json_error(body)
        if code is not None or message:
            return code, message or response.reason_phrase
    snippet = " ".join(text.split())[:_MAX_TEXT]
    return None, snippet or response.reason_phrase


_TOP_CODE_KEYS = ("errorCode", "o:errorCode", "error_code", "code", "errorType", "category")
_ITEM_CODE_KEYS = ("errorCode", "o:errorCode", "error_code", "code", "statusCode", "type")
_MESSAGE_KEYS = ("message", "error_description", "detail", "error_message", "description")


def _first_string(body: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and key != "statusCode":
            return str(value)
    return None


def _read_json_error(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, list):
        items = [item for item in body if isinstance(item, dict)]
        if not items:
            return None, None
        code, message = _read_json_error(items[0])
        if message and len(items) > 1:
            message = f"{message} (and {len(items) - 1} more)"
        return code, message
    if not isinstance(body, dict):
        return None, None
    nested = body.get("error")
    if isinstance(nested, dict):
        code, message = _read_json_error(nested)
        if code is not None or message:
            return code, message
    code = _first_string(body, _TOP_CODE_KEYS)
    message = _first_string(body, _MESSAGE_KEYS)
    if isinstance(nested, str) and nested:
        # OAuth puts the code in "error"; Workday-style bodies put the whole message there.
        if "error_description" in body:
            code = code or nested
        else:
            message = message or nested
    for key in ("o:errorDetails", "errors"):
        listed = body.get(key)
        if isinstance(listed, list) and listed and isinstance(listed[0], dict):
            code = code or _first_string(listed[0], _ITEM_CODE_KEYS)
            message = message or _first_string(listed[0], (*_MESSAGE_KEYS, "error"))
            break
    title = body.get("title")
    return code, message or (title if isinstance(title, str) else None)


def classify(
    response: httpx.Response,
    *,
    parse_error: ErrorParser = default_error_parser,
    rules: Sequence[Rule] = (),
) -> Classification:
    """Apply the error policy to a response.

    Args:
        response: A response whose body has been read (error bodies are parsed for a code).
        parse_error: The system's error body reader.
        rules: System-specific overrides, checked in order before the default table.

    Returns:
        The classification; ``retry_after`` is taken from ``Retry-After`` for any outcome.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    code: str | None = None
    message = ""
    if not 200 <= status < 300:
        try:
            code, message = parse_error(response)
        except Exception:
            # A parser that trips over an unexpected body must not hide the status behind a crash.
            code, message = default_error_parser(response)
    outcome = next((rule.outcome for rule in rules if rule.matches(status, code)), None)
    return Classification(
        outcome=outcome if outcome is not None else outcome_for_status(status),
        status=status,
        code=code,
        message=message,
        retry_after=retry_after,
    )


def classify_exception(system: str, exc: httpx.TransportError) -> ConnectorError:
    """Turn an httpx transport failure into a `ConnectorError`.

    Timeouts, refused or dropped connections and proxy failures are transient; a URL with an
    unsupported scheme or a request httpx itself refused to send will fail the same way again.

    Args:
        system: The system label.
        exc: The exception httpx raised.

    Returns:
        A `TransientError`, or a `PermanentError` for local/protocol misuse.
    """
    try:
        method: str | None = exc.request.method
        url: str | None = str(exc.request.url)
    except RuntimeError:
        method = url = None
    if isinstance(exc, httpx.TimeoutException):
        code = "timeout"
    elif isinstance(exc, httpx.RemoteProtocolError):
        code = "connection_dropped"
    elif isinstance(exc, httpx.ConnectError):
        code = "connect_error"
    elif isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return PermanentError(
            system, redact(f"{type(exc).__name__}: {exc}"), code="request_error", method=method, url=url
        )
    else:
        code = "network_error"
    detail = str(exc) or "no detail"
    return TransientError(system, f"{type(exc).__name__}: {detail}", code=code, method=method, url=url)
