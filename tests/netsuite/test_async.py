"""Asynchronous requests and ``X-NetSuite-Idempotency-Key``, as Oracle documents them.

The key counts only with ``Prefer: respond-async``: a reused key is refused (400 ``IDEMPOTENCY_ERROR``
with the first job's ``Location``), never answered with a stored result. Synchronous requests ignore
it, so an upsert repeated with the same key and body is applied again — which is what lets a redo
re-activate a job that a compensation inactivated.
"""

from __future__ import annotations

from typing import Any

import httpx

from connectors.netsuite import NetSuiteConnector
from tests.netsuite.conftest import count

RECORDS = "/record/v1"
ASYNC = {"Prefer": "respond-async"}
KEY = "X-NetSuite-Idempotency-Key"


async def _json(netsuite: NetSuiteConnector, url: str) -> Any:
    return netsuite.client.decode_json(await netsuite.client.request("GET", url))


async def test_a_synchronous_upsert_ignores_the_key_and_is_applied_every_time(netsuite: NetSuiteConnector) -> None:
    key = {KEY: "0b6f7c7e-0000-4000-8000-000000000001"}
    job = f"{RECORDS}/job/eid:PRJ-0001"
    active = {"isInactive": False}
    await netsuite.client.request("PUT", job, json=active, headers=key)
    await netsuite.client.request("PATCH", job, json={"isInactive": True}, idempotent=True)
    again = await netsuite.client.request("PUT", job, json=active, headers=key)
    assert again.status_code == 204
    assert (await _json(netsuite, job))["isInactive"] is False


async def test_synchronous_creates_with_one_key_are_two_records(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    before = await count(admin, "customer")
    key = {KEY: "0b6f7c7e-0000-4000-8000-000000000002"}
    first = await netsuite.client.request("POST", f"{RECORDS}/customer", json={"companyName": "A"}, headers=key)
    second = await netsuite.client.request("POST", f"{RECORDS}/customer", json={"companyName": "A"}, headers=key)
    assert first.headers["Location"] != second.headers["Location"]
    assert "Preference-Applied" not in first.headers
    assert await count(admin, "customer") == before + 2


async def test_an_asynchronous_write_is_a_job_whose_result_is_the_synchronous_answer(
    netsuite: NetSuiteConnector,
) -> None:
    accepted = await netsuite.client.request(
        "PUT", f"{RECORDS}/job/eid:PRJ-0001", json={"isInactive": True}, headers=ASYNC
    )
    assert accepted.status_code == 202 and accepted.headers["Preference-Applied"] == "respond-async"
    job_url = accepted.headers["Location"]
    assert job_url.startswith("http://127.0.0.1:8700/netsuite/services/rest/async/v1/job/")
    job = await _json(netsuite, job_url)
    assert (job["completed"], job["progress"], job["id"]) == (True, "succeeded", job_url.rsplit("/", 1)[1])
    tasks = await _json(netsuite, job["task"]["links"][0]["href"])
    assert tasks["count"] == 1
    task = await _json(netsuite, tasks["items"][0]["links"][0]["href"])
    assert task["progress"] == "succeeded" and task["startTime"] <= task["endTime"]
    result = await netsuite.client.request("GET", task["result"]["links"][0]["href"])
    assert result.status_code == 204
    record = await _json(netsuite, result.headers["Location"])
    assert record["externalId"] == "PRJ-0001" and record["isInactive"] is True


async def test_a_reused_key_is_refused_with_the_first_job_whatever_the_body(
    netsuite: NetSuiteConnector, admin: httpx.AsyncClient
) -> None:
    before = await count(admin, "customer")
    headers = {**ASYNC, KEY: "cac827ea-3543-4cda-add2-bae634326c27"}
    first = await netsuite.client.request("POST", f"{RECORDS}/customer", json={"companyName": "Once"}, headers=headers)
    for method, path, body in [
        ("POST", f"{RECORDS}/customer", {"companyName": "Once"}),
        ("POST", f"{RECORDS}/customer", {"companyName": "Twice"}),
        ("PUT", f"{RECORDS}/job/eid:PRJ-0001", {"isInactive": False}),
    ]:
        refused = await netsuite.client.request(method, path, json=body, headers=headers, allow={400})
        assert refused.status_code == 400
        assert refused.headers["Location"] == first.headers["Location"]
        assert refused.headers["Preference-Applied"] == "respond-async"
        error = refused.json()
        assert (error["title"], error["status"]) == ("Conflict", 400)
        assert error["o:errorDetails"][0]["o:errorCode"] == "IDEMPOTENCY_ERROR"
    assert await count(admin, "customer") == before + 1


async def test_a_failed_job_keeps_the_error_the_request_would_have_had(netsuite: NetSuiteConnector) -> None:
    body = {"companyName": "Orphan", "parent": {"id": "999999"}}
    accepted = await netsuite.client.request("POST", f"{RECORDS}/job", json=body, headers=ASYNC)
    job = await _json(netsuite, accepted.headers["Location"])
    assert (job["completed"], job["progress"]) == (True, "failed")
    result_url = f"{accepted.headers['Location']}/task/{job['id']}/result"
    result = await netsuite.client.request("GET", result_url, allow={400})
    assert result.status_code == 400
    assert result.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_KEY_OR_REF"


async def test_an_unknown_job_is_not_found(netsuite: NetSuiteConnector) -> None:
    missing = await netsuite.client.request("GET", "/async/v1/job/424242", allow={404})
    assert missing.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"
