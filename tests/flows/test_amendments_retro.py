"""A rate amendment that reaches back over posted time, through the contract's run: adjusted exactly once.

The contract's v1 gives the provisioned project its rate from the start of a month; time is logged and
posted at it; v2 raises the rate from a day between the posted entries. The ERP target, once Kantata has
v2's rates, reprices what was posted since v2's date (``PSFLOW_RETRO_RATE_CHANGES=adjust``, the default).
"""

from __future__ import annotations

from decimal import Decimal

from temporalio.client import Client

import worker
from canonical import Money, RoleRate
from stack.connectors import Connectors
from stack.flows import submit_amendment
from stack.settings import Settings
from tests.conftest import anchor_month_day
from tests.flows._kantata import Kantata
from tests.flows.conftest import WinDeal
from tests.flows.test_amendments_e2e import delivery, project, provisioned, settled
from tests.flows.test_posting import post
from tests.flows.test_posting_rates import API, RatedProject, charges, log_time


async def test_a_rate_raised_back_over_posted_time_adjusts_each_later_entry_once(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata, win_deal: WinDeal
) -> None:
    async with worker.running_workers(temporal_client, flow_settings):
        deal, engagement_id = await provisioned(temporal_client, flow_settings, win_deal)
        sold = await connectors.salesforce.get_opportunity(deal)
        role = next(str(item.role) for item in sold.line_items if item.role)
        currency = (await project(connectors, engagement_id)).budget.currency
        old, new = Money.of("150.00", currency), Money.of("175.00", currency)
        first_day = anchor_month_day(3, 1)
        v1 = delivery(deal, engagement_id, 1, first_day, rate_changes=(RoleRate(role=role, hourly_rate=old),))
        await submit_amendment(temporal_client, flow_settings, v1, wait=True)
        await settled(temporal_client, deal, 1)

        workspace = await connectors.kantata.find_project_by_external_id(engagement_id)
        job = await connectors.netsuite.get_job(engagement_id)
        assert workspace is not None and job is not None
        seeded = await connectors.kantata.find_project_by_external_id("PRJ-0001")
        assert seeded is not None
        roles = (await kantata.http.get(f"{API}/roles.json", params={"per_page": 200})).json()["roles"]
        on = RatedProject(
            project_id=engagement_id,
            workspace_id=workspace,
            job_id=job.internal_id,
            user_id=await kantata.participant(seeded),
            role_id=next(r["id"] for r in roles.values() if r["name"] == role),
        )
        days = [anchor_month_day(3, d) for d in (3, 4, 8, 9)]  # days no other test posts on
        entries = {
            day: await log_time(kantata, on, day, minutes)
            for day, minutes in zip(days, (100, 95, 100, 125), strict=True)
        }
        await kantata.approve_ids("time_entries", list(entries.values()))
        for day in days:
            assert (await post(temporal_client, flow_settings, day)).posted == 1

        raise_from = anchor_month_day(3, 5)
        v2 = delivery(deal, engagement_id, 2, raise_from, rate_changes=(RoleRate(role=role, hourly_rate=new),))
        await submit_amendment(temporal_client, flow_settings, v2, wait=True)
        status = await settled(temporal_client, deal, 2)

    # 1:40 h: 250.00 posted, 291.67 due; 2:05 h: 312.50 posted, 364.58 due. Entries before the 5th keep their rate.
    assert status.versions[1].targets["erp"].detail == (
        f"rates from {raise_from}; 2 posted entries re-rated: 2 adjusted (93.75 {currency})"
    )
    late = [entries[day] for day in days if day >= raise_from]
    assert await charges(connectors, on) == {
        f"{late[0]}:rate:cli:{deal}:v2": Decimal("41.67"),
        f"{late[1]}:rate:cli:{deal}:v2": Decimal("52.08"),
    }
