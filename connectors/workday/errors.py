"""How Workday reports failures, and the advice an operator needs when credentials are refused.

REST errors look like ``{"error": "<message>", "errors": [{"error", "field"?, "code"?}]}``
(inferred: the research found no vendor page); the token endpoint answers in the OAuth 2.0
shape ``{"error": "invalid_grant", "error_description"}``. Throttling is 429 or 503 with no
documented headers, so the default policy (rate limited / transient, ``Retry-After`` when sent)
applies unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors._core import AuthError, default_error_parser

__all__ = ["SYSTEM", "explain_auth_error", "parse_workday_error"]

SYSTEM = "workday"


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.text) if response.text.strip() else None
    except ValueError:
        return None


def parse_workday_error(response: httpx.Response) -> tuple[str | None, str]:
    """Read (code, message) from a Workday error body.

    The message is the top-level ``error``, followed by field-level details from ``errors``
    that say something more; the code is the first error's ``code``, if any. OAuth bodies
    give (``error``, ``error_description``).
    """
    body = _body(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return default_error_parser(response)
    if isinstance(body.get("error_description"), str):
        return body["error"], body["error_description"]
    message: str = body["error"]
    code: str | None = None
    details: list[str] = []
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        if code is None and isinstance(item.get("code"), str):
            code = item["code"]
        text = item.get("error")
        field = item.get("field")
        if isinstance(text, str) and text and text != message:
            details.append(f"{field}: {text}" if isinstance(field, str) and field else text)
        elif isinstance(field, str) and field:
            details.append(f"field {field}")
    if details:
        message = f"{message} ({'; '.join(details)})"
    return code, message


_ADVICE = {
    "invalid_grant": (
        "the refresh token was refused: generate a new one for the integration's API client "
        "(task 'Manage Refresh Tokens for Integrations') and set PSFLOW_WORKDAY_REFRESH_TOKEN"
    ),
    "invalid_client": (
        "the API client was refused: check PSFLOW_WORKDAY_CLIENT_ID and PSFLOW_WORKDAY_CLIENT_SECRET "
        "and that the client is registered in the tenant named by PSFLOW_WORKDAY_TENANT"
    ),
}
_FORBIDDEN_ADVICE = (
    "the Integration System User is authenticated but not permitted: grant its security group "
    "access to the domain (Workday reports this as 'S22 Permission Denied')"
)


def explain_auth_error(error: AuthError) -> AuthError:
    """The same failure with what to do about it, for refused credentials and missing permissions.

    Returns `error` itself when there is nothing to add.
    """
    advice = _ADVICE.get(error.code or "") or (_FORBIDDEN_ADVICE if error.status == 403 else None)
    if advice is None:
        return error
    return AuthError(
        error.system,
        f"{error.message} — {advice}",
        status=error.status,
        code=error.code,
        details=error.details,
        method=error.method,
        url=error.url,
    )
