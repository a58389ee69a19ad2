"""How Salesforce reports failures: error arrays and the quota rule.

Errors are a JSON array ``[{"message", "errorCode", "fields"}]``; the token endpoint answers
OAuth's ``{"error", "error_description"}``. A spent daily API allocation is 403
``REQUEST_LIMIT_EXCEEDED`` — a rate limit, not a permission problem — and comes without
``Retry-After`` because the allocation refills over a rolling 24 hours.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors._core import Outcome, Rule, default_error_parser

__all__ = ["RULES", "SYSTEM", "parse_salesforce_error"]

SYSTEM = "salesforce"

RULES = (
    Rule(403, "REQUEST_LIMIT_EXCEEDED", Outcome.RATE_LIMITED),
    # Record lock contention clears by itself; Salesforce documents retrying it.
    Rule(None, "UNABLE_TO_LOCK_ROW", Outcome.TRANSIENT),
)


def _describe(error: dict[str, Any]) -> str:
    message = str(error.get("message") or "no message")
    fields = error.get("fields")
    if isinstance(fields, list) and fields:
        message += f" (fields: {', '.join(str(f) for f in fields)})"
    return message


def parse_salesforce_error(response: httpx.Response) -> tuple[str | None, str]:
    """Read (errorCode, message) from a Salesforce error response.

    The code is the first error's ``errorCode`` (``statusCode`` in collection results); the
    message joins every error's message with the fields it names.
    """
    try:
        body = json.loads(response.text) if response.text.strip() else None
    except ValueError:
        body = None
    if isinstance(body, list) and body and all(isinstance(item, dict) for item in body):
        code = body[0].get("errorCode") or body[0].get("statusCode")
        return (str(code) if code else None), "; ".join(_describe(item) for item in body)
    return default_error_parser(response)
