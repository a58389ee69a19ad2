"""The worker's metrics as a real Prometheus scrapes them: SDK series and psflow's business series.

A worker on its own metrics runtime provisions a won deal, posts a business date and invoices a project; Debian's
``prometheus`` (a temporary data directory, loopback, a 1 s scrape interval) scrapes its endpoint, and
the test reads the series back through Prometheus's HTTP API (``/api/v1/query``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

import worker
from activities.posting.models import PostingCounts, PostPageRequest, PostPageResult, SettleRequest
from activities.resources.models import HRSource
from connectors._core import _observe
from stack.client import connect
from stack.connectors import Connectors
from stack.flows import check_stack, start_invoice
from stack.metrics import metrics_runtime
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from tests.conftest import _free_port
from tests.flows._kantata import Kantata
from tests.flows.conftest import WinDeal, connectors, inject, kantata, win_deal  # noqa: F401 (fixtures)
from tests.flows.test_exception_sweep import NEW_YORK, _config, _occurrence, _store, _sweep
from tests.flows.test_invoicing import DAYS, ISSUED, PERIOD, Work, new_project, post_work
from tests.flows.test_posting import approved, post, seeded_day
from tests.flows.test_provisioning import provision
from tests.flows.test_resource_sync import hr_api, start_marks, sync, tick  # noqa: F401 (hr_api: a fixture)
from tests.gateway.conftest import encode, hubspot_event, hubspot_headers, open_gateway, unique_deal
from workflows._metrics import BUCKETS, INVOICE_LAG
from workflows.post_time_expenses import KINDS, PostTimeExpensesWorkflow

PROMETHEUS = shutil.which("prometheus")
ROOT = Path(__file__).resolve().parents[2]


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
    # Fail, not skip: CI installs it (.ci/run), and a skipped metrics test would pass unnoticed.
    assert PROMETHEUS is not None, "install Debian's prometheus package (apt-get install prometheus)"
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
    try:
        yield await connect(flow_settings, runtime=metrics_runtime(worker_metrics))
    finally:
        _observe.observe(None)  # the runtime installed its connector observer for the whole process


async def test_prometheus_scrapes_the_sdk_and_business_series_of_a_deal_a_posting_and_an_invoicing(
    metered_client: Any,
    flow_settings: Settings,
    connectors: Connectors,  # noqa: F811
    win_deal: WinDeal,  # noqa: F811
    prometheus: str,
    clear_faults: None,
) -> None:
    deal = await win_deal("salesforce")
    day = seeded_day(16)
    time_ids, expense_ids = await approved(connectors, day)
    assert time_ids, "the demo firm should have approved time that day"
    async with worker.running_workers(metered_client, flow_settings):
        provisioned = await (await provision(metered_client, flow_settings, "salesforce", deal)).result()
        # The ERP throttles the posting's first three requests; each 429 is counted, retried ones too.
        await inject(flow_settings.sandbox_url, "netsuite", rate_limit=1.0, retry_after_s=0, times=3)
        posted = await post(metered_client, flow_settings, day)
        # A project of its own with nothing posted: its invoicing ends with nothing to invoice.
        invoicing, _ = await start_invoice(
            metered_client, flow_settings, f"TEST-metrics-{uuid.uuid4().hex[:8]}", PERIOD, issue_date=ISSUED
        )
        assert (await invoicing.result()).status == "nothing_to_invoice"
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
        dates = 'psflow_posting_runs_total{erp="netsuite",outcome="posted"}'
        assert await value_once_scraped(prometheus, dates, 1) == 1
        to_post = 'psflow_posting_duration_seconds_count{erp="netsuite"}'
        assert await value_once_scraped(prometheus, to_post, 1) == 1
        invoiced = 'psflow_invoicing_outcomes_total{outcome="nothing_to_invoice"}'
        assert await value_once_scraped(prometheus, invoiced, 1) == 1
        rejected = 'sum(psflow_posting_entries_total{outcome="rejected"})'
        assert await value_once_scraped(prometheus, rejected, 0) == 0
        throttled = 'psflow_connector_responses_total{system="netsuite",status="429"}'
        assert await value_once_scraped(prometheus, throttled, 3) == 3
        waits = 'count(psflow_rate_budget_wait_seconds_count{system="netsuite"} > 0)'
        assert await value_once_scraped(prometheus, waits, 1) == 1
        # The SDK's own series come out of the same endpoint (durations in seconds).
        completed = 'sum(temporal_workflow_completed_total{workflow_type="PostTimeExpenses"})'
        assert await value_once_scraped(prometheus, completed, 1) == 1
        # No label carries an id: the deal's id appears in no series Prometheus holds.
        every = await query(prometheus, '{job="psflow-worker"}')
        assert every and not [s["metric"] for s in every if deal in str(s["metric"])]


async def test_the_sweep_reports_open_exceptions_by_age_and_its_escalations(
    metered_client: Any, flow_settings: Settings, prometheus: str
) -> None:
    config = _config(flow_settings)
    store = _store(config)
    # Opened Friday 16:30 in New York; the posting SLA's first step is due one business day later, on Monday.
    friday = datetime(2026, 11, 13, 16, 30, tzinfo=NEW_YORK)
    monday = datetime(2026, 11, 16, 16, 30, tzinfo=NEW_YORK)
    opened = exc.record(store, [_occurrence(f"kantata:aged-{n}") for n in range(3)], run_id="run-1", now=friday)
    exc.act(store, opened[2], "resolve", actor="ana", now=friday + timedelta(hours=1))
    async with worker.running_workers(metered_client, config):
        swept = await _sweep(metered_client, config, monday)
    assert swept.by_level == {1: 2}, swept
    # Three days old at the sweep: the 3-7d bucket (each bucket holds ages from its lower bound up).
    aged = 'psflow_exceptions_open{flow="posting",kind="time_entry",age="3-7d"}'
    assert await value_once_scraped(prometheus, aged, 2) == 2
    every_age = 'sum(psflow_exceptions_open{flow="posting",kind="time_entry"})'
    assert await value_once_scraped(prometheus, every_age, 2) == 2
    oldest = 'psflow_exceptions_oldest_age_seconds{flow="posting",kind="time_entry"}'
    assert await value_once_scraped(prometheus, oldest, 3 * 86400) == 3 * 86400
    escalations = 'psflow_exceptions_escalations_total{level="1"}'
    assert await value_once_scraped(prometheus, escalations, 2) == 2


async def test_the_gateway_counts_requests_by_route_and_status_and_times_them(
    settings: Settings, temporal_client: Any, worker_metrics: str, prometheus: str
) -> None:
    runtime = metrics_runtime(worker_metrics)
    _observe.observe(None)
    async for gateway in open_gateway(settings, temporal_client, meter=runtime.metric_meter):
        body = encode([hubspot_event(unique_deal())])
        assert (await gateway.post("/webhooks/hubspot", body, hubspot_headers(body))).status_code == 202
        unsigned = await gateway.http.post("/webhooks/hubspot", content=body)
        assert unsigned.status_code == 401, unsigned.text
        assert (await gateway.http.get("/healthz")).status_code == 200
        assert (await gateway.http.get("/wp-login.php")).status_code == 404
    hubspot = 'psflow_gateway_requests_total{method="POST",route="/webhooks/hubspot",status="%s"}'
    assert await value_once_scraped(prometheus, hubspot % "202", 1) == 1
    assert await value_once_scraped(prometheus, hubspot % "401", 1) == 1
    health = 'psflow_gateway_requests_total{method="GET",route="/healthz",status="200"}'
    assert await value_once_scraped(prometheus, health, 1) == 1
    # A scanner's path is one bounded series, never its own.
    scanned = 'psflow_gateway_requests_total{route="unmatched",status="404"}'
    assert await value_once_scraped(prometheus, scanned, 1) == 1
    timed = 'psflow_gateway_request_duration_seconds_count{method="POST",route="/webhooks/hubspot"}'
    assert await value_once_scraped(prometheus, timed, 2) == 2
    routes = {s["metric"]["route"] for s in await query(prometheus, "psflow_gateway_requests_total")}
    assert routes == {"/webhooks/hubspot", "/healthz", "unmatched"}


async def test_the_worker_process_serves_its_metrics_where_the_settings_say(
    temporal_client: Any, settings: Settings, worker_metrics: str, prometheus: str
) -> None:
    env = {
        **os.environ,
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_METRICS_ADDRESS": worker_metrics,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "worker.py"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert process.stdout is not None
        output = b""
        while b"psflow worker polling" not in output:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, f"worker exited before polling: {output.decode()}"
            output += line
        assert f"metrics on http://{worker_metrics}/metrics".encode() in output
        await check_stack(temporal_client, settings, f"stack-check-{uuid.uuid4()}", domains=["erp"])
        completed = 'sum(temporal_workflow_completed_total{workflow_type="StackCheck"})'
        assert await value_once_scraped(prometheus, completed, 1) == 1
        # Stopped, the worker reads as down: what PsflowWorkerDown alerts on.
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        assert await value_once_scraped(prometheus, 'up{job="psflow-worker"}', 0) == 0
    finally:
        if process.returncode is None:
            process.kill()


def test_a_worker_whose_metrics_port_is_taken_says_so_and_exits(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = {**os.environ, "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address, "PSFLOW_METRICS_ADDRESS": address}
        done = subprocess.run(
            [sys.executable, str(ROOT / "worker.py")], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2, done.stderr
    assert f"error: cannot serve metrics on {address}" in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_resource_syncs_outcome_and_duration_are_scraped(
    metered_client: Any,
    flow_settings: Settings,
    connectors: Connectors,  # noqa: F811
    hr_api: httpx.AsyncClient,  # noqa: F811
    prometheus: str,
) -> None:
    source = HRSource(legal_entity="le-workday", hr_system="workday")
    await tick(hr_api)
    await start_marks(flow_settings, connectors, source)  # synced up to now: nothing changed since
    async with worker.running_workers(metered_client, flow_settings):
        await sync(metered_client, flow_settings, source)
    synced = 'psflow_resource_sync_outcomes_total{outcome="synced"}'
    assert await value_once_scraped(prometheus, synced, 1) == 1
    took = "psflow_resource_sync_duration_seconds_count"
    assert await value_once_scraped(prometheus, took, 1) == 1


async def test_an_invoice_posted_records_its_lag_in_the_declared_buckets(
    metered_client: Any,
    flow_settings: Settings,
    connectors: Connectors,  # noqa: F811
    kantata: Kantata,  # noqa: F811
    prometheus: str,
) -> None:
    project_id, _ = await new_project(connectors, kantata, "metrics")
    store = Store(flow_settings.store_url)
    store.upgrade()
    await post_work(connectors, store, project_id, [Work.time(DAYS.start, 120, "150.00")])
    store.engine.dispose()
    async with worker.running_workers(metered_client, flow_settings):
        handle, _ = await start_invoice(metered_client, flow_settings, project_id, PERIOD, issue_date=ISSUED)
        assert (await handle.result()).status == "invoiced"
    invoiced = 'psflow_invoicing_outcomes_total{outcome="invoiced"}'
    assert await value_once_scraped(prometheus, invoiced, 1) == 1
    # One observation; its value is the server's clock minus the period's end, so only the count is pinned.
    assert await value_once_scraped(prometheus, "psflow_invoice_lag_seconds_count", 1) == 1
    buckets = await query(prometheus, "psflow_invoice_lag_seconds_bucket")
    bounds = sorted(float(series["metric"]["le"]) for series in buckets)
    assert bounds == [*BUCKETS[INVOICE_LAG], float("inf")]
    assert {float(series["metric"]["le"]): float(series["value"][1]) for series in buckets}[float("inf")] == 1


@activity.defn(name="erp.post_approved_page")
async def _one_posted_page(request: PostPageRequest) -> PostPageResult:
    return PostPageResult(counts=PostingCounts(posted=1), pages=1, next_cursor=None)


@activity.defn(name="erp.settle_posting_exceptions")
async def _settle_fails(request: SettleRequest) -> int:
    raise ApplicationError("the store is unreachable", non_retryable=True)


async def test_a_posting_whose_settle_step_fails_is_counted_as_a_failed_run(
    metered_client: Any, flow_settings: Settings, prometheus: str
) -> None:
    day = seeded_day(17)
    async with (
        Worker(metered_client, task_queue=flow_settings.task_queue("flows"), workflows=[PostTimeExpensesWorkflow]),
        Worker(
            metered_client, task_queue=flow_settings.task_queue("erp"), activities=[_one_posted_page, _settle_fails]
        ),
    ):
        with pytest.raises(WorkflowFailureError):
            await post(metered_client, flow_settings, day)
    failed = 'psflow_posting_runs_total{erp="netsuite",outcome="failed"}'
    assert await value_once_scraped(prometheus, failed, 1) == 1
    # Its pages were counted as they posted: one record each, one page per kind.
    entries = 'sum(psflow_posting_entries_total{erp="netsuite",outcome="posted"})'
    assert await value_once_scraped(prometheus, entries, len(KINDS)) == len(KINDS)
    assert await value_once_scraped(prometheus, "psflow_posting_duration_seconds_count", 1) == 1
