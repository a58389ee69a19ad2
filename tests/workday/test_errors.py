"""Workday's error bodies → (code, message), and the advice added to refused credentials."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors._core import AuthError, Outcome, classify
from connectors.workday.errors import explain_auth_error, parse_workday_error


def _response(status: int, body: Any = None, text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", "https://wd2-impl-services1.workday.com/ccx/api/common/v1/acme/workers")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"error": "limit must be between 1 and 100", "errors": [{"error": "limit must be between 1 and 100",
                                                                     "code": "invalid_parameter"}]},
            "invalid_parameter",
            "limit must be between 1 and 100",
        ),
        (
            {"error": "Validation error occurred.", "errors": [{"error": "Invalid date", "field": "fromDate"}]},
            None,
            "Validation error occurred. (fromDate: Invalid date)",
        ),
        (
            {"error": "Validation error occurred.", "errors": [{"field": "toDate"}, "junk"]},
            None,
            "Validation error occurred. (field toDate)",
        ),
        ({"error": "Resource not found"}, None, "Resource not found"),
        (
            {"error": "invalid_grant", "error_description": "The refresh token is invalid"},
            "invalid_grant",
            "The refresh token is invalid",
        ),
    ],
)  # fmt: skip
def test_parse_workday_error(body: Any, code: str | None, message: str) -> None:
    assert parse_workday_error(_response(400, body)) == (code, message)


def test_non_json_bodies_fall_back_to_text() -> None:
    assert parse_workday_error(_response(502, text="<html>Bad gateway</html>")) == (None, "<html>Bad gateway</html>")
    assert parse_workday_error(_response(503, text="")) == (None, "Service Unavailable")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, Outcome.BUSINESS),
        (401, Outcome.AUTH),
        (403, Outcome.AUTH),
        (404, Outcome.NOT_FOUND),
        (429, Outcome.RATE_LIMITED),
        (500, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
    ],
)
def test_documented_statuses_are_classified(status: int, outcome: Outcome) -> None:
    response = _response(status, {"error": "something", "errors": [{"error": "something", "code": "x"}]})
    result = classify(response, parse_error=parse_workday_error)
    assert (result.outcome, result.code, result.message) == (outcome, "x", "something")


@pytest.mark.parametrize(
    ("code", "status", "advice"),
    [
        ("invalid_grant", 400, "PSFLOW_WORKDAY_REFRESH_TOKEN"),
        ("invalid_client", 401, "PSFLOW_WORKDAY_CLIENT_SECRET"),
        ("S22", 403, "security group"),
    ],
)
def test_refused_credentials_say_what_to_do(code: str, status: int, advice: str) -> None:
    error = AuthError("workday", "token request refused: nope", status=status, code=code, url="https://x/token")
    explained = explain_auth_error(error)
    assert advice in explained.message
    assert explained.message.startswith("token request refused: nope")
    assert (explained.status, explained.code, explained.url) == (status, code, "https://x/token")


def test_other_auth_errors_are_left_alone() -> None:
    error = AuthError("workday", "Invalid access token", status=401, code="invalid_token")
    assert explain_auth_error(error) is error
