from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox._faults import ConnectionDropped

from .conftest import asgi_client, bearer, make_app


async def _faults(client: httpx.AsyncClient, system: str = "fake", **config: Any) -> dict[str, Any]:
    response = await client.put(f"/_admin/faults/{system}", json=config)
    assert response.status_code == 200, response.text
    return response.json()["config"]


async def _counters(client: httpx.AsyncClient, system: str = "fake") -> dict[str, int]:
    return (await client.get("/_admin/faults")).json()["counters"][system]


async def test_latency_is_added_without_blocking_the_loop(client: httpx.AsyncClient) -> None:
    await _faults(client, latency_ms=300, latency_jitter_ms=20, seed=1)

    started = time.perf_counter()
    responses = await asyncio.gather(*(client.get("/fake/items") for _ in range(3)))
    elapsed = time.perf_counter() - started

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert 0.3 <= elapsed < 0.6  # three delayed requests overlapped
    assert (await _counters(client))["latency"] == 3


@pytest.mark.parametrize(
    ("fault", "status", "code", "retry_after"),
    [
        ("rate_limit", 429, "rate_limited", "3"),
        ("unavailable", 503, "unavailable", "3"),
        ("server_error", 500, "server_error", None),
    ],
)
async def test_error_faults_use_the_systems_error_shape(
    client: httpx.AsyncClient, fault: str, status: int, code: str, retry_after: str | None
) -> None:
    await _faults(client, **{fault: 1.0, "retry_after_s": 2.5})

    response = await client.get("/fake/items")

    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    assert response.headers["x-fake-error"] == code
    [error] = response.json()
    assert (error["errorCode"], error["status"]) == (code, status)
    assert (await _counters(client))[fault] == 1


async def test_timeout_hangs_then_answers_504(client: httpx.AsyncClient) -> None:
    await _faults(client, timeout=1.0, timeout_s=0.3)

    started = time.perf_counter()
    response = await client.get("/fake/items")

    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 504
    assert response.json()[0]["errorCode"] == "timeout"


async def test_token_expiry_makes_the_next_call_401(client: httpx.AsyncClient) -> None:
    headers = await bearer(client)
    refresh_token = (await client.post("/fake/token")).json()["refresh_token"]
    assert (await client.post("/fake/items", json={"n": 1}, headers=headers)).status_code == 201

    await _faults(client, token_expiry=True)

    expired = await client.post("/fake/items", json={"n": 2}, headers=headers)
    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    renewed = (await client.post("/fake/refresh", params={"refresh_token": refresh_token})).json()
    retry = await client.post(
        "/fake/items", json={"n": 2}, headers={"Authorization": f"Bearer {renewed['access_token']}"}
    )
    assert retry.status_code == 201
    assert (await _counters(client))["token_expiry"] == 1


async def test_commit_then_fail_stores_the_record_but_answers_500(client: httpx.AsyncClient) -> None:
    headers = await bearer(client)
    await _faults(client, commit_then_fail=1.0)

    lost = await client.post("/fake/items", json={"ref": "TE-1"}, headers=headers)
    reads = await client.get("/fake/items")  # reads are not affected by default
    retry = await client.post("/fake/items", json={"ref": "TE-1"}, headers=headers)

    assert lost.status_code == 500
    assert lost.json()[0]["errorCode"] == "server_error"
    assert reads.status_code == 200
    assert [item["ref"] for item in reads.json()] == ["TE-1"]
    # The client's retry meets the record it thought was lost.
    assert retry.status_code == 409
    counters = await _counters(client)
    assert counters["commit_then_fail"] == 1  # the 409 was passed through, not counted


async def test_commit_then_fail_drop_mode_raises_through_asgi(client: httpx.AsyncClient) -> None:
    headers = await bearer(client)
    await _faults(client, commit_then_fail=1.0, commit_then_fail_mode="drop")

    with pytest.raises(ConnectionDropped):
        await client.post("/fake/items", json={"ref": "TE-9"}, headers=headers)

    assert [item["ref"] for item in (await client.get("/fake/items")).json()] == ["TE-9"]


async def test_times_limits_the_number_of_faulted_requests(client: httpx.AsyncClient) -> None:
    await _faults(client, server_error=1.0, times=2)

    statuses = [(await client.get("/fake/items")).status_code for _ in range(4)]

    assert statuses == [500, 500, 200, 200]
    snapshot = (await client.get("/_admin/faults")).json()
    assert snapshot["remaining"]["fake"] == 0
    assert snapshot["counters"]["fake"]["server_error"] == 2
    assert snapshot["counters"]["fake"]["requests"] == 4


async def test_a_refused_write_does_not_use_up_times(client: httpx.AsyncClient) -> None:
    headers = await bearer(client)
    await _faults(client, commit_then_fail=1.0, times=1)
    refused = await client.post("/fake/items", json={})  # 401: nothing committed, nothing to lose
    lost = await client.post("/fake/items", json={}, headers=headers)
    fine = await client.post("/fake/items", json={}, headers=headers)
    assert [refused.status_code, lost.status_code, fine.status_code] == [401, 500, 201]


async def test_seed_makes_faults_reproducible(client: httpx.AsyncClient) -> None:
    async def run(seed: int) -> list[int]:
        await _faults(client, rate_limit=0.3, unavailable=0.2, seed=seed)
        return [(await client.get("/fake/items")).status_code for _ in range(30)]

    first, second, other = await run(7), await run(7), await run(8)

    assert first == second
    assert first != other
    assert {429, 503, 200} <= set(first)


async def test_unset_seed_is_reported_so_a_run_can_be_replayed(client: httpx.AsyncClient) -> None:
    config = await _faults(client, server_error=0.5)
    assert isinstance(config["seed"], int)
    first = [(await client.get("/fake/items")).status_code for _ in range(20)]
    await _faults(client, **config)
    assert [(await client.get("/fake/items")).status_code for _ in range(20)] == first


async def test_methods_and_path_regex_select_requests(client: httpx.AsyncClient) -> None:
    await _faults(client, server_error=1.0, methods=["get"], path_regex=r"/items/\d+$")
    headers = await bearer(client)

    created = await client.post("/fake/items", json={}, headers=headers)
    listed = await client.get("/fake/items")
    one = await client.get(f"/fake/items/{created.json()['id']}")

    assert [created.status_code, listed.status_code, one.status_code] == [201, 200, 500]


async def test_admin_and_other_systems_are_not_faulted(client: httpx.AsyncClient) -> None:
    await _faults(client, server_error=1.0)
    assert (await client.get("/_admin/status")).status_code == 200
    assert (await client.get("/_admin/fake/ping")).status_code == 200
    assert (await client.get("/sink/events")).status_code == 200
    assert (await client.get("/fake/items")).status_code == 500


async def test_clearing_faults_keeps_counters(client: httpx.AsyncClient) -> None:
    await _faults(client, server_error=1.0)
    await _faults(client, "sink", rate_limit=1.0)
    await client.get("/fake/items")

    after_one = (await client.delete("/_admin/faults/fake")).json()
    assert set(after_one["faults"]) == {"sink"}
    assert after_one["counters"]["fake"]["server_error"] == 1
    assert (await client.get("/fake/items")).status_code == 200

    after_all = (await client.delete("/_admin/faults")).json()
    assert after_all["faults"] == {}
    assert (await client.get("/sink/events")).status_code == 200


async def test_bad_fault_configs_are_rejected(client: httpx.AsyncClient) -> None:
    assert (await client.put("/_admin/faults/nope", json={})).status_code == 404
    assert (await client.put("/_admin/faults/fake", json={"rate_limit": 0.8, "server_error": 0.5})).status_code == 422
    assert (await client.put("/_admin/faults/fake", json={"rate_limt": 0.1})).status_code == 422
    assert (await client.put("/_admin/faults/fake", json={"path_regex": "("})).status_code == 422


async def test_faults_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_SANDBOX_FAULTS", json.dumps({"fake": {"unavailable": 1.0, "times": 1}}))
    app: FastAPI = make_app(tmp_path / "env.db")
    async with asgi_client(app) as client:
        assert (await client.get("/fake/items")).status_code == 503
        assert (await client.get("/fake/items")).status_code == 200

    monkeypatch.setenv("PSFLOW_SANDBOX_FAULTS", json.dumps({"nope": {"unavailable": 1.0}}))
    with pytest.raises(ValueError, match="unknown system 'nope'"):
        make_app(tmp_path / "env2.db")
    monkeypatch.setenv("PSFLOW_SANDBOX_FAULTS", "{not json")
    with pytest.raises(ValueError, match="PSFLOW_SANDBOX_FAULTS is not valid JSON"):
        make_app(tmp_path / "env3.db")


async def test_faults_argument_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_SANDBOX_FAULTS", json.dumps({"fake": {"unavailable": 1.0}}))
    app = make_app(tmp_path / "arg.db", faults={"fake": {"rate_limit": 1.0}})
    async with asgi_client(app) as client:
        assert (await client.get("/fake/items")).status_code == 429
