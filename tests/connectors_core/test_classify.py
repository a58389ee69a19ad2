from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors._core import (
    AuthError,
    BusinessError,
    Classification,
    NotFoundError,
    Outcome,
    PermanentError,
    RateLimitedError,
    Rule,
    TransientError,
    classify,
    classify_exception,
    default_error_parser,
    error_for,
    parse_retry_after,
    retryable_status,
)

SALESFORCE_RULES = (Rule(403, "REQUEST_LIMIT_EXCEEDED", Outcome.RATE_LIMITED),)


def _response(status: int, *, json: object = None, text: str | None = None, headers: dict[str, str] | None = None):
    request = httpx.Request("GET", "https://api.example.test/thing")
    if json is not None:
        return httpx.Response(status, json=json, headers=headers, request=request)
    return httpx.Response(status, text=text or "", headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (201, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (401, Outcome.AUTH),
        (403, Outcome.AUTH),
        (404, Outcome.NOT_FOUND),
        (410, Outcome.NOT_FOUND),
        (408, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (502, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
        (504, Outcome.TRANSIENT),
        (429, Outcome.RATE_LIMITED),
        (400, Outcome.BUSINESS),
        (409, Outcome.BUSINESS),
        (412, Outcome.BUSINESS),
        (422, Outcome.BUSINESS),
        (405, Outcome.PERMANENT),
        (415, Outcome.PERMANENT),
        (451, Outcome.PERMANENT),
        (501, Outcome.TRANSIENT),
        (599, Outcome.TRANSIENT),
        (300, Outcome.PERMANENT),
    ],
)
def test_default_table(status: int, outcome: Outcome) -> None:
    assert classify(_response(status)).outcome is outcome
    # The in-process retry of reads asks the same table.
    assert retryable_status(status) is (outcome in (Outcome.TRANSIENT, Outcome.RATE_LIMITED))


def test_salesforce_quota_rule_overrides_403() -> None:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    result = classify(_response(403, json=body), rules=SALESFORCE_RULES)
    assert result == Classification(
        Outcome.RATE_LIMITED, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", None
    )


def test_rule_does_not_match_other_codes() -> None:
    body = [{"message": "Insufficient access", "errorCode": "INSUFFICIENT_ACCESS"}]
    assert classify(_response(403, json=body), rules=SALESFORCE_RULES).outcome is Outcome.AUTH


def test_rule_with_wildcard_status_matches_code() -> None:
    body = {"o:errorDetails": [{"detail": "Too many", "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}]}
    rules = [Rule(None, "CONCURRENCY_LIMIT_EXCEEDED", Outcome.RATE_LIMITED)]
    assert classify(_response(400, json=body), rules=rules).outcome is Outcome.RATE_LIMITED


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            [{"message": "Required fields are missing: [LastName]", "errorCode": "REQUIRED_FIELD_MISSING"}],
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
        ),
        (
            {
                "status": "error",
                "message": "Property values were not valid",
                "category": "VALIDATION_ERROR",
                "errors": [{"message": "bad", "code": "INVALID_INTEGER"}],
            },
            "VALIDATION_ERROR",
            "Property values were not valid",
        ),
        (
            {
                "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
                "title": "Bad Request",
                "status": 400,
                "o:errorDetails": [{"detail": "Invalid quantity", "o:errorCode": "USER_ERROR"}],
            },
            "USER_ERROR",
            "Invalid quantity",
        ),
        (
            {"error": "invalid_grant", "error_description": "expired authorization code"},
            "invalid_grant",
            "expired authorization code",
        ),
        (
            {"error": {"code": "BadRequest_NotFound", "message": "The customer does not exist"}},
            "BadRequest_NotFound",
            "The customer does not exist",
        ),
        (
            {"errors": [{"type": "validation", "message": "title can't be blank", "field": "title"}]},
            "validation",
            "title can't be blank",
        ),
        ({"error": "Invalid worker reference"}, None, "Invalid worker reference"),
    ],
)
def test_default_error_parser_shapes(body: object, code: str | None, message: str) -> None:
    assert default_error_parser(_response(400, json=body)) == (code, message)


def test_default_error_parser_text_and_empty_bodies() -> None:
    assert default_error_parser(_response(502, text="<html>  Bad\n gateway </html>")) == (
        None,
        "<html> Bad gateway </html>",
    )
    assert default_error_parser(_response(503)) == (None, "Service Unavailable")


def test_parser_failure_falls_back_to_default() -> None:
    def broken(response: httpx.Response) -> tuple[str | None, str]:
        raise KeyError("errors")

    result = classify(_response(422, json={"message": "nope", "code": "X"}), parse_error=broken)
    assert (result.outcome, result.code, result.message) == (Outcome.BUSINESS, "X", "nope")


def test_retry_after_read_for_any_outcome() -> None:
    assert classify(_response(503, headers={"Retry-After": "7"})).retry_after == 7.0
    assert classify(_response(429, headers={"Retry-After": "1.5"})).retry_after == 1.5
    assert classify(_response(200, headers={"Retry-After": "3"})).retry_after == 3.0


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "NaN", "inf", "Mon, 99 Foo 2025"])
def test_parse_retry_after_garbage(value: str | None) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize(
    ("outcome", "cls"),
    [
        (Outcome.TRANSIENT, TransientError),
        (Outcome.RATE_LIMITED, RateLimitedError),
        (Outcome.AUTH, AuthError),
        (Outcome.NOT_FOUND, NotFoundError),
        (Outcome.BUSINESS, BusinessError),
        (Outcome.PERMANENT, PermanentError),
    ],
)
def test_error_for_chooses_subclass(outcome: Outcome, cls: type) -> None:
    error = error_for("kantata", Classification(outcome, 499, "C", "msg", 4.0), details={"x": 1})
    assert type(error) is cls
    assert (error.system, error.outcome, error.status, error.code, error.retry_after, error.details) == (
        "kantata",
        outcome,
        499,
        "C",
        4.0,
        {"x": 1},
    )


def test_error_for_success_is_a_bug() -> None:
    with pytest.raises(ValueError, match="success"):
        error_for("kantata", Classification(Outcome.SUCCESS, 200, None, "", None))


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "connect_error"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "connection_dropped"),
        (httpx.ReadError("reset by peer"), "network_error"),
    ],
)
def test_transport_errors_are_transient(exc: httpx.TransportError, code: str) -> None:
    exc.request = httpx.Request("GET", "https://erp.example.test/record?access_token=abcdef123")
    error = classify_exception("netsuite", exc)
    assert isinstance(error, TransientError)
    assert error.code == code
    assert error.retryable
    assert "abcdef123" not in str(error)
    assert str(error).startswith("netsuite: ")


def test_unsupported_protocol_is_permanent() -> None:
    error = classify_exception(
        "netsuite", httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'")
    )
    assert isinstance(error, PermanentError)
    assert not error.retryable
