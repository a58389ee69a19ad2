"""Reading NetSuite's error bodies and the few places NetSuite departs from the default policy.

SuiteTalk REST errors look like ``{"type", "title", "status", "o:errorDetails": [{"detail",
"o:errorCode", "o:errorPath"}]}``; the token endpoint answers OAuth's ``{"error",
"error_description"}``, which the default parser already reads.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors._core import ConnectorError, Outcome, Rule, default_error_parser

__all__ = ["CONCURRENCY_LIMIT_EXCEEDED", "RULES", "is_closed_period", "parse_error"]

CONCURRENCY_LIMIT_EXCEEDED = "CONCURRENCY_LIMIT_EXCEEDED"

RULES = (
    # Over the account's concurrency limit REST answers 429; RESTlets answer 400 with this code.
    Rule(400, "SSS_REQUEST_LIMIT_EXCEEDED", Outcome.RATE_LIMITED),
)


def parse_error(response: httpx.Response) -> tuple[str | None, str]:
    """Read ``(o:errorCode, detail)`` from a NetSuite error; every detail is kept, with its path.

    Args:
        response: A read response.

    Returns:
        The first detail's error code and all details joined with ``"; "``.
    """
    try:
        body: Any = json.loads(response.text) if response.text.strip() else None
    except ValueError:
        body = None
    details = body.get("o:errorDetails") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details or not isinstance(details[0], dict):
        return default_error_parser(response)
    messages = []
    for detail in details:
        if not isinstance(detail, dict):
            continue
        text = str(detail.get("detail") or body.get("title") or response.reason_phrase)
        path = detail.get("o:errorPath")
        messages.append(f"{path}: {text}" if path else text)
    code = details[0].get("o:errorCode")
    return (str(code) if code else None), "; ".join(messages)


def is_closed_period(error: ConnectorError) -> bool:
    """Whether NetSuite refused a transaction because its accounting period is closed.

    NetSuite reports it as a generic field error (``INVALID_FLD_VALUE``/``USER_ERROR``), so the
    detail text is what tells it apart; callers route such entries to the exceptions queue
    instead of retrying them.
    """
    text = error.message.lower()
    return error.outcome is Outcome.BUSINESS and "period" in text and "closed" in text
