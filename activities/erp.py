"""ERP activities (``erp`` task queue): customers and jobs in NetSuite."""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import heartbeating
from activities.models import CreateErpJob, ProjectRef
from canonical import Customer
from connectors.netsuite import NetSuiteConnector
from store import Store

SYSTEM = "netsuite"


class ErpActivities:
    """Writes master data to the ERP by external id, so every call can be repeated safely."""

    def __init__(self, netsuite: NetSuiteConnector, store: Store) -> None:
        self._netsuite = netsuite
        self._store = store

    @activity.defn(name="erp.upsert_customer")
    @classified
    @heartbeating
    async def upsert_customer(self, customer: Customer) -> str:
        """Create or update the client master record; return the ERP's internal id."""
        internal_id = await self._netsuite.upsert_customer(customer)
        await asyncio.to_thread(self._store.map_id, "customer", customer.id, SYSTEM, internal_id)
        return internal_id

    @activity.defn(name="erp.create_job")
    @classified
    @heartbeating
    async def create_job(self, request: CreateErpJob) -> str:
        """Create (or reactivate) the job with its billing attributes and tasks; return its internal id."""
        engagement, project = request.engagement, request.project
        job_id = await self._netsuite.upsert_job(
            project,
            customer_internal_id=request.customer_erp_id,
            billing_type=engagement.billing_type,
            currency=engagement.currency,
            terms=engagement.customer.payment_terms,
            rate_card_id=project.rate_card_id,
        )
        for task in project.tasks:
            await self._netsuite.upsert_project_task(task, job_internal_id=job_id)
        await asyncio.to_thread(self._store.map_id, "project", project.id, SYSTEM, job_id)
        return job_id

    @activity.defn(name="erp.inactivate_job")
    @classified
    @heartbeating
    async def inactivate_job(self, ref: ProjectRef) -> None:
        """Mark the job inactive (the saga's compensation); a job that never existed is already undone."""
        await self._netsuite.inactivate_job(ref.project_id)
        await asyncio.to_thread(
            self._store.audit, activity.info().workflow_id or "psflow", "erp.job_inactivated", "project", ref.project_id
        )
