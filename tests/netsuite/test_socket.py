"""The connector over a real socket: TBA signatures on real URLs, dropped connections, timeouts."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from connectors._core import TransientError
from connectors.netsuite import NetSuiteConnector
from sandbox.app import create_app
from sandbox.systems.netsuite import SYSTEM
from tests.netsuite.conftest import OPEN_DAY, TODAY, settings, time_entry
from tests.netsuite.test_connector import RATE


@pytest.fixture
def server_url(tmp_path: Path) -> Iterator[str]:
    """The NetSuite sandbox served by uvicorn on a free loopback port."""
    app = create_app(tmp_path / "s.db", seed="demo", today=TODAY, systems=[SYSTEM])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
async def admin(server_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server_url) as client:
        yield client


def _connector(server_url: str, **overrides: Any) -> NetSuiteConnector:
    return NetSuiteConnector(settings(base_url=f"{server_url}/netsuite", **overrides))


async def _time_bills(admin: httpx.AsyncClient) -> int:
    return int((await admin.get("/_admin/netsuite/state")).json()["counts"]["timeBill"])


async def test_posting_over_a_socket_survives_a_dropped_connection(server_url: str, admin: httpx.AsyncClient) -> None:
    async with _connector(server_url) as netsuite:
        job = await netsuite.get_job("PRJ-0001")
        employee = await netsuite.find_employee("E-1001")
        assert job is not None and employee is not None
        drop = {"commit_then_fail": 1, "commit_then_fail_mode": "drop", "methods": ["PUT"], "times": 1, "seed": 1}
        (await admin.put("/_admin/faults/netsuite", json=drop)).raise_for_status()
        # The PUT commits, the connection drops, the retry layer resends the same upsert by external id
        # (new nonce) and the record is there — once.
        await netsuite.write_time_bill(
            time_entry(), job_internal_id=job.internal_id, employee_internal_id=employee, rate=RATE
        )
    faults = (await admin.get("/_admin/faults")).json()["counters"]["netsuite"]
    assert faults["commit_then_fail"] == 1
    assert await _time_bills(admin) == 1


async def test_a_client_timeout_is_transient(server_url: str, admin: httpx.AsyncClient) -> None:
    (await admin.put("/_admin/faults/netsuite", json={"latency_ms": 1500, "times": 1, "seed": 1})).raise_for_status()
    async with _connector(server_url, timeout_s=0.3, retry_attempts=1) as netsuite:
        with pytest.raises(TransientError) as timed_out:
            await netsuite.find_employee("E-1001")
    assert timed_out.value.code == "timeout"


async def test_concurrent_upserts_over_a_socket_stay_under_the_limit(server_url: str, admin: httpx.AsyncClient) -> None:
    (await admin.put("/_admin/netsuite/concurrency", json={"limit": 5, "service_time_ms": 10})).raise_for_status()
    async with _connector(server_url, retry_attempts=1) as netsuite:
        job = await netsuite.get_job("PRJ-0001")
        employee = await netsuite.find_employee("E-1001")
        assert job is not None and employee is not None
        results = await asyncio.gather(
            *(
                netsuite.write_time_bill(
                    time_entry(f"kantata:s-{n}", day=OPEN_DAY + timedelta(days=n % 10)),
                    job_internal_id=job.internal_id,
                    employee_internal_id=employee,
                    rate=RATE,
                )
                for n in range(30)
            )
        )
    state = (await admin.get("/_admin/netsuite/state")).json()
    assert len(set(results)) == 30 and await _time_bills(admin) == 30
    assert state["rejected"] == 0 and state["peak_in_flight"] <= 5
