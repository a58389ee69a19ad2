"""One contract for the HR port, run against both adapters over their emulators.

Every change is made through the emulator's own API where the vendor has one (BambooHR) or its
admin routes (Workday's business processes), then read back through `connectors.hr.HRSystem`
only. Each system's clock is pinned, so high-water marks never depend on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from fastapi import FastAPI

from canonical import Consultant, DateRange, TimeOffStatus
from connectors._core import RateBudget
from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from connectors.hr import ChangeAction, HRSystem, WorkerChange
from connectors.workday import WorkdayConnector, WorkdayHR, WorkdaySettings
from connectors.workday.mapping import canonical_id as workday_canonical_id
from sandbox import create_app
from sandbox.seed import DemoFirm
from sandbox.systems import bamboohr as bamboohr_system
from sandbox.systems import workday as workday_system
from sandbox.systems.workday._common import workday_id
from tests.conftest import TEST_TODAY
from tests.workday.conftest import Recorder

FIRM = DemoFirm.generate(today=TEST_TODAY)
T0 = datetime(TEST_TODAY.year, TEST_TODAY.month, TEST_TODAY.day, 9, tzinfo=UTC)
LEAVE_DAY = TEST_TODAY + timedelta(days=30)
BAMBOO_AUTH = (bamboohr_system.DEMO_API_KEY, "x")
JSON = {"Accept": "application/json"}
B_API = "/bamboohr/api/v1"
W_ADMIN = "/_admin/workday"


class Driver(Protocol):
    """Makes HR events happen in one emulator."""

    def manager(self) -> str: ...
    async def at(self, moment: datetime) -> None: ...
    async def hire(self, first: str, last: str, email: str, title: str, cost_centre: str) -> str: ...
    async def change(self, worker_id: str, *, title: str, cost_centre: str, manager: str) -> None: ...
    async def terminate(self, worker_id: str, last_day: date) -> None: ...
    async def book(self, worker_id: str, day: date, hours: Decimal) -> str: ...
    async def cancel(self, worker_id: str, handle: str, day: date) -> None: ...
    async def throttle_once(self) -> None: ...


@dataclass
class BambooDriver:
    api: httpx.AsyncClient

    def manager(self) -> str:
        return "bamboohr:1"

    async def at(self, moment: datetime) -> None:
        assert (await self.api.put("/_admin/bamboohr/clock", json={"now": moment.isoformat()})).status_code == 200

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = await self.api.post(f"{B_API}{path}", json=body, headers=JSON, auth=BAMBOO_AUTH)
        assert response.status_code in (200, 201), response.text
        return response

    async def hire(self, first: str, last: str, email: str, title: str, cost_centre: str) -> str:
        body = {
            "firstName": first,
            "lastName": last,
            "workEmail": email,
            "jobTitle": title,
            "customCostCentre": cost_centre,
            "customStandardHoursPerWeek": "37.5",
            "supervisorEId": "1",
            "hireDate": TEST_TODAY.isoformat(),
        }
        response = await self._post("/employees", body)
        return f"bamboohr:{response.headers['Location'].rsplit('/', 1)[-1]}"

    async def change(self, worker_id: str, *, title: str, cost_centre: str, manager: str) -> None:
        fields = {"jobTitle": title, "customCostCentre": cost_centre, "supervisorEId": manager.split(":")[1]}
        await self._post(f"/employees/{worker_id.split(':')[1]}", fields)

    async def terminate(self, worker_id: str, last_day: date) -> None:
        row = {"date": last_day.isoformat(), "employmentStatus": "Terminated"}
        await self._post(f"/employees/{worker_id.split(':')[1]}/tables/employmentStatus", row)

    async def book(self, worker_id: str, day: date, hours: Decimal) -> str:
        body = {
            "status": "approved",
            "start": day.isoformat(),
            "end": day.isoformat(),
            "timeOffTypeId": "77",
            "amount": str(hours),
        }
        response = await self.api.put(
            f"{B_API}/employees/{worker_id.split(':')[1]}/time_off/request", json=body, headers=JSON, auth=BAMBOO_AUTH
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def cancel(self, worker_id: str, handle: str, day: date) -> None:
        response = await self.api.put(
            f"{B_API}/time_off/requests/{handle}/status", json={"status": "canceled"}, headers=JSON, auth=BAMBOO_AUTH
        )
        assert response.status_code == 200, response.text

    async def throttle_once(self) -> None:
        # One request per second: the next request passes, the one after gets 429 + Retry-After: 1.
        await self.api.put("/_admin/bamboohr/throttle", json={"mode": "2026", "limit": 1, "window_s": 1})


@dataclass
class WorkdayDriver:
    api: httpx.AsyncClient

    def manager(self) -> str:
        return workday_canonical_id(workday_id("worker", FIRM.consultants[0].employee_id))

    async def at(self, moment: datetime) -> None:
        assert (await self.api.put(f"{W_ADMIN}/clock", json={"now": moment.isoformat()})).status_code == 200

    async def hire(self, first: str, last: str, email: str, title: str, cost_centre: str) -> str:
        body = {
            "first_name": first,
            "last_name": last,
            "email": email,
            "business_title": title,
            "job_profile": "Consultant",
            "supervisory_org_id": FIRM.supervisory_orgs[0].id,
            "cost_center_id": cost_centre,
            "location": "London",
            "manager_id": self.manager().split(":")[1],
            "hire_date": TEST_TODAY.isoformat(),
        }
        response = await self.api.post(f"{W_ADMIN}/workers", json=body)
        assert response.status_code == 201, response.text
        return workday_canonical_id(response.json()["id"])

    async def change(self, worker_id: str, *, title: str, cost_centre: str, manager: str) -> None:
        body = {"business_title": title, "cost_center_id": cost_centre, "manager_id": manager.split(":")[1]}
        response = await self.api.patch(f"{W_ADMIN}/workers/{worker_id.split(':')[1]}", json=body)
        assert response.status_code == 200, response.text

    async def terminate(self, worker_id: str, last_day: date) -> None:
        response = await self.api.post(
            f"{W_ADMIN}/workers/{worker_id.split(':')[1]}/terminate", json={"termination_date": last_day.isoformat()}
        )
        assert response.status_code == 200, response.text

    async def book(self, worker_id: str, day: date, hours: Decimal) -> str:
        days = [{"date": day.isoformat(), "hours": str(hours)}]
        response = await self.api.post(f"{W_ADMIN}/workers/{worker_id.split(':')[1]}/time-off", json={"days": days})
        assert response.status_code == 201, response.text
        return day.isoformat()

    async def cancel(self, worker_id: str, handle: str, day: date) -> None:
        response = await self.api.post(
            f"{W_ADMIN}/workers/{worker_id.split(':')[1]}/time-off/cancel", json={"dates": [day.isoformat()]}
        )
        assert response.status_code == 200 and response.json()["changed"] == 1, response.text

    async def throttle_once(self) -> None:
        fault = {"rate_limit": 1, "retry_after_s": 1, "times": 1, "seed": 7, "path_regex": "/workers/"}
        assert (await self.api.put("/_admin/faults/workday", json=fault)).status_code == 200


@dataclass
class Subject:
    name: str
    hr: HRSystem
    driver: Driver
    recorder: Recorder


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
async def subject(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[Subject]:
    recorder = Recorder(httpx.ASGITransport(app=app))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as api:
        if request.param == "bamboohr":
            bamboo = BambooHRConnector(
                BambooHRSettings(base_url="http://sandbox/bamboohr", page_size=7), transport=recorder
            )
            yield Subject("bamboohr", bamboo, BambooDriver(api), recorder)
            await bamboo.aclose()
        else:
            workday = WorkdayConnector(
                WorkdaySettings(base_url="http://sandbox/workday", page_size=7), transport=recorder
            )
            yield Subject("workday", WorkdayHR(workday), WorkdayDriver(api), recorder)
            await workday.aclose()


async def _changes(hr: HRSystem, since: datetime | None) -> tuple[list[WorkerChange], datetime | None]:
    """Every change since `since`, through all pages, and the high-water mark to store after them."""
    found: list[WorkerChange] = []
    cursor: str | None = None
    while True:
        page = await hr.changed_since(since, cursor)
        found += page.items
        if page.next_cursor is None:
            return found, page.high_water_mark
        cursor = page.next_cursor


async def _sweep(hr: HRSystem) -> tuple[list[Consultant], int]:
    found: list[Consultant] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await hr.workers_page(cursor)
        pages += 1
        found += page.items
        if page.next_cursor is None:
            return found, pages
        cursor = page.next_cursor


def _cost_centres() -> tuple[str, str]:
    return FIRM.cost_centres[0].id, FIRM.cost_centres[1].id


async def test_a_hire_is_a_new_worker_after_the_mark(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    await driver.at(T0)
    _, mark = await _changes(hr, None)
    await driver.at(T0 + timedelta(hours=1))
    first_cc, _ = _cost_centres()
    hired = await driver.hire("Ada", "Nguyen", "ada.nguyen@psflow-demo.example", "Consultant", first_cc)
    changes, new_mark = await _changes(hr, mark)
    assert [(c.worker_id, c.action) for c in changes if c.worker_id == hired] == [(hired, ChangeAction.INSERTED)]
    assert new_mark == T0 + timedelta(hours=1)
    worker = await hr.worker(hired)
    assert (worker.email, worker.title, worker.cost_centre) == (
        "ada.nguyen@psflow-demo.example",
        "Consultant",
        first_cc,
    )
    assert worker.manager_id == driver.manager()
    assert worker.hire_date == TEST_TODAY and worker.termination_date is None and worker.active


async def test_a_change_of_title_cost_centre_and_manager(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    await driver.at(T0)
    first_cc, second_cc = _cost_centres()
    hired = await driver.hire("Bo", "Lind", "bo.lind@psflow-demo.example", "Consultant", first_cc)
    other = await driver.hire("Cy", "Moss", "cy.moss@psflow-demo.example", "Manager", first_cc)
    _, mark = await _changes(hr, None)
    await driver.at(T0 + timedelta(minutes=5))
    await driver.change(hired, title="Senior Consultant", cost_centre=second_cc, manager=other)
    changes, _ = await _changes(hr, mark)
    assert (hired, ChangeAction.UPDATED) in {(c.worker_id, c.action) for c in changes}
    worker = await hr.worker(hired)
    assert (worker.title, worker.cost_centre, worker.manager_id) == ("Senior Consultant", second_cc, other)


async def test_a_termination_keeps_the_worker_with_the_last_day(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    await driver.at(T0)
    hired = await driver.hire("Di", "Park", "di.park@psflow-demo.example", "Consultant", _cost_centres()[0])
    _, mark = await _changes(hr, None)
    await driver.at(T0 + timedelta(days=1))
    last_day = TEST_TODAY + timedelta(days=14)
    await driver.terminate(hired, last_day)
    changes, _ = await _changes(hr, mark)
    assert hired in {c.worker_id for c in changes}
    leaver = await hr.worker(hired)
    assert leaver.termination_date == last_day and not leaver.active
    swept, _ = await _sweep(hr)
    assert hired in {c.id for c in swept}  # the full sweep includes leavers


async def test_a_rehire_is_a_new_worker_with_the_same_email(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    await driver.at(T0)
    email = "eve.ross@psflow-demo.example"
    first = await driver.hire("Eve", "Ross", email, "Consultant", _cost_centres()[0])
    await driver.terminate(first, TEST_TODAY)
    await driver.at(T0 + timedelta(days=2))
    second = await driver.hire("Eve", "Ross", email, "Consultant", _cost_centres()[0])
    assert second != first
    swept = {c.id: c for c in (await _sweep(hr))[0] if c.email == email}
    assert set(swept) == {first, second}
    assert not swept[first].active and swept[second].active


async def test_time_off_approved_then_cancelled(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    await driver.at(T0)
    worker = driver.manager()
    window = DateRange(start=LEAVE_DAY, end=LEAVE_DAY)
    handle = await driver.book(worker, LEAVE_DAY, Decimal(8))

    def approved(entries: list[Any]) -> list[Any]:
        return [t for t in entries if t.status is TimeOffStatus.APPROVED and t.start <= LEAVE_DAY <= t.end]

    booked = approved(await hr.time_off(window, worker))
    assert len(booked) == 1 and booked[0].worker_id == worker
    assert booked[0].hours_by_day == {LEAVE_DAY: Decimal(8)}
    assert booked[0] in approved(await hr.time_off(window))  # everyone's, too
    await driver.cancel(worker, handle, LEAVE_DAY)
    after = await hr.time_off(window, worker)
    assert approved(after) == []
    if subject.name == "bamboohr":
        assert [t.status for t in after if t.id == booked[0].id] == [TimeOffStatus.CANCELLED]
    else:
        assert after == []  # Workday: a cancelled entry simply disappears


async def test_the_sweep_pages_through_everyone(subject: Subject) -> None:
    swept, pages = await _sweep(subject.hr)
    ids = [c.id for c in swept]
    assert len(ids) == len(set(ids)) == len(FIRM.consultants)
    assert pages == -(-len(FIRM.consultants) // 7)
    assert {c.employee_id for c in swept} == {p.employee_id for p in FIRM.consultants}


async def test_the_high_water_mark_returns_later_changes_only(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    cc = _cost_centres()[0]
    await driver.at(T0)
    early = await driver.hire("Fa", "Old", "fa.old@psflow-demo.example", "Consultant", cc)
    await driver.at(T0 + timedelta(hours=1))
    middle = await driver.hire("Gu", "Mid", "gu.mid@psflow-demo.example", "Consultant", cc)
    _, mark = await _changes(hr, T0 + timedelta(minutes=30))
    assert mark == T0 + timedelta(hours=1)
    await driver.at(T0 + timedelta(hours=2))
    late = await driver.hire("Hu", "New", "hu.new@psflow-demo.example", "Consultant", cc)
    changes, next_mark = await _changes(hr, mark)
    seen = {c.worker_id for c in changes}
    assert late in seen and early not in seen
    assert seen <= {middle, late}  # a change at the mark itself may come again, nothing older
    assert next_mark == T0 + timedelta(hours=2)
    assert all(c.changed_at >= mark for c in changes)


async def test_a_rate_limit_is_retried_after_the_header(subject: Subject) -> None:
    hr, driver = subject.hr, subject.driver
    worker = driver.manager()
    await hr.worker(worker)  # token and staffing report fetched before the throttle starts
    await driver.throttle_once()
    started = time.monotonic()
    await hr.worker(worker)
    consultant = await hr.worker(worker)
    waited = time.monotonic() - started
    assert consultant.id == worker
    statuses = [status for _, path, _, status in subject.recorder.calls if path.endswith(worker.split(":")[1])]
    assert 429 in statuses and statuses[-1] == 200
    assert statuses[statuses.index(429) + 1] == 200  # retried in-process ...
    assert waited >= 0.95  # ... after the "Retry-After: 1" the emulator sent
