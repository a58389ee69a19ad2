"""The resource sync end to end: HR events made through each emulator's own API, the real workflow and worker.

The sandbox is the whole session's, so each test starts its source's mark at HR's latest change
(``start_marks``) and hires people of its own (unique emails): an incremental run then reads only
what the test changed. Only the missed-change test sweeps everyone. Kantata is checked through its
own API: users by email, invitations, memberships, time off entries.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client

import worker
from activities.resources.models import FLOW, HRSource, ResourcePolicy
from canonical import Consultant
from connectors.hr import HRSystem
from connectors.workday import WorkdayHR
from stack.connectors import Connectors
from stack.flows import RetryRefused, retry_exception
from stack.settings import Settings
from store import Store
from store import exceptions as exc
from store import resources as resource_store
from tests.conftest import TEST_TODAY
from tests.flows._kantata import KANTATA_TOKEN
from tests.flows.conftest import inject
from tests.flows.test_provisioning_crash import start_worker
from tests.hr.test_contract import BAMBOO_AUTH, JSON, BambooDriver, Driver, WorkdayDriver
from workflows import search_attributes as sa
from workflows.sync_resources import ResourceSyncInput, ResourceSyncResult, ResourceSyncWorkflow, workflow_id

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
SWEPT = datetime.combine(TEST_TODAY, time(0), tzinfo=UTC)
"""When the tests' sources were last swept in full: with ``full_sweep_every`` of years, never due."""
NEVER = timedelta(days=3650)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)
B_API = "/bamboohr/api/v1"
T0 = datetime.combine(TEST_TODAY, time(9), tzinfo=UTC)
_minutes = itertools.count(1)


async def tick(api: httpx.AsyncClient) -> None:
    """Move both HR emulators' clocks to the next minute after ``T0``: HR stamps changes by its own clock,
    and refuses to cancel time off that has begun by it, so the tests never depend on the wall clock."""
    moment = (T0 + timedelta(minutes=next(_minutes))).isoformat()
    for system in ("bamboohr", "workday"):
        response = await api.put(f"/_admin/{system}/clock", json={"now": moment})
        assert response.status_code == 200, response.text


def monday_after(day: date, weeks: int = 1) -> date:
    return day + timedelta(days=7 * weeks - day.weekday())


class Psa:
    """Kantata as the tests see it, through its API: users by email, their invitations, time off, membership."""

    def __init__(self, sandbox_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=f"{sandbox_url}/kantata/api/v1", headers=KANTATA_TOKEN, timeout=30)

    async def _get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.http.get(path, params=params)
        response.raise_for_status()
        return dict(response.json())

    async def users(self, email: str) -> list[dict[str, Any]]:
        body = await self._get("/users.json", on_my_account="true", by_email_address=email)
        return [body["users"][r["id"]] for r in body["results"] if r["key"] == "users"]

    async def user(self, email: str) -> dict[str, Any]:
        [found] = await self.users(email)
        return found

    async def invitations(self, emails: set[str]) -> dict[str, int]:
        counted = dict.fromkeys(emails, 0)
        page = 1
        while True:
            body = await self._get("/account_invitations.json", per_page=200, page=page)
            for invitation in body.get("account_invitations", {}).values():
                email = str(invitation.get("email_address", "")).lower()
                if email in counted:
                    counted[email] += 1
            if page * 200 >= int(body.get("count", 0)):
                return counted
            page += 1

    async def time_off(self, user_id: str) -> dict[date, Decimal]:
        body = await self._get("/time_off_entries.json", user_id=user_id, per_page=200)
        entries = body.get("time_off_entries", {}).values()
        return {date.fromisoformat(e["requested_date"]): Decimal(str(e["hours"])) for e in entries}

    async def profile(self, connectors: Connectors, email: str) -> Consultant:
        """The user as psflow's Kantata connector reads it: title, cost centre, skills, Employee reference."""
        return next(user for user in await connectors.kantata.list_users() if user.email == email)

    async def workweek(self, user_id: str) -> dict[str, Any]:
        """The user's latest workweek membership (minutes per weekday)."""
        body = await self._get("/workweek_memberships.json", user_id=user_id, per_page=200)
        weeks = sorted(body.get("workweek_memberships", {}).values(), key=lambda w: str(w.get("start_date")))
        return dict(weeks[-1]) if weeks else {}

    async def _post(self, path: str, body: dict[str, Any]) -> str:
        response = await self.http.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        return str(response.json()["results"][0]["id"])

    async def allocate(self, user_id: str, spans: list[tuple[date, date]]) -> None:
        """Book the user on a project of its own, a day's worth of minutes for each span."""
        reference = {"service_name": "psflow", "service_model": "Project", "service_model_ref": uuid.uuid4().hex}
        workspace = await self._post(
            "/workspaces.json",
            {
                "workspace": {
                    "title": "Staffed",
                    "currency": "USD",
                    "creator_role": "maven",
                    "external_reference": reference,
                }
            },
        )
        resource = await self._post(
            "/workspace_resources.json", {"workspace_resource": {"workspace_id": workspace, "user_id": user_id}}
        )
        for start, end in spans:
            body = {
                "resource_id": resource,
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
                "minutes": 480,
            }
            await self._post("/workspace_allocations.json", {"workspace_allocation": body})

    async def allocations(self, user_id: str) -> list[tuple[date, date]]:
        body = await self._get("/workspace_allocations.json", user_ids=user_id, per_page=200)
        found = body.get("workspace_allocations", {}).values()
        return sorted((date.fromisoformat(a["start_date"]), date.fromisoformat(a["end_date"])) for a in found)

    async def disabled(self, user_id: str) -> bool:
        body = await self._get("/account_memberships.json", user_id=user_id)
        return any(m.get("disabled") for m in body.get("account_memberships", {}).values())


@pytest_asyncio.fixture
async def psa(sandbox_url: str) -> AsyncIterator[Psa]:
    found = Psa(sandbox_url)
    yield found
    await found.http.aclose()


@pytest_asyncio.fixture
async def hr_api(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as client:
        yield client


def driver_of(system: str, api: httpx.AsyncClient) -> Driver:
    return BambooDriver(api) if system == "bamboohr" else WorkdayDriver(api)


def hr_of(connectors: Connectors, system: str) -> HRSystem:
    return connectors.bamboohr if system == "bamboohr" else WorkdayHR(connectors.workday)


def store_of(settings: Settings) -> Store:
    store = Store(settings.store_url)
    store.upgrade()
    return store


async def start_marks(settings: Settings, connectors: Connectors, source: HRSource, *, swept: datetime = SWEPT) -> None:
    """Set the source's mark just past HR's latest change, as if synced up to now: changes *at* a mark are
    reported again, and the session's sandbox has many. ``swept``: when the last full sweep was."""
    hr = hr_of(connectors, source.hr_system)
    mark: datetime | None = None
    cursor: str | None = None
    while True:
        page = await hr.changed_since(None, cursor)
        mark = page.high_water_mark if mark is None or page.high_water_mark is None else max(mark, page.high_water_mark)
        cursor = page.next_cursor
        if cursor is None:
            break
    if mark is not None:
        mark += timedelta(seconds=1)
    store = store_of(settings)
    try:
        resource_store.save_mark(store, source, mark, swept)
    finally:
        store.engine.dispose()


async def sync(
    client: Client, settings: Settings, source: HRSource, *, record: str | None = None, **options: Any
) -> ResourceSyncResult:
    """Run the sync for one source as of ``TEST_TODAY`` (by default), incremental unless asked otherwise.

    With ``PSFLOW_RECORD_HISTORIES=1`` and ``record``, its history is saved for the replay test (the
    first run's too, when it continued as new).
    """
    options.setdefault("today", TEST_TODAY)
    options.setdefault("full_sweep_every", NEVER)
    handle = await client.start_workflow(
        ResourceSyncWorkflow.run,
        ResourceSyncInput(sources=[source], **options),
        id=workflow_id(settings.task_queue_prefix),
        task_queue=settings.task_queue("flows"),
    )
    result = await handle.result()
    if record and os.environ.get("PSFLOW_RECORD_HISTORIES") == "1":
        histories = {record: await client.get_workflow_handle(handle.id).fetch_history()}
        if result.runs > 1:
            first = client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)
            histories[f"{record}_continued_as_new"] = await first.fetch_history()
        for name, history in histories.items():
            (HISTORIES / f"resource_sync_{name}.json").write_text(history.to_json(), encoding="utf-8")
    return result


def exceptions_of(settings: Settings, worker_id: str | None = None) -> dict[str, exc.ExceptionRecord]:
    """The active resources exceptions, by reason (of one worker, or of every business key)."""
    store = Store(settings.store_url)
    try:
        rows = exc.find(store, flow=FLOW, limit=1000)
    finally:
        store.engine.dispose()
    return {row.reason: row for row in rows if worker_id is None or row.business_key.startswith(worker_id)}


def resource_of(settings: Settings, worker_id: str) -> resource_store.ResourceRow | None:
    store = Store(settings.store_url)
    try:
        return resource_store.resource(store, worker_id)
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("system", ["bamboohr", "workday"])
async def test_a_hire_change_leave_and_rehire_reach_kantata_and_time_off_follows_hr(
    system: str,
    temporal_client: Client,
    flow_settings: Settings,
    connectors: Connectors,
    psa: Psa,
    hr_api: httpx.AsyncClient,
) -> None:
    source = HRSource(legal_entity=f"le-{system}", hr_system=system)
    await tick(hr_api)
    await start_marks(flow_settings, connectors, source)
    hr = driver_of(system, hr_api)
    email = f"rs-{uuid.uuid4().hex[:8]}@psflow-demo.example"
    cost_centre = "CC-ADV-UK"
    off, half = monday_after(TEST_TODAY), monday_after(TEST_TODAY) + timedelta(days=1)
    beyond = TEST_TODAY + timedelta(days=120)  # outside the 90 days ahead: never propagated

    async with worker.running_workers(temporal_client, flow_settings):
        await tick(hr_api)
        hired = await hr.hire("Ada", "Sync", email, "Consultant", cost_centre)
        booked = await hr.book(hired, off, Decimal(6))
        await hr.book(hired, half, Decimal(4))
        await hr.book(hired, monday_after(beyond), Decimal(8))
        # Small steps: the run continues as new mid-way and picks up where it stood.
        first = await sync(temporal_client, flow_settings, source, steps_per_run=4, record=f"{system}_hired")
        user = await psa.user(email)
        time_off_first = await psa.time_off(user["id"])

        await tick(hr_api)
        await hr.change(hired, title="Senior Consultant", cost_centre="CC-TEC-UK", manager=hr.manager())
        await hr.cancel(hired, booked, off)
        skills = ["Data engineering", "Strategy"]
        if system == "bamboohr":  # BambooHR keeps weekly hours; Workday's come from its work schedule
            fields = {"customSkills": "; ".join(skills), "customStandardHoursPerWeek": "30"}
            await _bamboo(hr_api, "POST", f"/employees/{hired.split(':')[1]}", fields)
        else:
            patched = await hr_api.patch(f"/_admin/workday/workers/{hired.split(':')[1]}", json={"skills": skills})
            assert patched.status_code == 200, patched.text
        second = await sync(temporal_client, flow_settings, source)
        changed = await psa.user(email)
        profile = await psa.profile(connectors, email)
        week = await psa.workweek(user["id"])
        time_off_second = await psa.time_off(user["id"])

        past = (TEST_TODAY - timedelta(days=20), TEST_TODAY - timedelta(days=10))
        straddling = (TEST_TODAY - timedelta(days=5), TEST_TODAY + timedelta(days=10))
        future = (TEST_TODAY + timedelta(days=20), TEST_TODAY + timedelta(days=30))
        await psa.allocate(user["id"], [past, straddling, future])
        await tick(hr_api)
        await hr.terminate(hired, TEST_TODAY)
        on_last_day = await sync(temporal_client, flow_settings, source)
        still_enabled = not await psa.disabled(user["id"])
        allocations = await psa.allocations(user["id"])
        after_last_day = await sync(
            temporal_client, flow_settings, source, today=TEST_TODAY + timedelta(days=1), record=f"{system}_left"
        )

        await tick(hr_api)
        rehired = await hr.hire("Ada", "Sync", email, "Consultant", cost_centre)
        again = await sync(temporal_client, flow_settings, source, today=TEST_TODAY + timedelta(days=1))

    assert first.sources[0].counts.get("invited") == 1 and not first.full and first.runs > 1, first
    assert user["headline"] == "Consultant" and user["email_address"] == email
    assert time_off_first == {off: Decimal(6), half: Decimal(4)}, time_off_first
    assert first.time_off_set == 2 and first.events >= 1

    assert second.sources[0].counts.get("updated") == 1 and second.total("invited") == 0, second
    assert changed["headline"] == "Senior Consultant"
    assert (profile.title, profile.cost_centre, sorted(profile.skills)) == ("Senior Consultant", "CC-TEC-UK", skills)
    assert profile.employee_id, "the HR employee id is the PSA user's Employee reference"
    if system == "bamboohr":
        assert week["tuesday_minutes"] == 30 * 60 // 5, week
    assert time_off_second == {half: Decimal(4)} and second.time_off_cleared == 1, time_off_second

    assert on_last_day.total("disabled") == 0 and still_enabled
    # Known on the last day already: what lay ahead is gone, what ran past it ends on it, the past stays.
    assert allocations == [past, (straddling[0], TEST_TODAY)], allocations
    assert on_last_day.total("allocations_removed") >= 1, on_last_day
    assert after_last_day.total("disabled") == 1 and await psa.disabled(user["id"])
    assert await psa.users(email), "a leaver's user is never deleted"

    row = resource_of(flow_settings, hired)
    assert row is not None and row.psa_user_id == user["id"] and row.cost_centre == "CC-TEC-UK"
    assert row.termination_date == TEST_TODAY and row.disabled_at is not None

    assert again.total("conflicts") == 1, again
    rehire = exceptions_of(flow_settings, rehired)["rehire_new_id"]
    assert (rehire.system, rehire.business_key, rehire.state) == (system, rehired, "open")
    assert await psa.invitations({email}) == {email: 1}, "one person, one invitation"
    assert resource_of(flow_settings, rehired) is None or resource_of(flow_settings, rehired).psa_user_id != user["id"]  # type: ignore[union-attr]


async def _bamboo(api: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    response = await api.request(method, f"{B_API}{path}", json=body, headers=JSON, auth=BAMBOO_AUTH)
    assert response.status_code in (200, 201), response.text
    return response


async def _hire(api: httpx.AsyncClient, **fields: Any) -> str:
    body = {"firstName": "Bad", "lastName": "Input", "hireDate": TEST_TODAY.isoformat(), **fields}
    response = await _bamboo(api, "POST", "/employees", body)
    return f"bamboohr:{response.headers['Location'].rsplit('/', 1)[-1]}"


async def test_bad_hr_input_becomes_exceptions_with_its_values_and_the_rest_is_applied(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, psa: Psa, hr_api: httpx.AsyncClient
) -> None:
    source = HRSource(legal_entity="le-bad", hr_system="bamboohr")
    await tick(hr_api)
    await start_marks(flow_settings, connectors, source)
    await tick(hr_api)
    tag = uuid.uuid4().hex[:8]
    good = f"rs-good-{tag}@psflow-demo.example"
    no_email = await _hire(hr_api, jobTitle="Consultant")
    backwards = await _hire(hr_api, workEmail=f"rs-back-{tag}@psflow-demo.example")
    await _bamboo(
        hr_api,
        "POST",
        f"/employees/{backwards.split(':')[1]}/tables/employmentStatus",
        {"date": TEST_TODAY.isoformat(), "employmentStatus": "Terminated"},
    )
    later = (TEST_TODAY + timedelta(days=10)).isoformat()
    await _bamboo(hr_api, "POST", f"/employees/{backwards.split(':')[1]}", {"hireDate": later})
    elsewhere = await _hire(hr_api, workEmail=f"rs-cc-{tag}@psflow-demo.example", customCostCentre="CC-NOWHERE")
    skilled = await _hire(
        hr_api,
        workEmail=f"rs-skill-{tag}@psflow-demo.example",
        customCostCentre="CC-ADV-UK",
        customSkills="Basket weaving",
    )
    fine = await _hire(hr_api, workEmail=good, customCostCentre="CC-ADV-UK", customStandardHoursPerWeek="30")
    day = monday_after(TEST_TODAY)
    for hours in ("3", "5"):
        body = {
            "status": "approved",
            "start": day.isoformat(),
            "end": day.isoformat(),
            "timeOffTypeId": "77",
            "amount": hours,
        }
        await _bamboo(hr_api, "PUT", f"/employees/{fine.split(':')[1]}/time_off/request", body)
    policy = ResourcePolicy(cost_centres=("CC-ADV-UK", "CC-TEC-UK"), unknown_skills="exception")

    async with worker.running_workers(temporal_client, flow_settings):
        result = await sync(temporal_client, flow_settings, source, policy=policy, record="bad_input")
        described = await temporal_client.get_workflow_handle(workflow_id(flow_settings.task_queue_prefix)).describe()
        found = {key: exceptions_of(flow_settings, key) for key in (no_email, backwards, elsewhere, skilled, fine)}
        # A person fixes the cost centre in HR; re-syncing that one worker applies it and resolves its exception.
        await tick(hr_api)
        await _bamboo(hr_api, "POST", f"/employees/{elsewhere.split(':')[1]}", {"customCostCentre": "CC-TEC-UK"})
        targeted = await sync(
            temporal_client, flow_settings, source, policy=policy, worker_ids=[elsewhere], record="one_worker"
        )
        # Or a person fixes the skill in HR and retries the exception: the worker alone is synced again.
        await tick(hr_api)
        await _bamboo(hr_api, "POST", f"/employees/{skilled.split(':')[1]}", {"customSkills": "Strategy"})
        retry_settings = flow_settings.model_copy(
            update={
                "hr_systems": {"le-bad": "bamboohr"},
                "resource_cost_centres": list(policy.cost_centres or ()),
                "resource_unknown_skills": "exception",
            }
        )
        unknown_skill = found[skilled]["unknown_skill"].id
        retried = await retry_exception(
            temporal_client, retry_settings, unknown_skill, {}, actor="ana", today=TEST_TODAY
        )
        with pytest.raises(RetryRefused, match="withdraw one in bamboohr"):
            await retry_exception(
                temporal_client, retry_settings, found[fine]["time_off_overlap"].id, {}, actor="ana", today=TEST_TODAY
            )
        user = await psa.user(good)
        time_off = await psa.time_off(user["id"])

    invalid = found[no_email]["invalid_worker"]
    assert "no work email" in invalid.message and invalid.system == "bamboohr", invalid
    reversed_dates = found[backwards]["invalid_worker"]
    assert "before the hire date" in reversed_dates.message, reversed_dates
    assert (reversed_dates.values["hire_date"], reversed_dates.values["termination_date"]) == (
        later,
        TEST_TODAY.isoformat(),
    )
    assert found[elsewhere]["unknown_cost_centre"].values, found[elsewhere]
    assert "Basket weaving" in str(found[skilled]["unknown_skill"].values), found[skilled]
    overlap = found[fine]["time_off_overlap"]
    assert overlap.business_key == f"{fine}:{day.isoformat()}" and len(overlap.values["requests"]) == 2
    # The good one is applied whole, with the larger of the two overlapping requests.
    assert result.total("invited") >= 1 and result.total("invalid") >= 2, result
    assert time_off == {day: Decimal(5)}, time_off
    assert described.typed_search_attributes.get(sa.FLOW_STATE) == "exceptions"

    assert targeted.sources[0].read == 1 and targeted.total("updated") == 1, targeted
    assert (targeted.sources[0].time_off_days, targeted.sources[0].mark) == (0, None), (
        "one worker: no time off, no mark"
    )
    assert "unknown_cost_centre" not in exceptions_of(flow_settings, elsewhere)
    assert retried.outcome == "resolved", retried
    assert "unknown_skill" not in exceptions_of(flow_settings, skilled)
    assert (await psa.profile(connectors, f"rs-skill-{tag}@psflow-demo.example")).skills == ("Strategy",)
    assert (await psa.profile(connectors, f"rs-cc-{tag}@psflow-demo.example")).cost_centre == "CC-TEC-UK"


@pytest.mark.usefixtures("clear_faults")
async def test_a_worker_killed_mid_page_is_replaced_the_mark_is_saved_and_nobody_is_invited_twice(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, psa: Psa, hr_api: httpx.AsyncClient
) -> None:
    source = HRSource(legal_entity="le-kill", hr_system="bamboohr")
    await tick(hr_api)
    await start_marks(flow_settings, connectors, source)
    await tick(hr_api)
    tag = uuid.uuid4().hex[:8]
    emails = {f"rs-kill-{n}-{tag}@psflow-demo.example" for n in range(6)}
    hires = {await _hire(hr_api, workEmail=email, customCostCentre="CC-ADV-UK") for email in sorted(emails)}
    await inject(flow_settings.sandbox_url, "kantata", latency_ms=150)  # a worker a page, slowly
    first = await start_worker(flow_settings)
    second = None
    try:
        handle = await temporal_client.start_workflow(
            ResourceSyncWorkflow.run,
            ResourceSyncInput(
                sources=[source], today=TEST_TODAY, full_sweep_every=NEVER, batch_size=1,
                heartbeat_timeout=timedelta(seconds=2),
            ),
            id=workflow_id(flow_settings.task_queue_prefix),
            task_queue=flow_settings.task_queue("flows"),
        )  # fmt: skip
        for _ in range(900):  # at most 90 seconds
            if (await handle.query(ResourceSyncWorkflow.progress)).pages >= 2:
                break
            await asyncio.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        second = await start_worker(flow_settings)
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        for process in (first, second):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()

    assert await psa.invitations(emails) == dict.fromkeys(emails, 1)
    rows = {worker_id: resource_of(flow_settings, worker_id) for worker_id in hires}
    assert all(row is not None and row.psa_user_id for row in rows.values()), rows
    store = store_of(flow_settings)
    try:
        state = resource_store.sync_state(store, source)
    finally:
        store.engine.dispose()
    assert result.sources[0].mark is not None and state.high_water_mark == result.sources[0].mark
    assert result.sources[0].changed >= 6 and result.sources[0].read >= 6


async def test_a_change_the_feed_missed_is_caught_by_the_full_sweep(
    temporal_client: Client, flow_settings: Settings, connectors: Connectors, psa: Psa, hr_api: httpx.AsyncClient
) -> None:
    source = HRSource(legal_entity="le-missed", hr_system="bamboohr")
    email = f"rs-missed-{uuid.uuid4().hex[:8]}@psflow-demo.example"
    await tick(hr_api)
    missed = await _hire(hr_api, workEmail=email, customCostCentre="CC-ADV-UK", jobTitle="Analyst")
    # The feed will never show the hire. The last sweep was long ago by any clock, the workflow's included
    # (it decides with its own): a sweep is due after 0 seconds, not after two centuries.
    await start_marks(flow_settings, connectors, source, swept=LONG_AGO)

    async with worker.running_workers(temporal_client, flow_settings):
        incremental = await sync(temporal_client, flow_settings, source, full_sweep_every=timedelta(days=73000))
        unseen = await psa.users(email)
        unknown = resource_of(flow_settings, missed)
        swept = await sync(temporal_client, flow_settings, source, full_sweep_every=timedelta(0))
        user = await psa.user(email)

    assert not incremental.full and unseen == [] and unknown is None
    assert swept.full and swept.sources[0].read >= 51, swept
    assert user["headline"] == "Analyst" and resource_of(flow_settings, missed) is not None
