"""The daily posting Schedule: applied from settings, triggered, backfilled, paused, described, via the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError

import worker
from stack.connectors import Connectors
from stack.schedules import SCHEDULES, ScheduleError, handle, posting_backfill, schedule_id
from stack.settings import Settings
from tests.flows._kantata import Kantata
from tests.flows.test_posting import approved, in_erp, ledger_ids, post
from tests.flows.test_posting_exceptions import psflow
from workflows import search_attributes as sa
from workflows.post_time_expenses import PostTimeExpensesResult, workflow_id
from workflows.scheduled_posting import ScheduledPostingInput, ScheduledPostingWorkflow, business_date_for

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("scheduled", "posts"),
    [
        (datetime(2026, 11, 26, 2, 0, tzinfo=UTC), date(2026, 11, 25)),
        # 02:00 in London during summer time is 01:00 UTC: still the next day's run.
        (datetime(2026, 7, 15, 1, 0, tzinfo=UTC), date(2026, 7, 14)),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), date(2026, 3, 28)),
        (datetime(2026, 1, 1, 0, 30, tzinfo=UTC), date(2025, 12, 31)),
    ],
)
def test_a_scheduled_run_posts_the_day_before_its_scheduled_time_in_the_firms_zone(
    scheduled: datetime, posts: date
) -> None:
    assert business_date_for(scheduled, "Europe/London") == posts


def test_a_backfill_covers_the_runs_that_post_the_requested_days(settings: Settings) -> None:
    london = settings.model_copy(update={"firm_time_zone": "Europe/London", "posting_time": "02:00"})
    window = posting_backfill(london, date(2026, 11, 3), date(2026, 11, 5), today=date(2026, 11, 26))
    assert window.start_at == datetime(2026, 11, 4, 1, 59, tzinfo=LONDON)
    assert window.end_at == datetime(2026, 11, 6, 2, 1, tzinfo=LONDON)
    assert window.overlap is ScheduleOverlapPolicy.BUFFER_ALL
    with pytest.raises(ScheduleError, match="before --from"):
        posting_backfill(london, date(2026, 11, 5), date(2026, 11, 3), today=date(2026, 11, 26))
    with pytest.raises(ScheduleError, match="past days only"):
        posting_backfill(london, date(2026, 11, 20), date(2026, 11, 26), today=date(2026, 11, 26))
    with pytest.raises(ScheduleError, match="is not an IANA time zone"):
        posting_backfill(
            settings.model_copy(update={"firm_time_zone": "Mars/Olympus"}),
            date(2026, 11, 3),
            date(2026, 11, 5),
            today=date(2026, 11, 26),
        )


async def _scheduled_results(client: Client, schedule: str, count: int) -> list[PostTimeExpensesResult]:
    """Wait until the schedule has started ``count`` runs and they finished; their results, oldest first."""
    handle = client.get_schedule_handle(schedule)
    for _ in range(600):
        info = (await handle.describe()).info
        if info.num_actions >= count and not info.running_actions:
            break
        await asyncio.sleep(0.1)
    actions = [a.action for a in info.recent_actions[-count:]]
    results = []
    for action in actions:
        assert isinstance(action, ScheduleActionExecutionStartWorkflow)
        run = client.get_workflow_handle(action.workflow_id, result_type=PostTimeExpensesResult)
        results.append(await run.result())
    return results


async def test_the_daily_schedule_is_applied_triggered_backfilled_and_paused(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    config = flow_settings.model_copy(update={"firm_time_zone": "Europe/London"})
    schedule = schedule_id(config)
    # A Schedule fires on the real clock, so its days are real past days, each given approved work
    # of its own here (the demo firm's days move with its anchor, which may be anywhere).
    yesterday = datetime.now(LONDON).date() - timedelta(days=1)
    first, last = yesterday - timedelta(days=4), yesterday - timedelta(days=2)
    await kantata.open_periods(first, last, yesterday)
    workspace = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    assert workspace is not None
    user = await kantata.participant(workspace)
    for n in range(3):
        day = first + timedelta(days=n)
        await kantata.time(day, workspace, user, 45 + 15 * n, 15000, f"Backfill check {uuid.uuid4().hex[:8]}")
        await kantata.approve(day)
    try:
        async with worker.running_workers(temporal_client, config):
            created = await asyncio.to_thread(psflow, config, "schedule", "apply")
            updated = await asyncio.to_thread(psflow, config, "schedule", "apply")
            assert created.exit_code == 0 and "created" in created.output, created.output
            assert updated.exit_code == 0 and "updated" in updated.output, updated.output
            description = await temporal_client.get_schedule_handle(schedule).describe()
            [calendar] = description.schedule.spec.calendars
            assert (calendar.hour[0].start, calendar.minute[0].start) == (2, 0)
            assert description.schedule.spec.time_zone_name == "Europe/London"
            assert description.schedule.policy.overlap is ScheduleOverlapPolicy.BUFFER_ONE
            assert description.schedule.policy.catchup_window == timedelta(hours=72)

            triggered = await asyncio.to_thread(psflow, config, "schedule", "trigger")
            assert triggered.exit_code == 0 and f"posts business date {yesterday}" in triggered.output
            [now] = await _scheduled_results(temporal_client, schedule, 1)
            assert now.business_date == yesterday

            backfill = await asyncio.to_thread(
                psflow, config, "schedule", "backfill", "--from", first.isoformat(), "--to", last.isoformat()
            )
            assert backfill.exit_code == 0 and "3 run(s)" in backfill.output, backfill.output
            backfilled = await _scheduled_results(temporal_client, schedule, 4)

            paused = await asyncio.to_thread(psflow, config, "schedule", "pause", "--note", "month-end freeze")
            listed = await asyncio.to_thread(psflow, config, "schedule", "list")
            described = await asyncio.to_thread(psflow, config, "schedule", "describe")
            unpaused = await asyncio.to_thread(psflow, config, "schedule", "unpause")
            state = (await temporal_client.get_schedule_handle(schedule).describe()).schedule.state
    finally:
        for name in SCHEDULES:  # `schedule apply` made all of them
            with contextlib.suppress(RPCError):
                await handle(temporal_client, config, name).delete()

    assert [r.business_date for r in backfilled[1:]] == [first, first + timedelta(days=1), last]
    for result in backfilled[1:]:
        time_ids, expense_ids = await approved(connectors, result.business_date)
        assert time_ids, f"{result.business_date} has approved time"
        # The triggered run's look-back may have posted these days already: each reaches the ERP once.
        done = result.posted + result.already_posted
        assert done == len(time_ids) + len(expense_ids) and result.rejected == result.failed == 0, result
        bills, reports = await in_erp(connectors, result.business_date)
        assert {bills[i] for i in time_ids} | {reports[i] for i in expense_ids} == {1}
        posting = await temporal_client.get_workflow_handle(
            workflow_id(result.business_date, prefix=config.task_queue_prefix)
        ).describe()
        assert posting.typed_search_attributes.get(sa.BUSINESS_DATE) == result.business_date.isoformat()
    assert paused.exit_code == 0 and "paused te-posting" in paused.output
    assert listed.exit_code == 0 and schedule in listed.output and "month-end freeze" in listed.output, listed.output
    assert described.exit_code == 0 and "daily at 02:00 Europe/London" in described.output, described.output
    assert str(first) in described.output
    assert unpaused.exit_code == 0 and not state.paused


async def test_a_late_approval_is_posted_by_a_later_scheduled_run(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, kantata: Kantata
) -> None:
    # The run started now posts yesterday (UTC), then looks back two days: the day before yesterday's
    # entry, approved only after that day was posted, reaches the ERP with that run, once.
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    late_day = yesterday - timedelta(days=2)
    await kantata.open_periods(late_day, yesterday)
    workspace = await connectors.kantata.find_project_by_external_id("PRJ-0001")
    assert workspace is not None
    user = await kantata.participant(workspace)
    entry = await kantata.time(late_day, workspace, user, 75, 15000, f"Late-approved review {uuid.uuid4().hex[:8]}")
    async with worker.running_workers(temporal_client, flow_settings):
        first = await post(temporal_client, flow_settings, late_day)
        assert entry not in ledger_ids(flow_settings, late_day)
        await kantata.approve_ids("time_entries", [entry])
        result = await temporal_client.execute_workflow(
            ScheduledPostingWorkflow.run,
            ScheduledPostingInput(firm_time_zone="UTC", lookback_days=2),
            id=f"{flow_settings.task_queue_prefix}te-posting-scheduled-late",
            task_queue=flow_settings.task_queue("flows"),
        )

    assert result.business_date == yesterday
    assert [day.business_date for day in result.late] == [yesterday - timedelta(days=1), late_day]
    assert result.late[1].posted == 1 and result.late_posted >= 1, result.late
    assert first.rejected == first.failed == 0
    assert entry in ledger_ids(flow_settings, late_day)
    bills, _ = await in_erp(connectors, late_day)
    assert bills[entry] == 1


def test_schedule_commands_explain_a_missing_schedule(settings: Settings) -> None:
    result = psflow(settings, "schedule", "describe")
    assert result.exit_code == 1 and "psflow schedule apply" in result.output, result.output
