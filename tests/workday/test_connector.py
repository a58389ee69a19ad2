"""The connector against the in-process sandbox: paging, mapping of the demo firm, HR changes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import pytest

from canonical import Consultant, DateRange, Money
from connectors._core import NotFoundError, PermanentError
from connectors.workday import WorkdayConnector, WorkdaySettings
from sandbox import DemoFirm
from tests.workday.conftest import ADMIN, ConnectorFactory, Recorder, workday_sandbox

FIRM = DemoFirm.generate()
WINDOW = DateRange(start=FIRM.today - timedelta(days=120), end=FIRM.today + timedelta(days=120))


def _query(call: tuple[str, str, str, int]) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(call[2]).items()}


async def _all(
    connector: WorkdayConnector, *, active_only: bool = True, time_off_between: DateRange | None = None
) -> list[Consultant]:
    return [c async for c in connector.list_workers(active_only=active_only, time_off_between=time_off_between)]


async def test_lists_fifty_workers_in_pages_of_ten(make_connector: ConnectorFactory, transport: Recorder) -> None:
    consultants = await _all(make_connector(page_size=10))
    assert len(consultants) == len({c.id for c in consultants}) == len(FIRM.consultants) == 50
    pages = transport.to("/workers")
    assert [(_query(p)["limit"], _query(p)["offset"]) for p in pages] == [("10", str(n)) for n in range(0, 50, 10)]
    assert len(transport.to("/psflow_Worker_Staffing")) == 1  # the report is read once per listing


async def test_workers_page_resumes_from_its_cursor(connector: WorkdayConnector) -> None:
    first = await connector.workers_page(0, 20)
    assert (len(first.items), first.next_cursor) == (20, "20")
    second = await connector.workers_page(int(first.next_cursor or 0), 20)
    last = await connector.workers_page(40, 20)
    assert (len(last.items), last.next_cursor) == (10, None)
    ids = [c.id for page in (first, second, last) for c in page.items]
    assert sorted(ids) == sorted(c.id for c in await _all(connector))


@pytest.mark.parametrize(("offset", "limit"), [(0, 0), (0, 101), (-1, 10)])
async def test_workers_page_refuses_bad_bounds(connector: WorkdayConnector, offset: int, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await connector.workers_page(offset, limit)


async def test_consultants_match_the_demo_firm(connector: WorkdayConnector) -> None:
    by_email = {c.email: c for c in await _all(connector)}
    for person in FIRM.consultants:
        consultant = by_email[person.email]
        assert consultant.id.startswith("workday:") and consultant.source is not None
        assert consultant.id == f"workday:{consultant.source.id}"
        assert consultant.employee_id == person.employee_id
        assert consultant.name == person.name
        assert (consultant.title, consultant.role) == (person.title, person.grade)
        assert (consultant.cost_centre, consultant.supervisory_org) == (person.cost_centre, person.supervisory_org)
        assert consultant.location == person.location
        assert consultant.skills == person.skills
        assert consultant.cost_rate == Money.of(person.cost_rate, person.cost_currency)
        assert consultant.active and consultant.time_off == ()


async def test_without_the_report_the_worker_resource_suffices(
    make_connector: ConnectorFactory, transport: Recorder
) -> None:
    with_report = {c.id: c for c in await _all(make_connector())}
    without = {c.id: c for c in await _all(make_connector(staffing_report=""))}
    assert with_report.keys() == without.keys()
    for wid, consultant in without.items():
        assert consultant.cost_rate is None
        # Cost rate, manager and weekly hours come from the report only.
        report_only = {"cost_rate": None, "manager_id": None, "standard_hours_per_week": None}
        assert consultant == with_report[wid].model_copy(update=report_only)
    assert len(transport.to("/psflow_Worker_Staffing")) == 1  # only the first connector read it


async def test_older_v1_alias_serves_the_same_workers(make_connector: ConnectorFactory) -> None:
    assert await _all(make_connector(common_api="v1")) == await _all(make_connector())


async def test_get_worker_by_wid_or_canonical_id(connector: WorkdayConnector) -> None:
    listed = (await connector.workers_page(0, 1)).items[0]
    assert listed.source is not None
    assert await connector.get_worker(listed.source.id) == listed
    assert await connector.get_worker(listed.id) == listed


async def test_unknown_worker_is_not_found(connector: WorkdayConnector) -> None:
    with pytest.raises(NotFoundError) as caught:
        await connector.get_worker("0" * 32)
    assert caught.value.status == 404 and "no worker with id" in caught.value.message


def _expected_time_off(employee_id: str, window: DateRange) -> list[DateRange]:
    days = sorted(t.day for t in FIRM.consultant(employee_id).time_off if t.day in window)
    ranges: list[DateRange] = []
    for day in days:
        if ranges and ranges[-1].end + timedelta(days=1) == day:
            ranges[-1] = DateRange(start=ranges[-1].start, end=day)
        else:
            ranges.append(DateRange(start=day, end=day))
    return ranges


async def test_time_off_in_a_window(connector: WorkdayConnector) -> None:
    person = next(p for p in FIRM.consultants if len(p.time_off) >= 3)
    consultant = next(c for c in await _all(connector) if c.employee_id == person.employee_id)
    assert await connector.time_off(consultant.id, WINDOW) == _expected_time_off(person.employee_id, WINDOW)
    first_day = min(t.day for t in person.time_off)
    narrow = DateRange(start=first_day, end=first_day)
    assert await connector.time_off(consultant.id, narrow) == [narrow]


async def test_time_off_pages_through_more_than_a_hundred_days(
    connector: WorkdayConnector, admin: httpx.AsyncClient, transport: Recorder
) -> None:
    consultant = (await connector.workers_page(0, 1)).items[0]
    assert consultant.source is not None
    start = date(2030, 1, 1)
    days = [{"date": (start + timedelta(days=n)).isoformat(), "type": "Sabbatical"} for n in range(150)]
    response = await admin.post(f"{ADMIN}/workers/{consultant.source.id}/time-off", json={"days": days})
    assert response.status_code == 201, response.text
    window = DateRange(start=start, end=start + timedelta(days=200))
    assert await connector.time_off(consultant.id, window) == [DateRange(start=start, end=start + timedelta(days=149))]
    assert [_query(c)["offset"] for c in transport.to("/timeOffDetails")] == ["0", "100"]


async def test_listing_with_time_off_reads_it_per_worker(connector: WorkdayConnector) -> None:
    consultants = await _all(connector, time_off_between=WINDOW)
    assert len(consultants) == 50
    for consultant in consultants:
        assert list(consultant.time_off) == _expected_time_off(consultant.employee_id, WINDOW)
    assert sum(len(c.time_off) for c in consultants) > 0


async def test_requested_time_off_does_not_count(connector: WorkdayConnector, admin: httpx.AsyncClient) -> None:
    consultant = (await connector.workers_page(0, 1)).items[0]
    assert consultant.source is not None
    day = {"date": "2031-05-05", "status": "Submitted"}
    await admin.post(f"{ADMIN}/workers/{consultant.source.id}/time-off", json={"days": [day]})
    assert await connector.time_off(consultant.id, DateRange(start=date(2031, 5, 1), end=date(2031, 5, 31))) == []


async def test_a_hired_worker_appears_on_the_next_list(connector: WorkdayConnector, admin: httpx.AsyncClient) -> None:
    before = await _all(connector)
    hire = {
        "first_name": "Zoë",
        "last_name": "Hart",
        "email": "Zoe.Hart@PSFLOW-demo.example",
        "business_title": "Data Analyst",
        "job_profile": "Analyst",
        "supervisory_org_id": "SO-TEC-UK",
        "location": "London",
        "skills": ["Python", "Power BI"],
        "hourly_cost_rate": "45",
        "currency": "GBP",
    }
    response = await admin.post(f"{ADMIN}/workers", json=hire)
    assert response.status_code == 201, response.text
    wid = response.json()["id"]
    after = {c.id: c for c in await _all(connector)}
    assert len(after) == len(before) + 1
    hired = after[f"workday:{wid}"]
    assert hired.email == "zoe.hart@psflow-demo.example"
    assert (hired.employee_id, hired.role, hired.cost_centre) == ("E-1051", "Analyst", "CC-TEC-UK")
    assert hired.skills == ("Python", "Power BI")
    assert hired.cost_rate == Money(amount=Decimal(45), currency="GBP")


async def test_a_terminated_worker_leaves_the_active_list(
    connector: WorkdayConnector, admin: httpx.AsyncClient
) -> None:
    leaver = (await connector.workers_page(0, 1)).items[0]
    assert leaver.source is not None
    response = await admin.post(
        f"{ADMIN}/workers/{leaver.source.id}/terminate", json={"termination_date": "2025-06-30"}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert leaver.id not in {c.id for c in await _all(connector)}
    everyone = {c.id: c for c in await _all(connector, active_only=False)}
    assert len(everyone) == 50 and everyone[leaver.id].active is False
    assert (await connector.get_worker(leaver.id)).active is False


async def test_a_changed_worker_is_read_back(connector: WorkdayConnector, admin: httpx.AsyncClient) -> None:
    mover = (await connector.workers_page(0, 1)).items[0]
    assert mover.source is not None
    change = {"supervisory_org_id": "SO-TEC-US", "cost_center_id": "CC-TEC-US", "skills": ["Workday"]}
    response = await admin.patch(f"{ADMIN}/workers/{mover.source.id}", json=change)
    assert response.status_code == 200, response.text
    moved = await connector.get_worker(mover.id)
    assert (moved.supervisory_org, moved.cost_centre, moved.skills) == ("SO-TEC-US", "CC-TEC-US", ("Workday",))


def _mock(body: object) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer"})
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


async def test_a_worker_without_email_is_a_permanent_error_naming_it() -> None:
    worker = {"id": "abc", "descriptor": "No Mail"}
    settings = WorkdaySettings(staffing_report="")
    async with WorkdayConnector(settings, transport=_mock({"total": 1, "data": [worker]})) as connector:
        with pytest.raises(PermanentError) as caught:
            await _all(connector)
    assert caught.value.code == "unmappable_worker"
    assert "worker abc (No Mail) has no primaryWorkEmail" in caught.value.message


async def test_an_unexpected_response_shape_is_a_permanent_error() -> None:
    settings = WorkdaySettings(staffing_report="")
    async with WorkdayConnector(settings, transport=_mock({"workers": []})) as connector:
        with pytest.raises(PermanentError) as caught:
            await connector.workers_page()
    assert caught.value.code == "unexpected_response" and "total" in caught.value.message


async def test_an_empty_tenant_lists_nothing() -> None:
    app = workday_sandbox(":memory:", seed=None)  # no seed: the demo API client still works
    async with WorkdayConnector(transport=httpx.ASGITransport(app=app)) as connector:
        assert await _all(connector) == []
