"""Worker processes split by domain, as a deployment runs them, on the real cluster (tests/cluster/conftest.py).

Each test starts ``python worker.py --queues …`` processes (tests/budgets/workers.py) against the session's
cluster, a sandbox and a PostgreSQL store of their own (a schema in the cluster's PostgreSQL), so the
NetSuite budget is the shared, store-backed one a deployment uses:

1. three processes serving different queues run a provisioning, a posting and an invoicing end to end;
2. the only erp worker is SIGKILLed during a posting; the run waits on the erp queue, a replacement
   picks it up and the day is posted exactly once;
3. three processes all serving erp post three days under a NetSuite concurrency limit: the emulator never
   sees more than the limit in flight nor refuses a request. The measured peak is printed, recorded as a
   junit property (``netsuite_peak_in_flight``) and written in pytest's terminal summary, so CI's log shows
   it whether the test passed or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from temporalio.client import Client

from stack.connectors import Connectors
from stack.flows import start_posting
from stack.settings import Settings
from store import Store
from tests.budgets.conftest import postgres_url  # noqa: F401  (a migrated store schema per test)
from tests.budgets.test_workers_share_budgets import slots_held_by, wait_until_holding
from tests.budgets.workers import worker_processes
from tests.cluster.conftest import TemporalCluster
from tests.flows.conftest import WinDeal, sink_events
from tests.flows.test_invoicing import DAYS, PERIOD, Work, erp_invoices, invoice_run, post_work
from tests.flows.test_posting import approved, in_erp, ledger_ids, netsuite_governance, seeded_day
from tests.flows.test_provisioning import erp_state, provision
from workflows.post_time_expenses import PostTimeExpensesResult

LIMIT = 5
SPLIT = (("flows", "crm", "events"), ("psa", "hr"), ("erp",))
"""Three worker processes, one per group of queues, together serving all of them."""
INVOICED = "PRJ-0007"
"""A seeded project no other cluster test invoices (invoice ids are per project and period)."""


@pytest.fixture(scope="session")
def postgres_server(temporal_cluster: TemporalCluster) -> str:
    """The store's PostgreSQL is the cluster's (CI's, or the session's own): ``postgres_url`` makes a schema."""
    return temporal_cluster.postgres_url


@pytest.fixture
def deployment(flow_settings: Settings, postgres_url: str) -> Settings:  # noqa: F811
    """The test's settings with the shared store every worker process and the test read."""
    return flow_settings.model_copy(update={"database_url": postgres_url})


class _Measured:
    """A pytest plugin registered at run time: the figures of this module in the terminal summary."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.lines:
            terminalreporter.write_sep("-", "cluster workers: measured")
            for line in self.lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def measured(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    plugin = _Measured()
    request.config.pluginmanager.register(plugin, "psflow-cluster-workers-measured")
    yield plugin.lines


async def post(client: Client, settings: Settings, day: date) -> PostTimeExpensesResult:
    handle = await start_posting(
        client, settings, day, page_size=5, pages_per_activity=1, heartbeat_timeout=timedelta(seconds=2)
    )
    return await asyncio.wait_for(handle.result(), timeout=120)


async def expect_posted_once(
    connectors: Connectors, settings: Settings, day: date, result: PostTimeExpensesResult, ids: tuple[set[str], ...]
) -> None:
    """Every approved record of `day` is in NetSuite once and in the store's ledger; none failed."""
    time_ids, expense_ids = ids
    assert result.failed == 0 and result.rejected == 0, result
    assert result.posted + result.already_posted == len(time_ids) + len(expense_ids), result
    bills, reports = await in_erp(connectors, day)
    assert set(bills) >= time_ids and all(bills[i] == 1 for i in time_ids), bills
    assert set(reports) >= expense_ids and all(reports[i] == 1 for i in expense_ids), reports
    assert ledger_ids(settings, day) == time_ids | expense_ids


async def test_three_workers_split_by_domain_provision_post_and_invoice_on_the_cluster(
    temporal_client: Client, deployment: Settings, connectors: Connectors, win_deal: WinDeal
) -> None:
    deal, day = await win_deal("salesforce"), seeded_day(10)
    ids = await approved(connectors, day)
    store = Store(deployment.store_url)
    try:
        await post_work(
            connectors,
            store,
            INVOICED,
            [Work.time(DAYS.start, 450, "185.00"), Work.time(DAYS.end, 105, "212.50"), Work.expense(DAYS.end, "42.50")],
        )
    finally:
        store.engine.dispose()
    async with worker_processes(deployment, SPLIT) as workers:
        provisioned = await (await provision(temporal_client, deployment, "salesforce", deal)).result()
        # Invoiced before the posting: the day's posted work must not join the invoice's ledger rows.
        invoicing, already = await invoice_run(temporal_client, deployment, INVOICED)
        invoiced = await invoicing.result()
        posted = await post(temporal_client, deployment, day)
        for process in workers:
            assert await process.stop() == 0, process.text()[-4000:]

    assert provisioned.state == "provisioned", provisioned
    assert await erp_state(connectors, f"salesforce:{deal}") == "active"
    await expect_posted_once(connectors, deployment, day, posted, ids)
    # 7.5 h at 185.00 = 1387.50, 1.75 h at 212.50 = 371.88 (rounded once when posted), and 42.50 of expenses.
    assert not already and invoiced.status == "invoiced"
    assert invoiced.totals == {"USD": Decimal("1801.88")}, invoiced
    invoices = {record["externalId"]: record for record in await erp_invoices(connectors, INVOICED)}
    assert [invoice.invoice_id for invoice in invoiced.invoices] == [f"inv:{INVOICED}:{PERIOD}"], invoices
    assert Decimal(str(invoices[f"inv:{INVOICED}:{PERIOD}"]["total"])) == Decimal("1801.88")
    events = await sink_events(deployment.sandbox_url, f"inv:{INVOICED}:{PERIOD}")
    assert [e["type"] for e in events] == ["com.psflow.invoice.posted", "com.psflow.revenue.recognized"]


async def test_a_killed_erp_worker_is_replaced_and_the_posting_completes_exactly_once(
    temporal_client: Client, deployment: Settings, connectors: Connectors
) -> None:
    day = seeded_day(11)
    ids = await approved(connectors, day)
    env = {"PSFLOW_NETSUITE_MAX_CONCURRENCY": str(LIMIT)}
    before = await netsuite_governance(deployment.sandbox_url)
    await netsuite_governance(deployment.sandbox_url, limit=LIMIT, service_time_ms=100)
    try:
        async with worker_processes(deployment, SPLIT, env) as (others, people, erp):
            posting = asyncio.create_task(post(temporal_client, deployment, day))
            await wait_until_holding(deployment.store_url, erp.pid)
            await erp.kill()
            assert await slots_held_by(deployment.store_url, erp.pid) == 0
            assert not posting.done()
            # Nobody polls erp now: the run waits for the replacement, which finishes it.
            async with worker_processes(deployment, [("erp",)], env) as (replacement,):
                result = await posting
                assert await replacement.stop() == 0, replacement.text()[-4000:]
            for process in (others, people):
                assert await process.stop() == 0, process.text()[-4000:]
    finally:
        await netsuite_governance(
            deployment.sandbox_url, limit=before["concurrency_limit"], service_time_ms=before["service_time_ms"]
        )
    await expect_posted_once(connectors, deployment, day, result, ids)


async def test_three_erp_workers_stay_within_the_netsuite_concurrency_limit_on_the_cluster(
    temporal_client: Client,
    deployment: Settings,
    connectors: Connectors,
    record_property: Any,
    measured: list[str],
) -> None:
    days = [seeded_day(n) for n in (15, 16, 17)]
    expected = {day: await approved(connectors, day) for day in days}
    env = {"PSFLOW_NETSUITE_MAX_CONCURRENCY": str(LIMIT)}
    every_one_erp = (("flows", "crm", "events", "erp"), ("psa", "hr", "erp"), ("erp",))
    before = await netsuite_governance(deployment.sandbox_url)
    await netsuite_governance(deployment.sandbox_url, limit=LIMIT, service_time_ms=100)
    try:
        async with worker_processes(deployment, every_one_erp, env) as workers:
            results = await asyncio.gather(*(post(temporal_client, deployment, day) for day in days))
            governance = await netsuite_governance(deployment.sandbox_url)
            for process in workers:
                assert await process.stop() == 0, process.text()[-4000:]
    finally:
        await netsuite_governance(
            deployment.sandbox_url, limit=before["concurrency_limit"], service_time_ms=before["service_time_ms"]
        )
    line = (
        f"NetSuite limit {LIMIT}, 3 erp worker processes on the cluster posting {len(days)} days: "
        f"peak in flight {governance['peak_in_flight']}, rejected {governance['rejected']}"
    )
    print(f"\n{line}")
    record_property("netsuite_peak_in_flight", governance["peak_in_flight"])
    measured.append(line)
    # The emulator refuses (429) what is over the limit, so its peak never exceeds it: no refusal is what
    # shows the three processes shared five slots instead of taking five each.
    assert governance["rejected"] == 0 and governance["peak_in_flight"] <= LIMIT, governance
    for day, result in zip(days, results, strict=True):
        await expect_posted_once(connectors, deployment, day, result, expected[day])
