"""Record workflow histories for the replay tests: ``python -m tests.record_histories``.

Runs real provisioning flows against the local stack (``psflow dev up``: dev server, sandbox; a worker
runs in this process) and writes their histories to ``tests/histories/``. Re-record only when a
workflow change is meant to break replay; otherwise the replay test is what catches it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx

import worker
from canonical import OpportunityStage
from stack.client import connect
from stack.connectors import Connectors
from stack.flows import trigger_provisioning
from stack.settings import load_settings

HISTORIES = Path(__file__).resolve().parent / "histories"


async def record() -> None:
    # Plain payloads: the recorded histories stay readable and replay under any key ring (stack/codec.py).
    settings = load_settings(task_queue_prefix="record-histories-", encryption=False)
    client = await connect(settings)
    connectors = Connectors.build(settings)
    soql = (
        "SELECT Id FROM Opportunity WHERE IsClosed = false AND SBQQ__AmendedContract__c = null ORDER BY Id DESC LIMIT 2"
    )
    happy, failing = [row["Id"] async for row in connectors.salesforce.query(soql)]
    for deal in (happy, failing):
        await connectors.salesforce.set_opportunity_stage(deal, OpportunityStage.CLOSED_WON)
    async with httpx.AsyncClient() as http, worker.running_workers(client, settings):
        for name, deal in (("provisioned", happy), ("compensated", failing)):
            limits: dict[str, timedelta] = {}
            if name == "compensated":
                # Transient faults are outlasted until the deadline: keep the ERP failing past a short SLA.
                fault = {"server_error": 1.0, "path_regex": "/record/v1/job/", "methods": ["PUT"]}
                await http.put(f"{settings.sandbox_url}/_admin/faults/netsuite", json=fault)
                limits = {"sla": timedelta(seconds=5)}
            handle, _ = await trigger_provisioning(
                client, settings, crm="salesforce", opportunity_id=deal, source="cli", **limits
            )
            try:
                await handle.result()
            except Exception as failure:  # the compensated run ends failed, by design
                print(f"{name}: {failure}")
            history = await handle.fetch_history()
            path = HISTORIES / f"provision_engagement_{name}.json"
            path.write_text(json.dumps(history.to_json_dict(), indent=1) + "\n", encoding="utf-8")
            print(f"wrote {path}")
        await http.delete(f"{settings.sandbox_url}/_admin/faults")
    await connectors.aclose()


if __name__ == "__main__":
    asyncio.run(record())
