"""The monthly invoicing schedule on the real dev server: its calendar, and the month a run invoices."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleRange

import worker
from canonical.calendar import previous_period
from stack import schedules
from stack.settings import Settings
from workflows.monthly_invoicing import SCHEDULED_START, MonthlyInvoicingResult

ZONE = "Pacific/Auckland"  # far from UTC: the month must come from the firm's calendar, not UTC's


async def test_the_schedule_runs_on_the_first_at_three_and_invoices_the_month_before(
    temporal_client: Client, flow_settings: Settings
) -> None:
    config = flow_settings.model_copy(update={"firm_time_zone": ZONE})
    invoicing = schedules.schedule_id(config, schedules.MONTHLY_INVOICING)
    assert (invoicing, "created") in await schedules.apply(temporal_client, config)
    assert (invoicing, "updated") in await schedules.apply(temporal_client, config)
    schedule = schedules.handle(temporal_client, config, schedules.MONTHLY_INVOICING)
    try:
        described = await schedule.describe()
        spec = described.schedule.spec
        assert spec.time_zone_name == ZONE
        assert spec.calendars[0].day_of_month == (ScheduleRange(1),) and spec.calendars[0].hour == (ScheduleRange(3),)
        upcoming = described.info.next_action_times[0].astimezone(ZoneInfo(ZONE))
        assert (upcoming.day, upcoming.hour, upcoming.minute) == (1, 3, 0)

        async with worker.running_workers(temporal_client, config):
            await schedule.trigger()
            started = None
            for _ in range(100):
                actions = (await schedule.describe()).info.recent_actions
                if actions:
                    started = actions[0].action
                    break
                await asyncio.sleep(0.1)
            assert isinstance(started, ScheduleActionExecutionStartWorkflow)
            run = temporal_client.get_workflow_handle(
                started.workflow_id, run_id=started.first_execution_run_id, result_type=MonthlyInvoicingResult
            )
            result = await run.result()
            scheduled_for = (await run.describe()).typed_search_attributes.get(SCHEDULED_START)
        assert scheduled_for is not None  # the run took its month from the schedule's time, not its own start
        assert result.period == previous_period(datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date())
        assert result.projects == []
    finally:
        for name in schedules.SCHEDULES:
            await schedules.handle(temporal_client, config, name).delete()
