"""NetSuite's REST error shape and the error codes the emulator answers with.

Every error is ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}``.
Codes the sandbox framework passes in (``GENERIC_CODES``) are translated to NetSuite's:
``unauthorized`` → ``INVALID_LOGIN``, ``rate_limited`` → ``CONCURRENCY_LIMIT_EXCEEDED`` (the one
reason NetSuite answers 429; the exact code string is not in Oracle's docs), and so on.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from sandbox._framework import SandboxHTTPError

INVALID_LOGIN = "INVALID_LOGIN"
NONEXISTENT_ID = "NONEXISTENT_ID"
INVALID_CONTENT = "INVALID_CONTENT"
INVALID_FLD_VALUE = "INVALID_FLD_VALUE"
INVALID_KEY_OR_REF = "INVALID_KEY_OR_REF"
INVALID_PARAMETER = "INVALID_PARAMETER"
USER_ERROR = "USER_ERROR"
IDEMPOTENCY_ERROR = "IDEMPOTENCY_ERROR"
CONCURRENCY_LIMIT_EXCEEDED = "CONCURRENCY_LIMIT_EXCEEDED"
UNEXPECTED_ERROR = "UNEXPECTED_ERROR"

_GENERIC = {
    "unauthorized": INVALID_LOGIN,
    "not_found": NONEXISTENT_ID,
    "method_not_allowed": INVALID_PARAMETER,
    "invalid_request": INVALID_CONTENT,
    "rate_limited": CONCURRENCY_LIMIT_EXCEEDED,
    "server_error": UNEXPECTED_ERROR,
    "unavailable": UNEXPECTED_ERROR,
    "timeout": UNEXPECTED_ERROR,
}
_RFC2616 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
_TYPES = {
    400: f"{_RFC2616}#sec10.4.1",
    401: f"{_RFC2616}#sec10.4.2",
    403: f"{_RFC2616}#sec10.4.4",
    404: f"{_RFC2616}#sec10.4.5",
    405: f"{_RFC2616}#sec10.4.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
    500: f"{_RFC2616}#sec10.5.1",
    503: f"{_RFC2616}#sec10.5.4",
    504: f"{_RFC2616}#sec10.5.5",
}


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Render an error the way SuiteTalk REST does."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    kind = _TYPES.get(status, f"{_RFC2616}#sec10")
    if code == IDEMPOTENCY_ERROR:
        # NetSuite answers a reused idempotency key with status 400 but the title of a 409.
        title, kind = "Conflict", f"{_RFC2616}#sec10.4.10"
    body = {
        "type": kind,
        "title": title,
        "status": status,
        "o:errorDetails": [{"detail": message, "o:errorCode": _GENERIC.get(code, code)}],
    }
    return body, {}


def bad_request(code: str, detail: str) -> SandboxHTTPError:
    """A 400 business or validation error."""
    return SandboxHTTPError(400, code, detail)


def not_found(record_type: str, key: str) -> SandboxHTTPError:
    """The 404 NetSuite gives for an internal or external id that names no record."""
    return SandboxHTTPError(
        404,
        NONEXISTENT_ID,
        f"The record instance does not exist. Provide a valid record instance ID ({record_type} {key}).",
    )
