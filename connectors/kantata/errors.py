"""Reading Kantata's error bodies for the shared error policy.

Kantata answers ``{"errors": [{"type": "validation|oauth|system", "message", "field"}]}`` on
400, 401, 403, 404, 422 and 503, and the same shape (without headers) on 429. The token
endpoint answers the OAuth 2.0 shape ``{"error", "error_description"}``. The default status
table classifies all of them; the parser supplies the error type as the code and every message.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors._core import default_error_parser

__all__ = ["parse_error"]


def _describe(error: dict[str, Any]) -> str:
    message = str(error.get("message") or "").strip()
    field = error.get("field")
    return f"{field}: {message}" if field else message


def parse_error(response: httpx.Response) -> tuple[str | None, str]:
    """Read (error type, every message joined) from a Kantata error body.

    Args:
        response: A read response.

    Returns:
        The first error's ``type`` (``validation``, ``oauth``, ``system``) and the messages of
        all errors, each prefixed with its field when it names one.
    """
    try:
        body = json.loads(response.text) if response.text.strip() else None
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        code = errors[0].get("type")
        message = "; ".join(text for text in (_describe(e) for e in errors) if text)
        return (str(code) if code else None), message or response.reason_phrase
    return default_error_parser(response)
