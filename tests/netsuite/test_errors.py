"""NetSuite's error shapes, parsed and classified: one test per documented error and limit."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from connectors._core import (
    AuthError,
    BusinessError,
    ConnectorError,
    NotFoundError,
    Outcome,
    RateLimitedError,
    classify,
)
from connectors.netsuite import NetSuiteConnector, is_closed_period, parse_error
from connectors.netsuite.errors import RULES
from tests.netsuite.conftest import count, settings

RECORDS = "/record/v1"


def _response(status: int, body: Any) -> httpx.Response:
    request = httpx.Request("GET", "https://1234567.suitetalk.api.netsuite.com/services/rest/record/v1/job/1")
    kwargs: dict[str, Any] = {"text": body} if isinstance(body, str) else {"json": body}
    return httpx.Response(status, request=request, **kwargs)


def _netsuite(status: int, *details: dict[str, str]) -> dict[str, Any]:
    return {"type": "https://www.w3.org/...", "title": "Bad Request", "status": status, "o:errorDetails": list(details)}


@pytest.mark.parametrize(
    ("status", "body", "code", "message", "outcome"),
    [
        (400, _netsuite(400, {"detail": "Invalid field value.", "o:errorCode": "INVALID_FLD_VALUE",
                              "o:errorPath": "item.items[0].quantity"}),
         "INVALID_FLD_VALUE", "item.items[0].quantity: Invalid field value.", Outcome.BUSINESS),
        (400, _netsuite(400, {"detail": "A", "o:errorCode": "USER_ERROR"}, {"detail": "B", "o:errorCode": "X"}),
         "USER_ERROR", "A; B", Outcome.BUSINESS),
        (401, _netsuite(401, {"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}),
         "INVALID_LOGIN", "Invalid login attempt.", Outcome.AUTH),
        (403, _netsuite(403, {"detail": "Permission Violation", "o:errorCode": "INSUFFICIENT_PERMISSION"}),
         "INSUFFICIENT_PERMISSION", "Permission Violation", Outcome.AUTH),
        (404, _netsuite(404, {"detail": "The record instance does not exist.", "o:errorCode": "NONEXISTENT_ID"}),
         "NONEXISTENT_ID", "The record instance does not exist.", Outcome.NOT_FOUND),
        (429, _netsuite(429, {"detail": "Concurrent request limit exceeded.",
                              "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}),
         "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded.", Outcome.RATE_LIMITED),
        (400, _netsuite(400, {"detail": "RESTlet limit", "o:errorCode": "SSS_REQUEST_LIMIT_EXCEEDED"}),
         "SSS_REQUEST_LIMIT_EXCEEDED", "RESTlet limit", Outcome.RATE_LIMITED),
        (400, {"error": "invalid_grant", "error_description": "assertion expired"},
         "invalid_grant", "assertion expired", Outcome.BUSINESS),
        (502, "<html>Bad gateway</html>", None, "<html>Bad gateway</html>", Outcome.TRANSIENT),
    ],
)  # fmt: skip
def test_error_bodies_are_parsed_and_classified(
    status: int, body: Any, code: str | None, message: str, outcome: Outcome
) -> None:
    response = _response(status, body)
    assert parse_error(response) == (code, message)
    assert classify(response, parse_error=parse_error, rules=RULES).outcome is outcome


@pytest.mark.parametrize(
    ("message", "closed"),
    [("The accounting period Aug 2026 is closed: ...", True), ("Invalid customer reference key 9.", False)],
)
def test_closed_periods_are_told_apart_from_other_business_errors(message: str, closed: bool) -> None:
    assert is_closed_period(BusinessError("netsuite", message, status=400, code="INVALID_FLD_VALUE")) is closed
    assert not is_closed_period(ConnectorError("netsuite", message, outcome=Outcome.TRANSIENT))


async def _raises(netsuite: NetSuiteConnector, kind: type[ConnectorError], method: str, url: str, **kw: Any) -> Any:
    with pytest.raises(kind) as caught:
        await netsuite.client.request(method, url, **kw)
    return caught.value


async def test_a_missing_record_is_not_found(netsuite: NetSuiteConnector) -> None:
    error = await _raises(netsuite, NotFoundError, "GET", f"{RECORDS}/job/999999")
    assert (error.status, error.code) == (404, "NONEXISTENT_ID")
    error = await _raises(netsuite, NotFoundError, "PATCH", f"{RECORDS}/job/eid:nope", json={"isInactive": True})
    assert error.code == "NONEXISTENT_ID"


async def test_an_unknown_field_is_invalid_content_and_nothing_is_stored(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    before = await count(admin, "customer")
    error = await _raises(
        netsuite, BusinessError, "POST", f"{RECORDS}/customer", json={"companyName": "X", "colour": "blue"}
    )
    assert error.code == "INVALID_CONTENT" and "colour" in error.message
    error = await _raises(netsuite, BusinessError, "POST", f"{RECORDS}/customer", json={"isPerson": False})
    assert error.code == "USER_ERROR" and "companyName" in error.message
    error = await _raises(netsuite, BusinessError, "PUT", f"{RECORDS}/customer/42", json={"companyName": "X"})
    assert error.code == "INVALID_PARAMETER" and "eid:" in error.message
    assert await count(admin, "customer") == before


async def test_a_bad_value_names_the_field(netsuite: NetSuiteConnector) -> None:
    body = {"employee": {"id": "1"}, "customer": {"id": "52"}, "tranDate": "03/11/26x", "hours": "7:30"}
    error = await _raises(netsuite, BusinessError, "PUT", f"{RECORDS}/timeBill/eid:x", json=body)
    assert error.code == "INVALID_FLD_VALUE" and "tranDate" in error.message
    body = {**body, "tranDate": "2026-11-03", "hours": "25:00"}
    error = await _raises(netsuite, BusinessError, "PUT", f"{RECORDS}/timeBill/eid:x", json=body)
    assert error.code == "INVALID_FLD_VALUE" and "hours" in error.message.lower()


async def test_unsupported_suiteql_is_refused_not_answered_wrongly(netsuite: NetSuiteConnector) -> None:
    for query, hint in (
        ("SELECT COUNT(*) FROM timebill", "COUNT"),
        ("SELECT id FROM timebill WHERE hours > 1 OR rate > 1", "OR"),
        ("SELECT t.id FROM timebill t JOIN job j ON t.customer = j.id", "t.id"),
        ("SELECT id FROM nosuchtable", "nosuchtable"),
        ("SELECT colour FROM job", "colour"),
    ):
        with pytest.raises(BusinessError) as refused:
            await netsuite.suiteql_page(query)
        assert refused.value.code == "INVALID_PARAMETER" and hint in refused.value.message, query


async def test_suiteql_needs_prefer_transient(netsuite: NetSuiteConnector) -> None:
    error = await _raises(netsuite, BusinessError, "POST", "/query/v1/suiteql", json={"q": "SELECT id FROM job"})
    assert "Prefer: transient" in error.message


async def test_a_duplicate_external_id_on_create_is_refused(netsuite: NetSuiteConnector) -> None:
    error = await _raises(
        netsuite, BusinessError, "POST", f"{RECORDS}/job", json={"companyName": "Dup", "parent": {"id": "51"},
                                                                  "externalId": "PRJ-0001"}
    )  # fmt: skip
    assert error.code == "USER_ERROR" and "eid:PRJ-0001" in error.message


async def test_a_wrong_signature_is_invalid_login(transport: httpx.ASGITransport) -> None:
    async with NetSuiteConnector(settings(tba_token_secret="not-the-secret"), transport=transport) as wrong:
        with pytest.raises(AuthError) as refused:
            await wrong.find_employee("E-1001")
    assert (refused.value.status, refused.value.code) == (401, "INVALID_LOGIN")
    assert "signature" in refused.value.message


async def test_the_concurrency_limit_answers_429_rate_limited(
    transport: httpx.ASGITransport, admin: httpx.AsyncClient
) -> None:
    (await admin.put("/_admin/netsuite/concurrency", json={"limit": 2, "service_time_ms": 100})).raise_for_status()
    unbudgeted = settings(max_concurrency=None, retry_attempts=1)
    async with NetSuiteConnector(unbudgeted, transport=transport) as netsuite:
        assert netsuite.budget is None
        results = await asyncio.gather(*(netsuite.find_employee("E-1001") for _ in range(6)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, BaseException)]
    assert refused and all(isinstance(r, RateLimitedError) for r in refused)
    assert {(r.status, r.code) for r in refused if isinstance(r, RateLimitedError)} == {
        (429, "CONCURRENCY_LIMIT_EXCEEDED")
    }
    state = (await admin.get("/_admin/netsuite/state")).json()
    assert state["peak_in_flight"] == 2 and state["rejected"] == len(refused)
