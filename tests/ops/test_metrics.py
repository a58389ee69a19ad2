"""The worker's metrics as a real Prometheus scrapes them: SDK series and psflow's business series.

A worker on its own metrics runtime provisions a won deal and posts a business date; Debian's
``prometheus`` (a temporary data directory, loopback, a 1 s scrape interval) scrapes its endpoint, and
the test reads the series back through Prometheus's HTTP API (``/api/v1/query``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import worker
from stack.client import connect
from stack.connectors import Connectors
from stack.metrics import metrics_runtime
from stack.settings import Settings
from tests.conftest import _free_port
from tests.flows.conftest import WinDeal, connectors, win_deal  # noqa: F401 (fixtures)
from tests.flows.test_posting import approved, post, seeded_day
from tests.flows.test_provisioning import provision

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="Debian's prometheus package is not installed")


def prometheus_config(target: str) -> str:
    return f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: psflow-worker
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture
def worker_metrics() -> str:
    """The address the test's worker serves its metrics on."""
    return f"127.0.0.1:{_free_port()}"


@pytest.fixture
def prometheus(worker_metrics: str, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping ``worker_metrics``; yields its base URL."""
    assert PROMETHEUS is not None
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(worker_metrics))
    listen = f"127.0.0.1:{_free_port()}"
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={listen}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://{listen}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=prometheus) as http:
        response = await http.get("/api/v1/query", params={"query": promql})
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


SCRAPED_WITHIN_S = 30
"""Prometheus scrapes every second; a value not there after this long is not coming."""


async def value_once_scraped(prometheus: str, promql: str, expected: float) -> float:
    """The query's single value, once it equals ``expected`` or SCRAPED_WITHIN_S have passed (then the last)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SCRAPED_WITHIN_S
    last: float | None = None
    while True:
        try:
            result = await query(prometheus, promql)
        except httpx.TransportError:
            result = []  # Prometheus is still starting
        if result:
            assert len(result) == 1, result
            last = float(result[0]["value"][1])
            if last == expected:
                return last
        if loop.time() > deadline:
            assert last is not None, f"no series for {promql}"
            return last
        await asyncio.sleep(0.5)


@pytest_asyncio.fixture
async def metered_client(flow_settings: Settings, worker_metrics: str) -> AsyncIterator[Any]:
    """A client on a metrics runtime, as ``worker.serve`` makes it."""
    yield await connect(flow_settings, runtime=metrics_runtime(worker_metrics))


async def test_prometheus_scrapes_the_sdk_and_business_series_of_a_deal_and_a_posting(
    metered_client: Any,
    flow_settings: Settings,
    connectors: Connectors,  # noqa: F811
    win_deal: WinDeal,  # noqa: F811
    prometheus: str,
) -> None:
    deal = await win_deal("salesforce")
    day = seeded_day(16)
    time_ids, expense_ids = await approved(connectors, day)
    assert time_ids, "the demo firm should have approved time that day"
    async with worker.running_workers(metered_client, flow_settings):
        provisioned = await (await provision(metered_client, flow_settings, "salesforce", deal)).result()
        posted = await post(metered_client, flow_settings, day)
        assert provisioned.state == "provisioned", provisioned
        assert posted.posted == len(time_ids) + len(expense_ids), posted

        up = 'up{job="psflow-worker"}'
        assert await value_once_scraped(prometheus, up, 1) == 1
        outcome = 'psflow_provisioning_outcomes_total{crm="salesforce",outcome="provisioned"}'
        assert await value_once_scraped(prometheus, outcome, 1) == 1
        took = 'psflow_provisioning_duration_seconds_count{crm="salesforce"}'
        assert await value_once_scraped(prometheus, took, 1) == 1
        assert await query(prometheus, "psflow_provisioning_sla_breaches_total") == []
        entries = 'sum(psflow_posting_entries_total{erp="netsuite",outcome="posted"})'
        assert await value_once_scraped(prometheus, entries, posted.posted) == posted.posted
        by_kind = 'psflow_posting_entries_total{erp="netsuite",kind="expense",outcome="posted"}'
        assert await value_once_scraped(prometheus, by_kind, len(expense_ids)) == len(expense_ids)
        rejected = 'sum(psflow_posting_entries_total{outcome="rejected"})'
        assert await value_once_scraped(prometheus, rejected, 0) == 0
        # The SDK's own series come out of the same endpoint (durations in seconds).
        completed = 'sum(temporal_workflow_completed_total{workflow_type="PostTimeExpenses"})'
        assert await value_once_scraped(prometheus, completed, 1) == 1
        # No label carries an id: the deal's id appears in no series Prometheus holds.
        every = await query(prometheus, '{job="psflow-worker"}')
        assert every and not [s["metric"] for s in every if deal in str(s["metric"])]
