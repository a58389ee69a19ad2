import httpx
import pytest

from connectors._core import (
    DEFAULT_RETRY,
    READ_ONLY_EXTENSION,
    REPLAYABLE_EXTENSION,
    RetryConfig,
    RetryTransport,
    is_read_only,
    is_replayable,
)


class Recorder:
    """A sleep substitute that records delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class ScriptedApi:
    """Answers each call with the next scripted status (or raises the next scripted exception)."""

    def __init__(self, *script: int | Exception, headers: dict[str, str] | None = None) -> None:
        self.script = list(script)
        self.headers = headers or {}
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        headers = self.headers if step != 200 else {}
        return httpx.Response(step, json={"attempt": len(self.calls)}, headers=headers)


async def _send(
    api: ScriptedApi,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    config: RetryConfig = DEFAULT_RETRY,
    sleep: Recorder | None = None,
    extensions: dict[str, object] | None = None,
) -> httpx.Response:
    transport = RetryTransport(httpx.MockTransport(api), config, sleep=sleep or Recorder())
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.test") as client:
        request = client.build_request(
            method, "/things", json={"a": 1} if method != "GET" else None, headers=headers, extensions=extensions
        )
        return await client.send(request)


async def test_get_retried_on_503_then_succeeds() -> None:
    api, sleep = ScriptedApi(503, 200), Recorder()
    response = await _send(api, sleep=sleep)
    assert response.status_code == 200
    assert len(api.calls) == 2
    assert len(sleep.delays) == 1 and 0.1 <= sleep.delays[0] <= 0.2


async def test_backoff_grows_and_is_capped() -> None:
    api, sleep = ScriptedApi(502, 504, 503, 503, 200), Recorder()
    config = RetryConfig(max_attempts=5, base_delay_s=0.5, max_delay_s=1.0)
    response = await _send(api, config=config, sleep=sleep)
    assert response.status_code == 200
    assert 0.25 <= sleep.delays[0] <= 0.5
    assert 0.5 <= sleep.delays[1] <= 1.0
    assert all(d <= 1.0 for d in sleep.delays)


async def test_retry_budget_exhausted_returns_last_response() -> None:
    api = ScriptedApi(503)
    response = await _send(api)
    assert response.status_code == 503
    assert response.json() == {"attempt": 3}
    assert len(api.calls) == 3


async def test_post_without_idempotency_key_not_retried() -> None:
    api = ScriptedApi(503, 200)
    response = await _send(api, "POST")
    assert response.status_code == 503
    assert len(api.calls) == 1


async def test_post_dropped_connection_not_retried() -> None:
    api = ScriptedApi(httpx.RemoteProtocolError("Server disconnected"), 200)
    with pytest.raises(httpx.RemoteProtocolError):
        await _send(api, "POST")
    assert len(api.calls) == 1


async def test_post_connect_error_retried_because_nothing_was_sent() -> None:
    api = ScriptedApi(httpx.ConnectError("refused"), 200)
    response = await _send(api, "POST")
    assert response.status_code == 200
    assert len(api.calls) == 2


@pytest.mark.parametrize("header", ["Idempotency-Key", "X-NetSuite-Idempotency-Key"])
async def test_post_with_idempotency_key_retried(header: str) -> None:
    api = ScriptedApi(503, httpx.ReadTimeout("slow"), 200)
    response = await _send(api, "POST", headers={header: "post-time-entry-4711"})
    assert response.status_code == 200
    assert len(api.calls) == 3
    assert all(call.content == b'{"a":1}' for call in api.calls)


async def test_get_transport_error_retried_then_raised() -> None:
    api = ScriptedApi(httpx.ReadError("reset"))
    with pytest.raises(httpx.ReadError):
        await _send(api)
    assert len(api.calls) == 3


async def test_short_retry_after_is_honoured() -> None:
    api, sleep = ScriptedApi(429, 200, headers={"Retry-After": "1"}), Recorder()
    response = await _send(api, sleep=sleep)
    assert response.status_code == 200
    assert sleep.delays == [1.0]


async def test_long_retry_after_returned_not_slept() -> None:
    api, sleep = ScriptedApi(429, 200, headers={"Retry-After": "30"}), Recorder()
    response = await _send(api, sleep=sleep)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert sleep.delays == []
    assert len(api.calls) == 1


@pytest.mark.parametrize("status", [500, 408, 502, 503, 504, 429])
async def test_a_read_is_retried_on_every_status_the_table_calls_transient(status: int) -> None:
    api = ScriptedApi(status, 200)
    response = await _send(api)
    assert response.status_code == 200
    assert len(api.calls) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
async def test_a_read_is_not_retried_on_a_status_that_will_not_change(status: int) -> None:
    api = ScriptedApi(status, 200)
    response = await _send(api)
    assert response.status_code == status
    assert len(api.calls) == 1


async def test_a_read_only_post_is_retried_on_500_and_resends_its_body() -> None:
    # A query sent as POST (SuiteQL) changes nothing: retried like a GET, 500 included.
    api, sleep = ScriptedApi(500, 500, 200), Recorder()
    response = await _send(api, "POST", sleep=sleep, extensions={READ_ONLY_EXTENSION: True})
    assert response.status_code == 200
    assert len(api.calls) == 3 and all(call.content == b'{"a":1}' for call in api.calls)
    assert len(sleep.delays) == 2


async def test_a_read_only_post_gives_up_after_the_budget_and_returns_the_500() -> None:
    api = ScriptedApi(500)
    response = await _send(api, "POST", extensions={READ_ONLY_EXTENSION: True})
    assert response.status_code == 500
    assert len(api.calls) == DEFAULT_RETRY.max_attempts


async def test_a_500_to_a_write_is_returned_at_once_even_when_safe_to_repeat() -> None:
    # The write's own doing as often as a passing fault: the caller decides what to send again.
    for method, headers in (("PUT", None), ("POST", {"Idempotency-Key": "k-1"}), ("POST", None)):
        api = ScriptedApi(500, 200)
        response = await _send(api, method, headers=headers)
        assert response.status_code == 500
        assert len(api.calls) == 1


async def test_throttle_callback_sees_retry_after() -> None:
    seen: list[float] = []
    api = ScriptedApi(503, 200, headers={"Retry-After": "0.5"})
    transport = RetryTransport(httpx.MockTransport(api), on_throttle=seen.append, sleep=Recorder())
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://api.example.test/")
    assert seen == [0.5]


def test_replayable_decision() -> None:
    names = ("Idempotency-Key",)
    assert is_replayable(httpx.Request("GET", "https://h/"), names)
    assert is_replayable(httpx.Request("PUT", "https://h/"), names)
    assert not is_replayable(httpx.Request("POST", "https://h/"), names)
    assert not is_replayable(httpx.Request("PATCH", "https://h/"), names)
    assert is_replayable(httpx.Request("POST", "https://h/", headers={"idempotency-key": "k"}), names)
    marked = httpx.Request("POST", "https://h/search", extensions={REPLAYABLE_EXTENSION: True})
    assert is_replayable(marked, names)
    unsafe_get = httpx.Request("GET", "https://h/", extensions={REPLAYABLE_EXTENSION: False})
    assert not is_replayable(unsafe_get, names)
    query = httpx.Request("POST", "https://h/query", extensions={READ_ONLY_EXTENSION: True})
    assert is_replayable(query, names)


def test_read_only_decision() -> None:
    assert is_read_only(httpx.Request("GET", "https://h/"))
    assert is_read_only(httpx.Request("HEAD", "https://h/"))
    assert not is_read_only(httpx.Request("PUT", "https://h/"))
    assert not is_read_only(httpx.Request("POST", "https://h/", headers={"idempotency-key": "k"}))
    assert is_read_only(httpx.Request("POST", "https://h/query", extensions={READ_ONLY_EXTENSION: True}))
    assert not is_read_only(httpx.Request("GET", "https://h/", extensions={REPLAYABLE_EXTENSION: False}))


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryConfig(max_attempts=0)
