import logging

import httpx
import pytest

from connectors._core import (
    BusinessError,
    NotFoundError,
    Outcome,
    PermanentError,
    RateBudget,
    RateLimitedError,
    RestClient,
    RetryConfig,
    Rule,
    TransientError,
)

FAST_RETRY = RetryConfig(base_delay_s=0.0)


class Api:
    """Replies from a per-path script of (status, json, headers); records every request."""

    def __init__(self, routes: dict[str, list[tuple[int, object, dict[str, str]]] | Exception]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes[request.url.path]
        if isinstance(route, Exception):
            raise route
        status, body, headers = route.pop(0) if len(route) > 1 else route[0]
        if body is None:
            return httpx.Response(status, headers=headers)
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)


def _client(api: Api, **kwargs: object) -> RestClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return RestClient("erp", base_url="https://erp.example.test/v1", transport=httpx.MockTransport(api), **kwargs)  # type: ignore[arg-type]


async def test_get_json_success_and_default_headers() -> None:
    api = Api({"/v1/customers/7": [(200, {"id": "7"}, {})]})
    async with _client(api, headers={"X-Tenant": "acme"}) as client:
        assert await client.get_json("customers/7") == {"id": "7"}
    request = api.requests[0]
    assert request.headers["Accept"] == "application/json"
    assert request.headers["X-Tenant"] == "acme"
    assert request.headers["User-Agent"].startswith("psflow")


async def test_not_found_raises_with_system_and_context() -> None:
    body = {
        "type": "x",
        "title": "Not Found",
        "status": 404,
        "o:errorDetails": [{"detail": "Record customer 7 was not found.", "o:errorCode": "NONEXISTENT_ID"}],
    }
    api = Api({"/v1/customers/7": [(404, body, {})]})
    async with _client(api) as client:
        with pytest.raises(NotFoundError) as caught:
            await client.get_json("customers/7", params={"access_token": "leaky-token-1"})
    error = caught.value
    assert (error.system, error.status, error.code, error.method) == ("erp", 404, "NONEXISTENT_ID", "GET")
    assert error.details == body
    assert str(error) == (
        "erp: HTTP 404 NONEXISTENT_ID: Record customer 7 was not found. "
        "[not_found; GET https://erp.example.test/v1/customers/7?access_token=***]"
    )
    assert "leaky-token-1" not in repr(error)


async def test_allowed_statuses_are_returned() -> None:
    api = Api({"/v1/a": [(404, {"message": "gone"}, {})], "/v1/b": [(300, ["/x/1", "/x/2"], {})]})
    async with _client(api) as client:
        assert (await client.request("GET", "a", allow={404})).status_code == 404
        assert (await client.request("PATCH", "b", json={}, allow=(300,))).json() == ["/x/1", "/x/2"]
        assert (await client.delete("a", allow={404})).status_code == 404


async def test_business_error_keeps_body_details() -> None:
    body = [{"message": "Name: required", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"]}]
    api = Api({"/v1/sobjects/Account": [(400, body, {})]})
    async with _client(api) as client:
        with pytest.raises(BusinessError) as caught:
            await client.post_json("sobjects/Account", {"Industry": "Consulting"})
    assert caught.value.details[0]["fields"] == ["Name"]
    assert not caught.value.retryable


async def test_salesforce_rule_makes_403_quota_rate_limited() -> None:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    api = Api({"/v1/query": [(403, body, {})]})
    rules = [Rule(403, "REQUEST_LIMIT_EXCEEDED", Outcome.RATE_LIMITED)]
    async with _client(api, rules=rules) as client:
        with pytest.raises(RateLimitedError):
            await client.get_json("query")


async def test_long_retry_after_becomes_rate_limited_error_without_sleeping() -> None:
    api = Api(
        {
            "/v1/deals": [
                (
                    429,
                    {"message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT"},
                    {"Retry-After": "30"},
                )
            ]
        }
    )
    async with _client(api, retry=RetryConfig()) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.get_json("deals")
    assert caught.value.retry_after == 30.0
    assert caught.value.code == "RATE_LIMIT"
    assert len(api.requests) == 1


async def test_get_retried_on_503_inside_one_budget_slot() -> None:
    api = Api({"/v1/jobs": [(503, None, {}), (200, {"ok": True}, {})]})
    budget = RateBudget("erp", max_concurrency=2)
    async with _client(api, budget=budget) as client:
        assert await client.get_json("jobs") == {"ok": True}
    assert len(api.requests) == 2
    assert budget.total_requests == 1


async def test_exhausted_retries_raise_transient() -> None:
    api = Api({"/v1/jobs": [(503, "<html>down for maintenance</html>", {})]})
    async with _client(api) as client:
        with pytest.raises(TransientError, match="erp: HTTP 503: <html>down for maintenance</html>"):
            await client.get_json("jobs")
    assert len(api.requests) == 3


async def test_post_with_idempotency_key_sends_header_and_is_retried() -> None:
    api = Api({"/v1/timebill": [(502, None, {}), (204, None, {})]})
    async with _client(api) as client:
        result = await client.post_json(
            "timebill", {"hours": 8}, idempotency_key="kantata-te-4711", idempotency_header="X-NetSuite-Idempotency-Key"
        )
    assert result is None
    assert [r.headers["X-NetSuite-Idempotency-Key"] for r in api.requests] == ["kantata-te-4711"] * 2


async def test_post_without_key_is_not_retried_but_read_only_post_can_be() -> None:
    api = Api(
        {"/v1/timebill": [(503, None, {}), (201, {"id": "1"}, {})], "/v1/search": [(503, None, {}), (200, [], {})]}
    )
    async with _client(api) as client:
        with pytest.raises(TransientError):
            await client.post_json("timebill", {"hours": 8})
        assert await client.post_json("search", {"filter": "x"}, idempotent=True) == []
    assert [r.url.path for r in api.requests] == ["/v1/timebill", "/v1/search", "/v1/search"]


async def test_a_read_only_post_is_retried_on_500_a_plain_post_is_not() -> None:
    api = Api(
        {
            "/v1/query": [(500, None, {}), (500, None, {}), (200, {"items": []}, {})],
            "/v1/timebill": [(500, None, {}), (201, {"id": "1"}, {})],
        }
    )
    async with _client(api) as client:
        assert await client.post_json("query", {"q": "SELECT id FROM job"}, read_only=True) == {"items": []}
        with pytest.raises(TransientError) as caught:
            await client.post_json("timebill", {"hours": 8}, idempotency_key="k")
    assert caught.value.status == 500
    assert [r.url.path for r in api.requests] == ["/v1/query"] * 3 + ["/v1/timebill"]


async def test_transport_errors_become_transient_errors() -> None:
    api = Api({"/v1/jobs": httpx.ConnectTimeout("timed out"), "/v1/post": httpx.RemoteProtocolError("dropped")})
    async with _client(api) as client:
        with pytest.raises(TransientError) as caught:
            await client.get_json("jobs")
        assert caught.value.code == "timeout"
        assert len(api.requests) == 3
        with pytest.raises(TransientError, match="connection_dropped"):
            await client.post_json("post", {"a": 1})
    assert len(api.requests) == 4


async def test_retry_disabled() -> None:
    api = Api({"/v1/jobs": [(503, None, {}), (200, {}, {})]})
    async with _client(api, retry=None) as client:
        with pytest.raises(TransientError):
            await client.get_json("jobs")
    assert len(api.requests) == 1


async def test_non_json_success_body_is_a_permanent_error() -> None:
    api = Api({"/v1/jobs": [(200, "<html>login page</html>", {"Content-Type": "text/html"})]})
    async with _client(api) as client:
        with pytest.raises(PermanentError, match="expected a JSON body, got text/html"):
            await client.get_json("jobs")


async def test_requests_are_logged_at_debug_with_redacted_url(caplog: pytest.LogCaptureFixture) -> None:
    api = Api({"/v1/jobs": [(200, {}, {})]})
    async with _client(api) as client:
        with caplog.at_level(logging.DEBUG, logger="connectors._core._client"):
            await client.get_json("jobs", params={"access_token": "log-leak-1", "limit": 5})
    [record] = [r for r in caplog.records if r.name == "connectors._core._client"]
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert message.startswith("erp GET https://erp.example.test/v1/jobs?access_token=***&limit=5 -> 200 in ")
    assert message.endswith(" ms")
    assert "log-leak-1" not in caplog.text
