"""The resource sync's HR activities over both emulators: one bad worker never costs the others.

In-process emulators (as the HR contract suite uses) and a migrated store; the activities run in
Temporal's `ActivityEnvironment`, so heartbeats and the activity context are real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import ActivityEnvironment

from activities.resources.hr import ResourceHrActivities, days_off
from activities.resources.models import (
    FLOW,
    ChangesRequest,
    HRSource,
    StageTimeOffRequest,
    SweepRequest,
    WorkersRequest,
)
from canonical import DateRange, TimeOff
from connectors._core import RateBudget
from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from connectors.workday import WorkdayConnector, WorkdayHR, WorkdaySettings
from sandbox import create_app
from sandbox.systems import bamboohr as bamboohr_system
from sandbox.systems import workday as workday_system
from store import Store
from store import exceptions as exc
from store import resources as resource_store
from tests.conftest import TEST_TODAY
from tests.hr.test_contract import BAMBOO_AUTH, JSON, BambooDriver, Driver, WorkdayDriver

B_API = "/bamboohr/api/v1"
T0 = datetime(TEST_TODAY.year, TEST_TODAY.month, TEST_TODAY.day, 9, tzinfo=UTC)
"""Each emulator's clock is pinned here: HR refuses to cancel time off that has begun by its own clock."""
MONDAY = TEST_TODAY + timedelta(days=7 - TEST_TODAY.weekday())
WINDOW = DateRange(start=TEST_TODAY - timedelta(days=7), end=TEST_TODAY + timedelta(days=90))


@dataclass
class Subject:
    source: HRSource
    activities: ResourceHrActivities
    driver: Driver
    api: httpx.AsyncClient
    store: Store


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("PSFLOW_BAMBOOHR_", "PSFLOW_WORKDAY_")):
            monkeypatch.delenv(name)
    RateBudget.reset_registry()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(tmp_path / "s.db", seed="demo", systems=[bamboohr_system.SYSTEM, workday_system.SYSTEM])


@pytest.fixture(params=["bamboohr", "workday"])
async def subject(request: pytest.FixtureRequest, app: FastAPI, store: Store) -> AsyncIterator[Subject]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as api:
        if request.param == "bamboohr":
            bamboo = BambooHRConnector(
                BambooHRSettings(base_url="http://sandbox/bamboohr", page_size=7), transport=transport
            )
            hr = ResourceHrActivities({"bamboohr": bamboo}, store)
            await BambooDriver(api).at(T0)
            yield Subject(HRSource(legal_entity="uk", hr_system="bamboohr"), hr, BambooDriver(api), api, store)
            await bamboo.aclose()
        else:
            workday = WorkdayConnector(
                WorkdaySettings(base_url="http://sandbox/workday", page_size=7), transport=transport
            )
            hr = ResourceHrActivities({"workday": WorkdayHR(workday)}, store)
            await WorkdayDriver(api).at(T0)
            yield Subject(HRSource(legal_entity="uk", hr_system="workday"), hr, WorkdayDriver(api), api, store)
            await workday.aclose()


async def test_changes_name_each_worker_once_and_carry_the_mark(subject: Subject) -> None:
    env = ActivityEnvironment()
    hired = await subject.driver.hire("Ada", "Reads", "ada.reads@psflow-demo.example", "Consultant", "CC-ADV-UK")
    await subject.driver.at(datetime(TEST_TODAY.year, TEST_TODAY.month, TEST_TODAY.day, 10, tzinfo=UTC))
    await subject.driver.change(hired, title="Manager", cost_centre="CC-TEC-UK", manager=subject.driver.manager())
    since = datetime(TEST_TODAY.year, TEST_TODAY.month, TEST_TODAY.day, 8, tzinfo=UTC)
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await env.run(
            subject.activities.hr_changes, ChangesRequest(source=subject.source, since=since, cursor=cursor)
        )
        ids += page.worker_ids
        cursor = page.next_cursor
        if cursor is None:
            break
    assert ids.count(hired) == 1
    assert page.high_water_mark == datetime(TEST_TODAY.year, TEST_TODAY.month, TEST_TODAY.day, 10, tzinfo=UTC)


async def test_a_worker_that_is_gone_is_a_bad_worker_and_the_rest_are_read(subject: Subject) -> None:
    hired = await subject.driver.hire("Bo", "Reads", "bo.reads@psflow-demo.example", "Consultant", "CC-ADV-UK")
    gone = f"{subject.source.hr_system}:{'9' * 6 if subject.source.hr_system == 'bamboohr' else 'f' * 32}"
    request = WorkersRequest(source=subject.source, worker_ids=[hired, gone, hired])
    page = await ActivityEnvironment().run(subject.activities.hr_workers, request)
    assert [worker.id for worker in page.workers] == [hired]
    [bad] = page.bad
    assert bad.worker_id == gone and "no such worker" in bad.problem


async def test_the_sweep_pages_through_everyone(subject: Subject) -> None:
    env = ActivityEnvironment()
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = await env.run(subject.activities.hr_sweep_page, SweepRequest(source=subject.source, cursor=cursor))
        seen += [worker.id for worker in page.workers]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 50


async def test_an_unmappable_employee_is_a_bad_worker_with_its_values(tmp_path: Path, store: Store) -> None:
    """BambooHR: an employee without a work email, read one by one and in the sweep."""
    app = create_app(tmp_path / "s.db", seed="demo", systems=[bamboohr_system.SYSTEM])
    transport = httpx.ASGITransport(app=app)
    bamboo = BambooHRConnector(BambooHRSettings(base_url="http://sandbox/bamboohr", page_size=100), transport=transport)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as api:
        body = {"firstName": "No", "lastName": "Mail", "hireDate": TEST_TODAY.isoformat()}
        response = await api.post(f"{B_API}/employees", json=body, headers=JSON, auth=BAMBOO_AUTH)
        nobody = f"bamboohr:{response.headers['Location'].rsplit('/', 1)[-1]}"
    hr = ResourceHrActivities({"bamboohr": bamboo}, store)
    source = HRSource(legal_entity="uk", hr_system="bamboohr")
    env = ActivityEnvironment()
    read = await env.run(hr.hr_workers, WorkersRequest(source=source, worker_ids=[nobody, "bamboohr:1"]))
    swept = await env.run(hr.hr_sweep_page, SweepRequest(source=source))
    await bamboo.aclose()
    [bad] = read.bad
    assert bad.worker_id == nobody and "no work email" in bad.problem and [w.id for w in read.workers] == ["bamboohr:1"]
    assert [b.worker_id for b in swept.bad] == [nobody] and "email" in swept.bad[0].problem
    assert len(swept.workers) == 50


async def test_approved_time_off_is_staged_per_business_day_and_overlaps_are_exceptions(subject: Subject) -> None:
    hired = await subject.driver.hire("Cy", "Leave", "cy.leave@psflow-demo.example", "Consultant", "CC-ADV-UK")
    resource_store.save_resource(
        subject.store,
        hired,
        legal_entity="uk",
        hr_system=subject.source.hr_system,
        email="cy.leave@psflow-demo.example",
        standard_hours_per_week=Decimal(30),
    )
    await subject.driver.book(hired, MONDAY, Decimal(3))
    await subject.driver.book(hired, MONDAY + timedelta(days=1), Decimal(6))
    cancelled = await subject.driver.book(hired, MONDAY + timedelta(days=2), Decimal(8))
    await subject.driver.cancel(hired, cancelled, MONDAY + timedelta(days=2))
    await subject.driver.book(hired, TEST_TODAY + timedelta(days=200), Decimal(8))  # outside the window
    request = StageTimeOffRequest(source=subject.source, run_id="run-1", window=WINDOW)
    staged = await ActivityEnvironment().run(subject.activities.stage_time_off, request)
    again = await ActivityEnvironment().run(subject.activities.stage_time_off, request)
    diffs = resource_store.time_off_diffs(subject.store, "run-1", [hired], WINDOW.start, WINDOW.end)
    assert diffs[0].staged == {MONDAY: Decimal(3), MONDAY + timedelta(days=1): Decimal(6)}, diffs
    assert staged.overlaps == 0 and again.days == staged.days


async def test_two_approved_requests_on_one_day_keep_the_larger_and_open_an_exception(
    tmp_path: Path, store: Store
) -> None:
    app = create_app(tmp_path / "s.db", seed="demo", systems=[bamboohr_system.SYSTEM])
    transport = httpx.ASGITransport(app=app)
    bamboo = BambooHRConnector(BambooHRSettings(base_url="http://sandbox/bamboohr"), transport=transport)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as api:
        driver = BambooDriver(api)
        await driver.at(T0)
        hired = await driver.hire("Di", "Twice", "di.twice@psflow-demo.example", "Consultant", "CC-ADV-UK")
        ids = [await driver.book(hired, MONDAY, Decimal(hours)) for hours in (2, 5)]
        resource_store.save_resource(
            store, hired, legal_entity="uk", hr_system="bamboohr", email="di.twice@psflow-demo.example"
        )
        source = HRSource(legal_entity="uk", hr_system="bamboohr")
        hr = ResourceHrActivities({"bamboohr": bamboo}, store)
        request = StageTimeOffRequest(source=source, run_id="run-2", window=WINDOW)
        result = await ActivityEnvironment().run(hr.stage_time_off, request)
        [overlap] = exc.find(store, flow=FLOW, key=f"{hired}:{MONDAY.isoformat()}")
        # HR fixed: one of the two cancelled. The next staging resolves the overlap, naming its run.
        await driver.cancel(hired, ids[0], MONDAY)
        later = StageTimeOffRequest(source=source, run_id="run-3", window=WINDOW)
        await ActivityEnvironment().run(hr.stage_time_off, later)
    await bamboo.aclose()
    assert result.overlaps == 1 and overlap.reason == "time_off_overlap" and overlap.system == "bamboohr"
    assert set(overlap.values["requests"]) == {f"bamboohr:{i}" for i in ids} and overlap.values["kept_hours"] == "5"
    [diff] = resource_store.time_off_diffs(store, "run-2", [hired], WINDOW.start, WINDOW.end)
    assert diff.staged == {MONDAY: Decimal(5)}
    resolved = exc.get(store, overlap.id)
    assert (resolved.state, resolved.resolved_by) == ("resolved", "run-3")
    [after] = resource_store.time_off_diffs(store, "run-3", [hired], WINDOW.start, WINDOW.end)
    assert after.staged == {MONDAY: Decimal(5)}


def test_a_full_day_is_a_fifth_of_the_week_and_weekends_are_never_off() -> None:
    friday = MONDAY + timedelta(days=4)
    week = TimeOff(id="x:1", worker_id="x:1", start=friday, end=friday + timedelta(days=3))
    assert days_off(week, WINDOW, Decimal("7.5")) == {
        friday: Decimal("7.5"),
        friday + timedelta(days=3): Decimal("7.5"),
    }
    given = TimeOff(
        id="x:2", worker_id="x:1", start=MONDAY, end=MONDAY + timedelta(days=1), hours_by_day={MONDAY: Decimal(0)}
    )
    assert days_off(given, WINDOW, Decimal(8)) == {}


async def test_a_workday_worker_without_email_is_a_bad_worker_and_the_rest_of_its_page_counts(store: Store) -> None:
    good = {"id": "a" * 32, "descriptor": "Has Mail", "primaryWorkEmail": "has.mail@psflow-demo.example"}
    bad = {"id": "b" * 32, "descriptor": "No Mail"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return httpx.Response(200, json={"total": 2, "data": [good, bad]})

    settings = WorkdaySettings(base_url="http://workday", staffing_report="")
    async with WorkdayConnector(settings, transport=httpx.MockTransport(answer)) as workday:
        hr = ResourceHrActivities({"workday": WorkdayHR(workday)}, store)
        source = HRSource(legal_entity="uk", hr_system="workday")
        page = await ActivityEnvironment().run(hr.hr_sweep_page, SweepRequest(source=source))
    assert [worker.email for worker in page.workers] == ["has.mail@psflow-demo.example"]
    [refused] = page.bad
    assert refused.worker_id == f"workday:{'b' * 32}" and "has no primaryWorkEmail" in refused.problem


async def test_changes_at_the_mark_that_psflow_wrote_since_are_not_read_again(subject: Subject) -> None:
    """A bulk load in one second must not come back on every run (and turn each into a full sweep)."""
    driver, env = subject.driver, ActivityEnvironment()
    names = ("Ed", "Flo", "Gus")
    hired = [
        await driver.hire(name, "Bulk", f"{name.lower()}.bulk@psflow-demo.example", "Consultant", "CC-ADV-UK")
        for name in names
    ]
    mark = (await env.run(subject.activities.hr_changes, ChangesRequest(source=subject.source))).high_water_mark
    assert mark == T0
    for worker_id in hired[:2]:  # applied, a second after HR's change, by the run that stored the mark
        resource_store.save_resource(
            subject.store,
            worker_id,
            now=T0 + timedelta(seconds=1),
            legal_entity="uk",
            hr_system=subject.source.hr_system,
        )
    await driver.at(T0 + timedelta(minutes=5))
    await driver.change(hired[0], title="Manager", cost_centre="CC-TEC-UK", manager=driver.manager())
    ids: list[str] = []
    cursor: str | None = None
    while True:
        request = ChangesRequest(source=subject.source, since=mark, cursor=cursor)
        page = await env.run(subject.activities.hr_changes, request)
        ids += page.worker_ids
        cursor = page.next_cursor
        if cursor is None:
            break
    # Changed again after the mark: read. Only at the mark and written since: left out. Never written: read.
    assert hired[0] in ids and hired[1] not in ids and hired[2] in ids, ids


async def test_a_sweep_pages_the_feed_for_the_mark_alone_without_ids(subject: Subject) -> None:
    """A run that sweeps every worker anyway learns the new mark without putting thousands of ids in its history."""
    driver, env = subject.driver, ActivityEnvironment()
    await driver.hire("Hal", "Sweep", "hal.sweep@psflow-demo.example", "Consultant", "CC-ADV-UK")
    with_ids = await env.run(subject.activities.hr_changes, ChangesRequest(source=subject.source))
    marks_only = await env.run(subject.activities.hr_changes, ChangesRequest(source=subject.source, ids=False))
    assert with_ids.worker_ids and marks_only.worker_ids == [] and marks_only.bad == []
    assert marks_only.high_water_mark == with_ids.high_water_mark is not None
    assert marks_only.next_cursor == with_ids.next_cursor
