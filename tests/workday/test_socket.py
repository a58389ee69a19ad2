"""Over a real socket (uvicorn on a free port): listing, timeouts and dropped connections."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors._core import TransientError
from connectors.workday import WorkdayConnector, WorkdaySettings
from tests.workday.conftest import FAULTS


async def _fault(url: str, **config: Any) -> None:
    async with httpx.AsyncClient(base_url=url) as admin:
        response = await admin.put(FAULTS, json={"seed": 3, **config})
        assert response.status_code == 200, response.text


def _connector(url: str, **settings: Any) -> WorkdayConnector:
    return WorkdayConnector(WorkdaySettings(base_url=f"{url}/workday", **settings))


async def test_lists_every_worker_over_http(live_sandbox: str) -> None:
    async with _connector(live_sandbox, page_size=20) as connector:
        consultants = [c async for c in connector.list_workers()]
    assert len({c.id for c in consultants}) == 50


async def test_a_timeout_is_transient(live_sandbox: str) -> None:
    async with _connector(live_sandbox, timeout_s=0.3, retry_attempts=1) as connector:
        await connector.workers_page(0, 1)
        await _fault(live_sandbox, timeout=1.0, timeout_s=5, path_regex="/workers$")
        with pytest.raises(TransientError) as caught:
            await connector.workers_page(0, 1)
    assert caught.value.code == "timeout" and caught.value.status is None


async def test_a_timed_out_read_is_retried_in_process(live_sandbox: str) -> None:
    async with _connector(live_sandbox, timeout_s=0.3) as connector:
        await connector.workers_page(0, 1)
        await _fault(live_sandbox, timeout=1.0, timeout_s=5, path_regex="/workers$", times=1)
        assert len((await connector.workers_page(0, 1)).items) == 1


async def test_a_dropped_connection_is_transient(live_sandbox: str) -> None:
    async with _connector(live_sandbox, retry_attempts=1) as connector:
        await connector.workers_page(0, 1)
        await _fault(
            live_sandbox, commit_then_fail=1.0, commit_then_fail_mode="drop", methods=["GET"], path_regex="/workers$"
        )
        with pytest.raises(TransientError) as caught:
            await connector.workers_page(0, 1)
    assert caught.value.code == "connection_dropped"


async def test_a_dropped_read_is_replayed_without_duplicates(live_sandbox: str) -> None:
    async with _connector(live_sandbox, page_size=25) as connector:
        await _fault(
            live_sandbox,
            commit_then_fail=1.0,
            commit_then_fail_mode="drop",
            methods=["GET"],
            path_regex="/workers$",
            times=1,
        )
        ids = [c.id async for c in connector.list_workers()]
    assert len(ids) == len(set(ids)) == 50
