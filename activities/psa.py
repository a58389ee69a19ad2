"""PSA activities (``psa`` task queue): projects and tasks in Kantata."""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities._errors import classified
from activities._heartbeat import heartbeating
from activities.models import CreatePsaProject, ProjectRef
from connectors.kantata import KantataConnector
from store import Store

SYSTEM = "kantata"


class PsaActivities:
    """Creates and closes delivery projects in the PSA, recording their ids in the store."""

    def __init__(self, kantata: KantataConnector, store: Store) -> None:
        self._kantata = kantata
        self._store = store

    @activity.defn(name="psa.create_project")
    @classified
    @heartbeating
    async def create_project(self, request: CreatePsaProject) -> str:
        """Create the project and its tasks (each idempotent by external reference); return the workspace id."""
        project = request.project
        workspace_id = await self._kantata.create_project(project, customer_name=request.customer.name)
        await asyncio.to_thread(self._store.map_id, "project", project.id, SYSTEM, workspace_id)
        return workspace_id

    @activity.defn(name="psa.close_project")
    @classified
    @heartbeating
    async def close_project(self, ref: ProjectRef) -> bool:
        """Archive the project (the saga's compensation). False when there was nothing to undo."""
        workspace_id = await self._kantata.find_project_by_external_id(ref.project_id)
        if workspace_id is None:
            return False
        await self._kantata.close_project(workspace_id)
        await asyncio.to_thread(
            self._store.audit, activity.info().workflow_id or "psflow", "psa.project_closed", "project", ref.project_id
        )
        return True
