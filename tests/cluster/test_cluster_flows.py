"""The workflow suite's end-to-end flows, unchanged, on the real cluster (PostgreSQL, 8 shards, SQL visibility).

The tests are tests/flows' own, imported: here ``temporal_client`` and ``settings`` (tests/cluster/conftest.py)
point at the session's cluster and ``sandbox_url`` at a sandbox of its own, so each runs exactly as on the
dev server, with the worker's own wiring. What differs on a cluster and is exercised here: workflow and
activity tasks routed across history shards and matching partitions, continue-as-new and visibility
queries (search attributes) on SQL visibility, the namespace and search attributes `psflow setup` made.
"""

from __future__ import annotations

import asyncio
import json
import subprocess

from temporalio.api.workflowservice.v1 import GetClusterInfoRequest
from temporalio.client import Client

from stack.local.temporal_cli import ensure_temporal_cli
from tests.cluster.conftest import TemporalCluster
from tests.flows.test_invoicing import (
    test_invoice_totals_are_the_sums_of_posted_billable_amounts_per_currency,
    test_the_issues_examples_post_and_invoice_at_exactly_the_sum_of_their_time_bills_and_rerun_changes_nothing,
)
from tests.flows.test_posting import (
    test_a_day_posts_exactly_once_saturating_the_erp_limit_and_a_rerun_duplicates_nothing,
)
from tests.flows.test_provisioning import test_a_won_deal_is_provisioned_in_psa_erp_and_staffing

__all__ = [
    "test_a_day_posts_exactly_once_saturating_the_erp_limit_and_a_rerun_duplicates_nothing",
    "test_a_won_deal_is_provisioned_in_psa_erp_and_staffing",
    "test_invoice_totals_are_the_sums_of_posted_billable_amounts_per_currency",
    "test_the_flows_ran_on_the_cluster",
    "test_the_issues_examples_post_and_invoice_at_exactly_the_sum_of_their_time_bills_and_rerun_changes_nothing",
]


async def test_the_flows_ran_on_the_cluster(temporal_client: Client, temporal_cluster: TemporalCluster) -> None:
    """The client the flows used is the cluster's: its frontend, 8 history shards, PostgreSQL persistence and
    visibility, which lists the runs of the flows above (this module's tests run in order)."""
    info = await temporal_client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    assert info.history_shard_count == temporal_cluster.shards >= 8
    assert info.persistence_store == "postgres12"
    assert info.visibility_store == "postgres12"
    assert temporal_client.service_client.config.target_host == temporal_cluster.address
    runs = {w.workflow_type async for w in temporal_client.list_workflows("ExecutionStatus = 'Completed'")}
    assert {"ProvisionEngagement", "PostTimeExpenses", "InvoiceProject"} <= runs, runs
    # What an operator types: the Temporal CLI lists the same runs from the cluster's address.
    listed = await asyncio.to_thread(
        subprocess.run,
        [str(ensure_temporal_cli()), "workflow", "list", "--address", temporal_cluster.address,
         "--namespace", temporal_cluster.namespace, "--query", "ExecutionStatus = 'Completed'", "-o", "jsonl"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    by_cli = {json.loads(line)["type"]["name"] for line in listed.stdout.splitlines() if line.strip()}
    assert by_cli == runs
