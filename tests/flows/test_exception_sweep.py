"""Aging and escalation: the sweep escalates at the SLA in the firm's zone, publishes one event per step.

Every sweep runs at a pinned ``as_of``, so nothing here depends on the clock; each test has its own
week, so the deterministic event ids of two tests' exception 1 never meet in the session's sink.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow

import worker
from activities.exception_sweep import EVENT_TYPE
from stack.schedules import EXCEPTION_SWEEP, exception_sweep_schedule, schedule_id
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from tests.flows.conftest import inject
from workflows.exception_sweep import ExceptionSweepInput, ExceptionSweepResult, ExceptionSweepWorkflow

NEW_YORK = ZoneInfo("America/New_York")
ONE_SECOND = timedelta(seconds=1)


def _config(flow_settings: Settings) -> Settings:
    sla = {**flow_settings.exception_sla, "posting": (1, 3)}
    return flow_settings.model_copy(update={"firm_time_zone": "America/New_York", "exception_sla": sla})


def _store(config: Settings) -> Store:
    store = Store(config.store_url, exception_policy=config.exception_policy())
    store.upgrade()
    return store


def _occurrence(key: str) -> exc.Occurrence:
    return exc.Occurrence(
        flow="posting",
        system="netsuite",
        kind="time_entry",
        business_key=key,
        reason="unknown_project",
        message="project PRJ-9 is not in NetSuite",
        values={"project_id": "PRJ-9"},
    )


async def _sweep(client: Client, config: Settings, as_of: datetime, **options: Any) -> ExceptionSweepResult:
    return await client.execute_workflow(
        ExceptionSweepWorkflow.run,
        ExceptionSweepInput(as_of=as_of, **options),
        id=f"{config.task_queue_prefix}exception-sweep-{uuid.uuid4().hex[:8]}",
        task_queue=config.task_queue("flows"),
    )


async def _escalation_events(sandbox_url: str, business_keys: set[str]) -> list[dict[str, Any]]:
    """The escalation events the sink holds about these business keys, oldest first."""
    found, offset = [], 0
    async with httpx.AsyncClient() as http:
        while True:
            params: dict[str, Any] = {"type": EVENT_TYPE, "limit": 1000, "offset": offset}
            events = (await http.get(f"{sandbox_url}/sink/events", params=params)).json()["events"]
            found += [e for e in events if e["data"]["business_key"] in business_keys]
            if len(events) < 1000:
                return found
            offset += len(events)


async def test_exceptions_escalate_at_each_sla_threshold_in_the_firms_zone_across_a_weekend(
    temporal_client: Client, flow_settings: Settings
) -> None:
    config = _config(flow_settings)
    store = _store(config)
    keys = {name: f"kantata:{name}-{uuid.uuid4().hex[:8]}" for name in ("late", "acked", "resolved", "ignored")}
    # Friday 16:30 in New York is 21:30 UTC; one business day later is Monday 16:30 there, not Saturday.
    friday = datetime(2026, 11, 13, 16, 30, tzinfo=NEW_YORK)
    opened = exc.record(store, [_occurrence(k) for k in keys.values()], run_id="run-1", now=friday)
    ids = dict(zip(keys, opened, strict=True))
    exc.act(store, ids["acked"], "acknowledge", actor="ana", now=friday + timedelta(hours=1))
    exc.act(store, ids["resolved"], "resolve", actor="ana", now=friday + timedelta(hours=1))
    exc.act(store, ids["ignored"], "ignore", actor="ana", note="known gap", now=friday + timedelta(hours=1))
    first_due = datetime(2026, 11, 16, 16, 30, tzinfo=NEW_YORK)
    second_due = datetime(2026, 11, 18, 16, 30, tzinfo=NEW_YORK)

    async with worker.running_workers(temporal_client, config):
        before_first = await _sweep(temporal_client, config, first_due - ONE_SECOND)
        at_first = await _sweep(temporal_client, config, first_due)
        again_at_first = await _sweep(temporal_client, config, first_due)
        before_second = await _sweep(temporal_client, config, second_due - ONE_SECOND)
        at_second = await _sweep(temporal_client, config, second_due)
        after_second = await _sweep(temporal_client, config, second_due + timedelta(days=30))

    assert before_first.by_level == {} and before_first.pages == 1
    assert at_first.by_level == {1: 2}, at_first
    assert again_at_first.by_level == {}
    assert before_second.by_level == {}
    assert at_second.by_level == {2: 2}, at_second
    assert after_second.by_level == {}

    escalated = {row.id for row in exc.find(store, escalated=True)}
    assert escalated == {ids["late"], ids["acked"]}
    assert {row.id for row in exc.find(store, states=None, escalated=False)} == {ids["resolved"], ids["ignored"]}
    late = exc.get(store, ids["late"])
    assert (late.escalation_level, late.escalated_at, late.next_escalation_at) == (2, second_due, None)
    assert [e.detail["level"] for e in exc.history(store, ids["late"]) if e.action == "escalated"] == [1, 2]

    events = await _escalation_events(config.sandbox_url, set(keys.values()))
    by_key = sorted((e["data"]["business_key"], e["data"]["level"]) for e in events)
    assert by_key == sorted((keys[name], level) for name in ("late", "acked") for level in (1, 2))
    first_event = next(e for e in events if e["data"]["business_key"] == keys["late"] and e["data"]["level"] == 1)
    assert first_event["data"] == {
        "id": ids["late"],
        "flow": "posting",
        "kind": "time_entry",
        "system": "netsuite",
        "business_key": keys["late"],
        "level": 1,
        "first_seen": friday.astimezone(UTC).isoformat(),
        "due_at": first_due.astimezone(UTC).isoformat(),
    }
    assert first_event["source"] == "psflow/exceptions" and first_event["subject"] == f"exception:{ids['late']}"
    store.engine.dispose()


async def test_an_event_lost_to_a_sink_outage_after_the_store_committed_is_sent_by_the_retry(
    temporal_client: Client, flow_settings: Settings, clear_faults: None
) -> None:
    config = _config(flow_settings)
    store = _store(config)
    key = f"kantata:outage-{uuid.uuid4().hex[:8]}"
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=NEW_YORK)
    [ident] = exc.record(store, [_occurrence(key)], run_id="run-1", now=monday)
    due = datetime(2026, 11, 3, 10, 0, tzinfo=NEW_YORK)
    # Every in-process attempt of the first publish fails: the activity fails after escalate_due committed.
    await inject(config.sandbox_url, "sink", server_error=1.0, times=3, methods=["POST"])

    async with worker.running_workers(temporal_client, config):
        result = await _sweep(temporal_client, config, due, retry_initial_interval=timedelta(milliseconds=100))

    assert exc.get(store, ident).escalation_level == 1
    assert result.by_level == {1: 1} and result.resent == 1, result
    [event] = await _escalation_events(config.sandbox_url, {key})
    assert event["data"]["level"] == 1 and event["data"]["id"] == ident
    store.engine.dispose()


async def test_a_sweep_with_more_than_a_page_pages_and_continues_as_new_with_its_instant(
    temporal_client: Client, flow_settings: Settings
) -> None:
    config = _config(flow_settings)
    store = _store(config)
    keys = [f"kantata:many-{n}-{uuid.uuid4().hex[:8]}" for n in range(7)]
    tuesday = datetime(2026, 10, 20, 9, 0, tzinfo=NEW_YORK)
    exc.record(store, [_occurrence(key) for key in keys], run_id="run-1", now=tuesday)

    async with worker.running_workers(temporal_client, config):
        # Three days later both thresholds have passed: each page takes its exceptions one level up.
        result = await _sweep(temporal_client, config, tuesday + timedelta(days=3), page_size=3, pages_per_run=2)

    assert result.by_level == {1: 7, 2: 7}, result
    assert result.pages == 5 and result.runs == 3
    assert len(await _escalation_events(config.sandbox_url, set(keys))) == 14
    store.engine.dispose()


async def test_a_scheduled_sweep_escalates_as_of_its_scheduled_time(
    temporal_client: Client, flow_settings: Settings
) -> None:
    config = _config(flow_settings)
    _store(config).engine.dispose()
    schedule = temporal_client.get_schedule_handle(schedule_id(config, EXCEPTION_SWEEP))
    async with worker.running_workers(temporal_client, config):
        await temporal_client.create_schedule(schedule.id, exception_sweep_schedule(config))
        try:
            await schedule.trigger()
            for _ in range(600):  # until the triggered run has finished (the server's clock, not ours)
                info = (await schedule.describe()).info
                if info.num_actions and not info.running_actions:
                    break
                await asyncio.sleep(0.1)
            runs = [
                (action.scheduled_at, await temporal_client.get_workflow_handle(
                    action.action.workflow_id, result_type=ExceptionSweepResult).result())
                for action in info.recent_actions
                if isinstance(action.action, ScheduleActionExecutionStartWorkflow)
            ]  # fmt: skip
        finally:
            await schedule.delete()

    assert runs, info
    for scheduled_at, result in runs:  # the search attribute holds the scheduled time to the second
        assert result.as_of == scheduled_at.replace(microsecond=0) and result.pages == 1, result
