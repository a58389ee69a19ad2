"""The BambooHR connector over its emulator: mapping, errors from the header, legacy throttling."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from canonical import DateRange, SystemName, TimeOffStatus
from connectors._core import AuthError, NotFoundError
from connectors.bamboohr import BambooHRSettings, consultant_from_employee, time_off_from_request
from connectors.hr import HRSystem
from sandbox.seed import DemoFirm
from tests.bamboohr.conftest import ADMIN, ConnectorFactory
from tests.conftest import TEST_TODAY


def test_settings_read_the_bamboohr_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_BAMBOOHR_COMPANY", "acme")
    monkeypatch.setenv("PSFLOW_BAMBOOHR_LEGACY_GATEWAY", "true")
    settings = BambooHRSettings(base_url="https://api.bamboohr.com")
    assert settings.api_root == "https://api.bamboohr.com/api/gateway.php/acme/v1"


async def test_the_connector_is_an_hr_system(make_connector: ConnectorFactory) -> None:
    assert isinstance(make_connector(), HRSystem)


async def test_worker_maps_the_demo_firms_consultant(make_connector: ConnectorFactory) -> None:
    firm = DemoFirm.generate(today=TEST_TODAY)
    person = firm.consultants[1]
    consultant = await make_connector().worker("bamboohr:2")
    assert consultant.employee_id == person.employee_id and consultant.email == person.email
    assert consultant.manager_id == "bamboohr:1"
    assert consultant.standard_hours_per_week == person.weekly_hours
    assert consultant.hire_date == person.hire_date and consultant.termination_date is None
    assert consultant.cost_centre == person.cost_centre and consultant.skills == person.skills
    assert consultant.source is not None and consultant.source.system is SystemName.BAMBOOHR


async def test_legacy_gateway_reaches_the_same_company(make_connector: ConnectorFactory) -> None:
    consultant = await make_connector(legacy_gateway=True).worker("3")
    assert consultant.id == "bamboohr:3"


async def test_a_wrong_key_is_an_auth_error_with_bamboohrs_message(make_connector: ConnectorFactory) -> None:
    with pytest.raises(AuthError, match="API key"):
        await make_connector(api_key="wrong").worker("1")


async def test_an_unknown_employee_is_not_found(make_connector: ConnectorFactory) -> None:
    with pytest.raises(NotFoundError, match="no employee with id '9999'"):
        await make_connector().worker("9999")


async def test_legacy_503_throttling_is_retried(make_connector: ConnectorFactory, api: httpx.AsyncClient) -> None:
    await api.put(f"{ADMIN}/throttle", json={"mode": "legacy", "limit": 1, "window_s": 0.3})
    connector = make_connector()
    await connector.worker("1")
    assert (await connector.worker("2")).id == "bamboohr:2"


def test_an_employee_without_work_email_is_refused_with_its_id() -> None:
    with pytest.raises(ValueError, match=r"employee 7 .* no work email"):
        consultant_from_employee({"id": 7, "firstName": "A", "lastName": "B", "workEmail": ""})


@pytest.mark.parametrize(
    ("raw", "status"),
    [("superceded", TimeOffStatus.SUPERSEDED), ("canceled", TimeOffStatus.CANCELLED), ("denied", TimeOffStatus.DENIED)],
)
def test_time_off_statuses_map_including_bamboohrs_spelling(raw: str, status: TimeOffStatus) -> None:
    item = {
        "id": 5,
        "employeeId": 3,
        "start": "2026-04-06",
        "end": "2026-04-07",
        "status": {"status": raw},
        "type": {"id": "77", "name": "Vacation"},
        "dates": {"2026-04-06": "8", "2026-04-07": 4},
    }
    off = time_off_from_request(item)
    assert off.status is status and off.worker_id == "bamboohr:3"
    assert off.hours_by_day == {date(2026, 4, 6): Decimal(8), date(2026, 4, 7): Decimal(4)}


async def test_time_off_reads_the_seeded_days(make_connector: ConnectorFactory) -> None:
    firm = DemoFirm.generate(today=TEST_TODAY)
    person = firm.consultants[0]
    window = DateRange(start=TEST_TODAY.replace(day=1).replace(month=1), end=TEST_TODAY.replace(month=12, day=31))
    got = await make_connector().time_off(window, "bamboohr:1")
    assert sorted(t.start for t in got) == sorted(d.day for d in person.time_off if window.start <= d.day <= window.end)
