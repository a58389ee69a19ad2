"""Reading HubSpot's error bodies and 429 delays (pure, over hand-built responses)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from connectors._core import Outcome, RateLimitedError, classify
from connectors.hubspot.errors import parse_hubspot_error, rate_limit_delay, rate_limited_error

REQUEST = httpx.Request("GET", "https://api.hubapi.com/crm/v3/objects/deals/1")


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None, text: str | None = None
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=REQUEST)
    return httpx.Response(status, json=body, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("status", "body", "code", "outcome", "fragment"),
    [
        (
            400,
            {
                "status": "error",
                "message": "Property values were not valid",
                "correlationId": "c-1",
                "category": "VALIDATION_ERROR",
                "errors": [{"message": 'Property "colour" does not exist', "code": "PROPERTY_DOESNT_EXIST"}],
            },
            "VALIDATION_ERROR",
            Outcome.BUSINESS,
            'Property "colour" does not exist',
        ),
        (404, {"status": "error", "message": "No deal with id 1", "category": "OBJECT_NOT_FOUND"}, "OBJECT_NOT_FOUND",
         Outcome.NOT_FOUND, "No deal"),
        (401, {"status": "error", "message": "Authentication credentials not found", "category":
               "INVALID_AUTHENTICATION"}, "INVALID_AUTHENTICATION", Outcome.AUTH, "credentials"),
        (403, {"status": "error", "message": "This app hasn't been granted all required scopes",
               "category": "MISSING_SCOPES"}, "MISSING_SCOPES", Outcome.AUTH, "scopes"),
        (409, {"status": "error", "message": "A company with psflow_id=x already exists. Existing ID: 5",
               "category": "CONFLICT"}, "CONFLICT", Outcome.BUSINESS, "Existing ID: 5"),
        (429, {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
               "policyName": "SECONDLY"}, "RATE_LIMIT", Outcome.RATE_LIMITED, "secondly limit"),
        (502, None, None, Outcome.TRANSIENT, "Bad Gateway"),
    ],
)  # fmt: skip
def test_error_bodies_are_classified(status: int, body: Any, code: str | None, outcome: Outcome, fragment: str) -> None:
    classification = classify(response(status, body), parse_error=parse_hubspot_error)
    assert (classification.outcome, classification.code) == (outcome, code)
    assert fragment in classification.message


def test_correlation_id_is_kept_for_support() -> None:
    code, message = parse_hubspot_error(
        response(400, {"status": "error", "message": "Bad", "correlationId": "abc-123", "category": "VALIDATION_ERROR"})
    )
    assert code == "VALIDATION_ERROR" and "correlationId abc-123" in message


def test_non_hubspot_bodies_fall_back_to_the_common_parser() -> None:
    assert parse_hubspot_error(response(503, text="<html>upstream down</html>")) == (None, "<html>upstream down</html>")


NOW = datetime(2026, 5, 4, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "body", "delay"),
    [
        ({"Retry-After": "3"}, {}, 3.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, {"policyName": "TEN_SECONDLY_ROLLING"}, 10.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "1000"}, {}, 1.0),
        ({}, {"policyName": "DAILY"}, 3600.0),
        ({}, {}, 10.0),
        ({"X-HubSpot-RateLimit-Interval-Milliseconds": "soon"}, {}, 10.0),
    ],
    ids=["retry-after", "ten-secondly", "short-window", "daily-until-midnight-utc", "no-headers", "garbage"],
)
def test_rate_limit_delay(headers: dict[str, str], body: dict[str, Any], delay: float) -> None:
    assert rate_limit_delay(response(429, body, headers), now=NOW) == delay


def test_rate_limited_error_carries_policy_and_delay() -> None:
    error = rate_limited_error(
        response(
            429,
            {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
             "category": "RATE_LIMITS", "policyName": "TEN_SECONDLY_ROLLING"},
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Remaining": "0"},
        )
    )  # fmt: skip
    assert isinstance(error, RateLimitedError)
    assert (error.outcome, error.code, error.retry_after, error.status) == (
        Outcome.RATE_LIMITED,
        "RATE_LIMITS",
        10.0,
        429,
    )
    assert "TEN_SECONDLY_ROLLING" in str(error)
