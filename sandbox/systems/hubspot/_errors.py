"""HubSpot's error body: ``{status, message, correlationId, category, errors[], context}``."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

from sandbox._framework import SandboxHTTPError

__all__ = ["TEN_SECONDLY", "HubSpotError", "body", "error_body", "error_response", "rate_limit_body"]

# Codes the sandbox framework passes in → HubSpot categories.
_CATEGORIES = {
    "unauthorized": "INVALID_AUTHENTICATION",
    "not_found": "OBJECT_NOT_FOUND",
    "method_not_allowed": "METHOD_NOT_ALLOWED",
    "invalid_request": "VALIDATION_ERROR",
    "rate_limited": "RATE_LIMITS",
    "server_error": "INTERNAL_ERROR",
    "unavailable": "SERVICE_UNAVAILABLE",
    "timeout": "GATEWAY_TIMEOUT",
}
TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
DEFAULT_MAX = 100
DEFAULT_INTERVAL_MS = 10_000


class HubSpotError(SandboxHTTPError):
    """A HubSpot API error with the optional detail fields of the real body.

    Args:
        status: HTTP status.
        category: HubSpot's category, e.g. ``VALIDATION_ERROR``.
        message: What was wrong, with the offending value.
        errors: Per-field detail (``[{"message", "code", "context"}]``).
        context: Ids or names the error is about.
        extra: More top-level fields (``policyName`` on 429s).
        headers: Extra response headers.
    """

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, category, message, headers)
        self.errors = errors
        self.context = context
        self.extra = extra or {}


def body(
    category: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One error object (also the shape of each entry of a batch's ``errors``)."""
    rendered: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if errors:
        rendered["errors"] = errors
    if context:
        rendered["context"] = context
    return {**rendered, **(extra or {})}


def rate_limit_body(policy: str, message: str) -> dict[str, Any]:
    """The documented 429 body."""
    return body("RATE_LIMITS", message, extra={"errorType": "RATE_LIMIT", "policyName": policy})


def error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Render framework errors (auth, unknown paths, injected faults) in HubSpot's shape."""
    category = _CATEGORIES.get(code, code)
    if status == 429:
        headers = {
            "X-HubSpot-RateLimit-Max": str(DEFAULT_MAX),
            "X-HubSpot-RateLimit-Remaining": "0",
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(DEFAULT_INTERVAL_MS),
        }
        return rate_limit_body(TEN_SECONDLY, message), headers
    if category == "VALIDATION_ERROR":
        return body(category, message, errors=[{"message": message, "code": "INVALID_REQUEST"}]), {}
    return body(category, message), {}


def error_response(exc: SandboxHTTPError, headers: dict[str, str]) -> JSONResponse:
    """The response for an error raised by a HubSpot route, with rate-limit headers added."""
    if isinstance(exc, HubSpotError):
        rendered = body(exc.code, exc.message, errors=exc.errors, context=exc.context, extra=exc.extra)
        extra_headers: dict[str, str] = {}
    else:
        rendered, extra_headers = error_body(exc.status, exc.code, exc.message)
    return JSONResponse(rendered, status_code=exc.status, headers={**headers, **extra_headers, **exc.headers})
