"""Salesforce's documented error shapes and limits, and the outcome the connector gives each."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors._core import BusinessError, Outcome, classify
from connectors.salesforce import RULES, SalesforceConnector, parse_limit_info, parse_salesforce_error


def sf_error(code: str, message: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
    return [{"message": message, "errorCode": code, "fields": fields or []}]


@pytest.mark.parametrize(
    ("status", "body", "outcome", "code"),
    [
        (400, sf_error("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]"), Outcome.BUSINESS, None),
        (400, sf_error("MALFORMED_QUERY", "unexpected token: 'FORM'"), Outcome.BUSINESS, None),
        (400, sf_error("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Close date must be later"), Outcome.BUSINESS, None),
        (400, sf_error("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access"), Outcome.TRANSIENT, None),
        (401, sf_error("INVALID_SESSION_ID", "Session expired or invalid"), Outcome.AUTH, None),
        (403, sf_error("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights"), Outcome.AUTH, None),
        (403, sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), Outcome.RATE_LIMITED, None),
        (404, sf_error("NOT_FOUND", "The requested resource does not exist"), Outcome.NOT_FOUND, None),
        (409, sf_error("CONFLICT", "record was modified"), Outcome.BUSINESS, None),
        (500, sf_error("UNKNOWN_EXCEPTION", "An unexpected error occurred"), Outcome.TRANSIENT, None),
        (503, sf_error("SERVER_UNAVAILABLE", "Server is busy"), Outcome.TRANSIENT, None),
        (
            400,
            {"error": "invalid_grant", "error_description": "authentication failure"},
            Outcome.BUSINESS,
            "invalid_grant",
        ),
        (502, "<html>Bad gateway</html>", Outcome.TRANSIENT, None),
    ],
)
def test_each_error_shape_is_classified(status: int, body: Any, outcome: Outcome, code: str | None) -> None:
    response = httpx.Response(status, json=body) if not isinstance(body, str) else httpx.Response(status, text=body)
    result = classify(response, parse_error=parse_salesforce_error, rules=RULES)
    # Salesforce arrays carry their own errorCode; the others name it in the table.
    expected_code = body[0]["errorCode"] if isinstance(body, list) else code
    assert (result.outcome, result.code) == (outcome, expected_code)
    assert result.message


def test_every_error_of_an_array_is_kept_with_its_fields() -> None:
    body = sf_error("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]) + sf_error(
        "INVALID_EMAIL_ADDRESS", "Email: invalid email address: x", ["Email"]
    )
    code, message = parse_salesforce_error(httpx.Response(400, json=body))
    assert code == "REQUIRED_FIELD_MISSING"
    assert message == (
        "Required fields are missing: [LastName] (fields: LastName); Email: invalid email address: x (fields: Email)"
    )


@pytest.mark.parametrize(
    ("header", "usage"),
    [
        ("api-usage=18/5000", (18, 5000)),
        ("api-usage=18/5000; per-app-api-usage=17/250(appName=psflow)", (18, 5000)),
        ("per-app-api-usage=17/250(appName=psflow)", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_limit_info(header: str | None, usage: tuple[int, int] | None) -> None:
    assert parse_limit_info(header) == usage


async def test_a_refused_query_is_a_business_error_with_salesforces_code(connector: SalesforceConnector) -> None:
    with pytest.raises(BusinessError) as raised:
        [row async for row in connector.query("SELECT COUNT() FROM Opportunity")]
    assert (raised.value.status, raised.value.code) == (400, "MALFORMED_QUERY")
    assert isinstance(raised.value.details, list) and raised.value.details[0]["errorCode"] == "MALFORMED_QUERY"
