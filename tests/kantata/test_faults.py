"""Every injected fault kind, and Kantata's own limit, as the connector classifies them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from canonical import Task
from connectors._core import AuthError, RateLimitedError, TransientError
from connectors.kantata import KantataConnector
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN
from tests.kantata.conftest import MakeConnector

Admin = Callable[..., Awaitable[httpx.Response]]
READS = r"/external_references"


async def inject(admin: Admin, **fault: Any) -> None:
    await admin("PUT", "/_admin/faults/kantata", json={"path_regex": READS, **fault})


async def read(connector: KantataConnector) -> str | None:
    return await connector.find_project_by_external_id("PRJ-0001")


async def test_latency_slows_but_does_not_fail(kantata: KantataConnector, admin: Admin) -> None:
    await inject(admin, latency_ms=80)
    started = time.perf_counter()
    assert await read(kantata) is not None
    assert time.perf_counter() - started >= 0.08


async def test_a_short_429_is_retried_in_process(kantata: KantataConnector, admin: Admin) -> None:
    await inject(admin, rate_limit=1.0, retry_after_s=0, times=1)
    assert await read(kantata) is not None


async def test_a_long_429_is_rate_limited_with_its_delay(kantata: KantataConnector, admin: Admin) -> None:
    await inject(admin, rate_limit=1.0, retry_after_s=30)
    with pytest.raises(RateLimitedError) as caught:
        await read(kantata)
    assert caught.value.status == 429 and caught.value.retry_after == 30


async def test_kantatas_own_429_has_no_delay_to_honour(make_connector: MakeConnector, admin: Admin) -> None:
    await admin("PUT", "/_admin/kantata/rate_limit", json={"requests": 1, "window_s": 60})
    connector = make_connector(retry_attempts=1, access_token=DEMO_ACCESS_TOKEN)
    assert await read(connector) is not None
    with pytest.raises(RateLimitedError) as caught:
        await read(connector)
    assert caught.value.retry_after is None and "retry after a small delay" in caught.value.message


@pytest.mark.parametrize(("fault", "status"), [("unavailable", 503), ("timeout", 504)])
async def test_unavailable_and_gateway_timeout_are_retried_then_transient(
    make_connector: MakeConnector, admin: Admin, fault: str, status: int
) -> None:
    await inject(admin, **{fault: 1.0, "retry_after_s": 0, "timeout_s": 0.05, "times": 1})
    assert await read(make_connector()) is not None
    await inject(admin, **{fault: 1.0, "retry_after_s": 0, "timeout_s": 0.05})
    with pytest.raises(TransientError) as caught:
        await read(make_connector(retry_attempts=1))
    assert caught.value.status == status


async def test_a_server_error_on_a_read_is_retried_in_process_then_transient(
    make_connector: MakeConnector, admin: Admin
) -> None:
    await inject(admin, server_error=1.0, times=1)
    assert await read(make_connector()) is not None
    await inject(admin, server_error=1.0)
    with pytest.raises(TransientError) as caught:
        await read(make_connector(retry_attempts=1))
    assert caught.value.status == 500 and caught.value.code == "system"


async def test_expired_token_is_replaced_once(make_connector: MakeConnector, admin: Admin) -> None:
    oauth = make_connector()
    static = make_connector(access_token=DEMO_ACCESS_TOKEN)
    assert await read(oauth) is not None and await read(static) is not None
    await admin("PUT", "/_admin/faults/kantata", json={"token_expiry": True})
    assert await read(oauth) is not None
    with pytest.raises(AuthError) as caught:
        await read(static)
    assert caught.value.status == 401 and caught.value.code == "oauth"


async def test_commit_then_fail_on_a_task_leaves_one_story(
    kantata: KantataConnector, api: httpx.AsyncClient, admin: Admin
) -> None:
    await admin("PUT", "/_admin/faults/kantata", json={"commit_then_fail": 1.0, "path_regex": r"/stories", "times": 1})
    task = Task(id="T-once", project_id="PRJ-0001", name="Cutover rehearsal")
    story_ids = await kantata.create_tasks([task], workspace_id="1")
    assert await kantata.create_tasks([task], workspace_id="1") == story_ids
    params = {"subject_type": "Story", "service_model_ref": "T-once"}
    assert (await api.get("/kantata/api/v1/external_references.json", params=params)).json()["count"] == 1
