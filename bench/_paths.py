"""The two ways a won deal gets provisioned in a run: through Temporal, and the same steps called directly.

Both win the deal in Salesforce first (not timed), then time from the trigger to "all records
exist": the PSA project with its tasks, the ERP customer and job with its tasks, the
``project.activated`` event and the analytics row.

The direct baseline calls the worker's own activity methods (``activities.crm/erp/psa/events``)
in this process, in the workflow's order, built on the same connectors and a store like the
worker's, under ``temporalio.testing.ActivityEnvironment`` so ``activity.heartbeat`` works
without a server. What it leaves out is exactly what Temporal adds: history, task queues,
retries, compensation bookkeeping and search attributes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.crm import CrmActivities, HubSpotReader, SalesforceReader
from activities.erp import ErpActivities
from activities.events import EventActivities
from activities.models import AnalyticsRows, CreateErpJob, CreatePsaProject, OpportunityRef
from activities.psa import PsaActivities
from bench._load import Provision
from canonical import Engagement, OpportunityStage, project_for
from canonical.events import CloudEvent
from stack.connectors import Connectors
from stack.flows import trigger_provisioning
from stack.settings import Settings
from store import Store
from workflows.provision_engagement import EVENT_SOURCE, ProvisionEngagementResult


class NotProvisioned(Exception):
    """A deal ended in another state than provisioned."""


def orchestrated(client: Client, settings: Settings, connectors: Connectors) -> Provision:
    """Win the deal, trigger provisioning as the CLI does, wait for the workflow's result."""

    async def provision(deal: str) -> float:
        await connectors.salesforce.set_opportunity_stage(deal, OpportunityStage.CLOSED_WON)
        started = time.perf_counter()
        handle, _ = await trigger_provisioning(client, settings, crm="salesforce", opportunity_id=deal, source="cli")
        result = await handle.result()
        elapsed = time.perf_counter() - started
        if not isinstance(result, ProvisionEngagementResult) or result.state != "provisioned":
            raise NotProvisioned(f"ended {getattr(result, 'state', result)!r}")
        return elapsed

    return provision


def _activated(engagement: Engagement, code: str) -> CloudEvent:
    """The staffing event the workflow publishes, built the same way (the clock is the process's)."""
    return CloudEvent(
        id=f"{engagement.id}:project.activated",
        source=EVENT_SOURCE,
        type="com.psflow.project.activated",
        subject=engagement.id,
        time=datetime.now(UTC),
        data={
            "engagement_id": engagement.id,
            "project_code": code,
            "client": engagement.customer.name,
            "start_date": engagement.start_date.isoformat(),
            "end_date": engagement.end_date.isoformat(),
            "roles": sorted({item.role for item in engagement.line_items if item.role}),
        },
    )


def direct(connectors: Connectors, store: Store) -> Provision:
    """Win the deal, then call the provisioning activities one after another in this process."""
    crm = CrmActivities(
        {"salesforce": SalesforceReader(connectors.salesforce), "hubspot": HubSpotReader(connectors.hubspot)}
    )
    psa = PsaActivities(connectors.kantata, store)
    erp = ErpActivities(connectors.netsuite, store)
    events = EventActivities(connectors.events)

    async def provision(deal: str) -> float:
        await connectors.salesforce.set_opportunity_stage(deal, OpportunityStage.CLOSED_WON)
        started = time.perf_counter()
        run = ActivityEnvironment().run
        engagement = await run(crm.read_engagement, OpportunityRef(crm="salesforce", opportunity_id=deal))
        customer = engagement.customer
        if not customer.billable:
            raise NotProvisioned(f"{customer.id} lacks billing data: the workflow would wait for a person")
        customer_erp_id = await run(erp.upsert_customer, customer)
        project = project_for(engagement)
        psa_project_id = await run(psa.create_project, CreatePsaProject(project=project, customer=customer))
        job = CreateErpJob(engagement=engagement, project=project, customer_erp_id=customer_erp_id)
        erp_job_id = await run(erp.create_job, job)
        await run(events.publish, _activated(engagement, project.code))
        row = {
            "engagement_id": engagement.id,
            "client": customer.name,
            "currency": engagement.currency,
            "budget": str(engagement.budget.amount),
            "psa_project_id": psa_project_id,
            "erp_job_id": erp_job_id,
            "provisioned_at": datetime.now(UTC).isoformat(),
            "minutes_to_provision": round((time.perf_counter() - started) / 60, 2),
        }
        await run(events.push_rows, AnalyticsRows(table="engagements", rows=[row]))
        return time.perf_counter() - started

    return provision


async def baseline_store(settings: Settings) -> Store:
    """A store like the worker's (same URL), with its schema in place."""
    store = Store(settings.store_url)
    await asyncio.to_thread(store.upgrade)
    return store
