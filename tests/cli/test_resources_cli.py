"""``psflow resources``: who is free (the store's capacity and time off, less Kantata's bookings), and bad input.

People are written the way the sync writes them (`store.resources.save_resource`, `record_time_off`);
their bookings are real allocations in the session's Kantata emulator, in a week of 2031 no other
test books. Every command is given its days (``--from``/``--to``/``--as-of``), so nothing depends on
the clock. Bad input is one ``error:`` line, refused before Temporal or the PSA is reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import workflow
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.service import RPCError
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

import cli
import worker
from commands._demo_resources import sync_resources
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN
from stack.connectors import Connectors
from stack.schedules import RESOURCE_SYNC, resource_sync_schedule, schedule_id
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from store import resources as res
from tests.conftest import TEST_TODAY, _free_port

FIRST_MONDAY = date(2031, 3, 3)
WEEKS = itertools.count()
"""Each `people` books a week of its own in the session's emulator (the same users are booked in each)."""
ENTITIES = '{"uk": "bamboohr", "us": "workday"}'
CLOSED = "127.0.0.1:1"
Psflow = Callable[..., Result]


def run_cli(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(cli.app, list(args), env={"PSFLOW_SETTINGS_FILE": "", "COLUMNS": "250", **env})


@pytest.fixture
def psflow(store: Store, tmp_path: Path) -> Iterator[Psflow]:
    """The CLI on the test's store, two legal entities, Temporal unreachable (availability never needs it)."""
    env: dict[str, str | None] = {
        "PSFLOW_DATABASE_URL": store.url,
        "PSFLOW_DATA_DIR": str(tmp_path / "data"),
        "PSFLOW_TEMPORAL__ADDRESS": CLOSED,
        "PSFLOW_HR_SYSTEMS": ENTITIES,
    }
    yield lambda *args, **more: run_cli(env | more, *args)


def one_line_error(result: Result, words: str) -> None:
    assert result.exit_code in (1, 2), result.output
    assert words in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ("availability --from 2031-13-01", "--from '2031-13-01' is not a day: write it as YYYY-MM-DD"),
        ("availability --from 2031-03-10 --to 2031-03-03", "--to 2031-03-03 is before --from 2031-03-10"),
        ("availability --from 2031-01-01 --to 2032-01-02", "spans more than 366 days"),
        ("availability --as-of soon", "--as-of 'soon' is not a day"),
        ("availability --from 2031-03-03 --entity mars", "--entity 'mars' is not a legal entity"),
        ("availability --from 2031-03-03 --format csv", "Invalid value for '--format'"),
        ("sync --as-of 03/03/2031", "--as-of '03/03/2031' is not a day"),
        ("sync --as-of 2031-03-03", f"cannot reach Temporal at {CLOSED}"),
        ("sync --full --no-wait --nope", "No such option: --nope"),
    ],
)
def test_bad_input_is_one_line(psflow: Psflow, args: str, words: str) -> None:
    one_line_error(psflow("resources", *args.split()), words)


def test_an_entity_error_lists_the_entities(psflow: Psflow) -> None:
    one_line_error(psflow("resources", "availability", "--entity", "mars"), "they are: uk, us")


def test_a_store_without_schema_is_one_line(psflow: Psflow, tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    result = psflow("resources", "availability", "--from", "2031-03-03", PSFLOW_DATABASE_URL=empty)
    one_line_error(result, "has no schema yet: run `psflow db upgrade`")


def test_bad_hr_systems_setting_is_one_line(psflow: Psflow) -> None:
    result = psflow("resources", "availability", PSFLOW_HR_SYSTEMS='{"uk": "sap"}')
    one_line_error(result, "hr_systems.uk: Input should be 'workday' or 'bamboohr' (got 'sap')")


# -- availability: the store's capacity and time off, less Kantata's bookings ------------------------------------


def _kantata_users(api: httpx.Client, count: int) -> list[tuple[str, str]]:
    """``count`` seeded Kantata users, each with a workspace resource of their own (user id, resource id)."""
    participations = (api.get("/participations.json", params={"per_page": 50})).json()["participations"]
    users: dict[str, str] = {}
    for participation in participations.values():
        users.setdefault(str(participation["user_id"]), str(participation["workspace_id"]))
    found = []
    for user_id, workspace_id in list(users.items())[:count]:
        body = {"workspace_resource": {"workspace_id": workspace_id, "user_id": user_id}}
        response = api.post("/workspace_resources.json", json=body)
        assert response.status_code == 200, response.text
        found.append((user_id, str(response.json()["results"][0]["id"])))
    assert len(found) == count
    return found


def _book(api: httpx.Client, resource_id: str, start: date, end: date, hours: int) -> None:
    body = {
        "workspace_allocation": {
            "resource_id": resource_id,
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "minutes": hours * 60,
        }
    }
    response = api.post("/workspace_allocations.json", json=body)
    assert response.status_code == 200, response.text


@dataclass(frozen=True)
class Week:
    monday: date
    sunday: date
    people: tuple[str, ...]


@pytest.fixture
def people(store: Store, sandbox_url: str) -> Week:
    """Five people in the store, three of them booked in Kantata, in a week no other test books."""
    monday = FIRST_MONDAY + timedelta(weeks=next(WEEKS) * 2)
    sunday = monday + timedelta(days=6)
    headers = {"Authorization": f"Bearer {DEMO_ACCESS_TOKEN}"}
    with httpx.Client(base_url=f"{sandbox_url}/kantata/api/v1", headers=headers) as api:
        (ana_user, ana_res), (ben_user, _), (eve_user, eve_res) = _kantata_users(api, 3)
        _book(api, ana_res, monday, monday + timedelta(days=1), 16)  # Mon-Tue: 16 h in the week
        _book(api, ana_res, monday - timedelta(days=7), monday - timedelta(days=1), 40)  # the week before
        _book(api, eve_res, monday - timedelta(days=7), sunday, 100)  # 10 business days, 5 in: 50 h
    uk = {"legal_entity": "uk", "hr_system": "bamboohr", "standard_hours_per_week": Decimal(40)}
    res.save_resource(
        store, "bamboohr:1", **uk, name="Ana Ng", psa_user_id=ana_user, cost_centre="CC-100", skills=["Python", "SQL"]
    )
    res.record_time_off(store, "bamboohr:1", set_days={monday + timedelta(days=1): Decimal(8)})
    res.save_resource(
        store, "bamboohr:2", **uk | {"standard_hours_per_week": Decimal(30)}, name="Ben Ode", psa_user_id=ben_user,
        cost_centre="CC-200", skills=["python"],
    )  # fmt: skip
    res.save_resource(
        store, "bamboohr:3", **uk, name="Cai Li", cost_centre="CC-100", skills=["SQL"], hire_date=monday + timedelta(2)
    )  # hired on the Wednesday, not in the PSA yet
    res.save_resource(store, "bamboohr:4", **uk, name="Dee Vo", termination_date=monday - timedelta(days=3))
    res.save_resource(
        store, "workday:W9", legal_entity="us", hr_system="workday", standard_hours_per_week=Decimal(40),
        name="Eve Roy", psa_user_id=eve_user, cost_centre="CC-300", skills=["Java"],
    )  # fmt: skip
    return Week(monday, sunday, ("bamboohr:1", "bamboohr:2", "bamboohr:3", "workday:W9"))


def _json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _free(result: Result) -> list[tuple[str, str, str, str, str]]:
    return [
        (p["worker_id"], p["capacity_hours"], p["time_off_hours"], p["allocated_hours"], p["free_hours"])
        for p in _json(result)["people"]
    ]


def test_who_is_free_subtracts_time_off_and_bookings(psflow: Psflow, people: Week, sandbox_url: str) -> None:
    week = ("resources", "availability", "--from", people.monday.isoformat(), "--to", people.sunday.isoformat())
    sandbox = {"PSFLOW_SANDBOX_URL": sandbox_url}
    result = psflow(*week, "--format", "json", **sandbox)
    assert (_json(result)["from"], _json(result)["to"]) == (people.monday.isoformat(), people.sunday.isoformat())
    # Most free first; Eve is booked over her week and is not free at all (never below zero).
    assert _free(result) == [
        ("bamboohr:2", "30", "0", "0", "30"),
        ("bamboohr:3", "24", "0", "0", "24"),
        ("bamboohr:1", "40", "8", "16", "16"),
        ("workday:W9", "40", "0", "50", "0"),
    ]
    ana = next(p for p in _json(result)["people"] if p["worker_id"] == "bamboohr:1")
    assert (ana["name"], ana["cost_centre"], ana["skills"]) == ("Ana Ng", "CC-100", ["Python", "SQL"])

    assert [p[0] for p in _free(psflow(*week, "--skill", "PYTHON", "--format", "json", **sandbox))] == [
        "bamboohr:2",
        "bamboohr:1",
    ]
    assert [p[0] for p in _free(psflow(*week, "--cost-centre", "CC-100", "--format", "json", **sandbox))] == [
        "bamboohr:3",
        "bamboohr:1",
    ]
    assert [p[0] for p in _free(psflow(*week, "--entity", "us", "--format", "json", **sandbox))] == ["workday:W9"]

    shown = psflow(*week, **sandbox)
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.stdout.splitlines() if "bamboohr:" in line or "workday:" in line]
    assert [next(w for w in people.people if w in line) for line in lines] == [
        "bamboohr:2",
        "bamboohr:3",
        "bamboohr:1",
        "workday:W9",
    ]
    cells = [cell.strip() for cell in lines[2].strip("│ ").split("│")]
    assert cells == ["bamboohr:1", "Ana Ng", "CC-100", "Python, SQL", "40", "8", "16", "16"]


def test_the_range_defaults_to_the_week_from_as_of(psflow: Psflow, people: Week, sandbox_url: str) -> None:
    as_of = ("--as-of", people.monday.isoformat())
    result = psflow("resources", "availability", *as_of, "--format", "json", PSFLOW_SANDBOX_URL=sandbox_url)
    assert (_json(result)["from"], _json(result)["to"]) == (people.monday.isoformat(), people.sunday.isoformat())
    assert ("bamboohr:1", "40", "8", "16", "16") in _free(result)


def test_nobody_matching_says_what_was_asked(psflow: Psflow, people: Week) -> None:
    result = psflow("resources", "availability", "--from", "2031-03-03", "--skill", "COBOL", "--entity", "us")
    assert result.exit_code == 0, result.output
    assert "nobody employed from 2031-03-03 to 2031-03-09 with skill 'COBOL', entity 'us'" in result.output


def test_an_unreachable_psa_is_one_line(psflow: Psflow, people: Week) -> None:
    result = psflow("resources", "availability", "--from", "2031-03-03", PSFLOW_SANDBOX_URL="http://127.0.0.1:1")
    one_line_error(result, "cannot read the PSA's allocations at http://127.0.0.1:1/kantata/api/v1")


def test_show_one_person_with_ids_time_off_and_open_exceptions(psflow: Psflow, store: Store, people: Week) -> None:
    store.map_id("worker", "bamboohr:1", "kantata", "4242")
    store.map_id("worker", "bamboohr:1", "netsuite", "E-77")
    at = datetime(2031, 3, 1, 9, 0, tzinfo=UTC)
    problems = [
        exc.Occurrence("resources", "bamboohr", "email_changed", "bamboohr:1", "email_changed", "email ana@ → ana.ng@"),
        exc.Occurrence("resources", "bamboohr", "time_off_overlap", f"bamboohr:1:{people.monday}", "overlap", "two"),
        exc.Occurrence("resources", "bamboohr", "email_changed", "bamboohr:10", "email_changed", "someone else"),
    ]
    exc.record(store, problems, run_id="resource-sync/1", now=at)
    as_of = ("--as-of", people.monday.isoformat())

    shown = psflow("resources", "show", "bamboohr:1", *as_of)
    assert shown.exit_code == 0, shown.output
    assert "bamboohr:1 — Ana Ng (active)" in shown.output
    assert "kantata 4242, netsuite E-77" in shown.output
    assert f"{people.monday + timedelta(days=1)} 8 h" in shown.output
    assert "CC-100" in shown.output and "Python, SQL" in shown.output
    assert "email_changed: email ana@ → ana.ng@" in shown.output and "time_off_overlap: two" in shown.output
    assert "someone else" not in shown.output

    by_email = psflow("resources", "show", "Ana@x.example", *as_of)
    one_line_error(by_email, "no resource 'Ana@x.example'")
    store.map_id("worker", "bamboohr:4", "kantata", "99")
    gone = psflow("resources", "show", "bamboohr:4", *as_of)
    assert gone.exit_code == 0 and "Dee Vo (left" in gone.output, gone.output


# -- sync: started by hand or by the schedule, never two at once ----------------------------------------------------

with workflow.unsafe.imports_passed_through():
    from activities.resources.models import HRSource
    from workflows.sync_resources import ResourceSyncInput, ResourceSyncProgress, ResourceSyncResult, SourceResult


@workflow.defn(name="ResourceSync", sandboxed=False)
class HeldSync:
    """Stands in for the sync under its real name: answers ``progress``, holds until ``finish``, reports counts."""

    def __init__(self) -> None:
        self._progress = ResourceSyncProgress(step="applying workers", source="uk", counts={"invited": 1})
        self._finish = False
        self._input: ResourceSyncInput | None = None

    @workflow.run
    async def run(self, input: ResourceSyncInput) -> ResourceSyncResult:
        self._input = input
        await workflow.wait_condition(lambda: self._finish)
        counts = {"invited": 2, "updated": 1, "disabled": 1, "conflicts": 1, "exceptions": 1}
        done = [
            SourceResult(source=s, full=input.full, read=4, counts=counts, time_off_set=3, events=5)
            for s in input.sources
        ]
        return ResourceSyncResult(sources=done, full=input.full)

    @workflow.signal
    def finish(self) -> None:
        self._finish = True

    @workflow.query
    def progress(self) -> ResourceSyncProgress:
        return self._progress

    @workflow.query
    def given(self) -> ResourceSyncInput | None:
        return self._input


def _cli_env(settings: Settings) -> dict[str, str | None]:
    return {
        "PSFLOW_TEMPORAL__ADDRESS": settings.temporal.address,
        "PSFLOW_TASK_QUEUE_PREFIX": settings.task_queue_prefix,
        "PSFLOW_DATA_DIR": str(settings.data_dir),
        "PSFLOW_HR_SYSTEMS": ENTITIES,
        "PSFLOW_RESOURCE_COST_CENTRES": '["CC-100"]',
        "PSFLOW_RESOURCE_UNKNOWN_SKILLS": "exception",
        "PSFLOW_FIRM_TIME_ZONE": "Europe/London",
    }


async def _running(client: Client, workflow_id: str, after: str | None = None) -> WorkflowHandle[Any, Any]:
    """The run of ``workflow_id`` once one runs (another than run ``after``), polled: the CLI starts it in a thread."""
    for _ in range(300):
        with contextlib.suppress(RPCError):
            run = await client.get_workflow_handle(workflow_id).describe()
            if run.status == WorkflowExecutionStatus.RUNNING and run.run_id != after:
                return client.get_workflow_handle(workflow_id, run_id=run.run_id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never ran")


async def test_sync_starts_one_run_and_reports_the_one_running(temporal_client: Client, settings: Settings) -> None:
    env = _cli_env(settings)
    sync_id = f"{settings.task_queue_prefix}resource-sync"
    async with Worker(temporal_client, task_queue=settings.task_queue("flows"), workflows=[HeldSync]):
        started = await asyncio.to_thread(
            run_cli, env, "resources", "sync", "--full", "--no-wait", "--as-of", "2031-03-05"
        )
        assert started.exit_code == 0, started.output
        assert f"syncing resources (full sweep): {settings.temporal.ui_url}" in started.output
        handle = await _running(temporal_client, sync_id)
        given = await handle.query(HeldSync.given)
        assert given is not None
        assert given.sources == [
            HRSource(legal_entity="uk", hr_system="bamboohr"),
            HRSource(legal_entity="us", hr_system="workday"),
        ]
        assert (given.full, given.today, given.time_zone) == (True, date(2031, 3, 5), "Europe/London")
        assert (given.policy.cost_centres, given.policy.unknown_skills) == (("CC-100",), "exception")
        assert (given.time_off_days_back, given.time_off_days_ahead, given.full_sweep_every) == (
            7,
            90,
            timedelta(hours=24),
        )

        again = await asyncio.to_thread(run_cli, env, "resources", "sync")
        assert again.exit_code == 0, again.output
        assert f"a resource sync is already running: {sync_id}" in again.output and "not started again" in again.output
        runs = [w async for w in temporal_client.list_workflows(f"WorkflowId = '{sync_id}'")]
        assert len(runs) == 1

        await handle.signal(HeldSync.finish)
        await handle.result()
        waited = asyncio.ensure_future(asyncio.to_thread(run_cli, env, "resources", "sync", "--as-of", "2031-03-06"))
        second = await _running(temporal_client, sync_id, after=handle.run_id)
        await second.signal(HeldSync.finish)
        finished = await waited
    assert finished.exit_code == 0, finished.output
    assert "resources synced: 4 invited, 2 updated, 2 disabled" in finished.output, finished.output
    assert "time off 6 day(s) set, 0 cleared; 10 availability event(s); 4 exception(s)" in finished.output
    assert "psflow exceptions list --flow resources" in finished.output


async def test_a_scheduled_run_counts_as_running(temporal_client: Client, settings: Settings) -> None:
    env = _cli_env(settings)
    config = settings.model_copy(update={"hr_systems": {"uk": "bamboohr"}})
    schedule = temporal_client.get_schedule_handle(schedule_id(config, RESOURCE_SYNC))
    await temporal_client.create_schedule(schedule.id, resource_sync_schedule(config))
    try:
        async with Worker(temporal_client, task_queue=settings.task_queue("flows"), workflows=[HeldSync]):
            await schedule.trigger()
            for _ in range(300):
                running = (await schedule.describe()).info.running_actions
                if running:
                    break
                await asyncio.sleep(0.05)
            [action] = running
            assert isinstance(action, ScheduleActionExecutionStartWorkflow)
            assert action.workflow_id.startswith(f"{settings.task_queue_prefix}resource-sync-")
            result = await asyncio.to_thread(run_cli, env, "resources", "sync", "--as-of", "2031-03-05")
            listed = await asyncio.to_thread(run_cli, env, "schedule", "list")
            await temporal_client.get_workflow_handle(action.workflow_id).signal(HeldSync.finish)
    finally:
        await schedule.delete()
    assert result.exit_code == 0, result.output
    assert f"a resource sync is already running: {action.workflow_id}" in result.output
    assert listed.exit_code == 0 and schedule.id in listed.output, listed.output


# -- the demo's section, on a sandbox of its own (it terminates a staffed consultant and sweeps everyone) ----------


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sandbox process of this module's own, seeded with the demo firm on ``TEST_TODAY``."""
    port = _free_port()
    db = tmp_path_factory.mktemp("demo-sandbox") / "sandbox.db"
    log = db.with_suffix(".log").open("w")
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(db), "--seed", "demo"]
    process = subprocess.Popen([*command, "--today", TEST_TODAY.isoformat()], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/_admin/status", timeout=2).status_code == 200:
                    break
            assert process.poll() is None, f"the sandbox did not start; see {db.with_suffix('.log')}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


async def test_the_demo_shows_a_hire_a_leaver_and_leave_reaching_kantata(
    temporal_client: Client,
    settings: Settings,
    own_sandbox: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich reads it at each print: the tables' rows stay on one line
    config = settings.model_copy(update={"sandbox_url": own_sandbox})
    connectors = Connectors.build(config)
    try:
        async with worker.running_workers(temporal_client, config):
            await sync_resources(temporal_client, config, connectors, TEST_TODAY)
    finally:
        await connectors.aclose()
    printed = capsys.readouterr().out
    first, second = printed.split("Second sync")
    assert "First sync" in first and "resources synced: 50 linked" in first, first
    monday = TEST_TODAY + timedelta(days=7 - TEST_TODAY.weekday())
    summary = next(line for line in second.splitlines() if line.startswith("resources synced:"))
    assert "1 invited" in summary and "1 disabled" in summary, summary
    reached = {line.split("│")[1].strip(): line for line in second.splitlines() if line.count("│") == 4}
    assert "invited, user" in reached["hired"], reached
    assert "membership disabled; 0 h booked after the last day" in reached["left"], reached
    leave = ", ".join(f"{monday + timedelta(days=n)} 8 h" for n in range(3))
    assert f"time off: {leave}" in reached["leave approved"], reached
    free = second[second.index(f"who is free {monday} to {monday + timedelta(days=4)}") :]
    names = [line.split("│")[2].strip() for line in free.splitlines() if line.count("│") == 7]
    hired = f"Noor Haddad-{reached['hired'].split('noor.haddad.')[1][:6]}"
    assert names[-2:] == [hired, "Nora Chen"], free  # the hire from Monday, a full week; the leave, 3 days
    assert "│ 40         │ 24         │ 0        │ 16     │" in free  # the leave, Monday to Wednesday
