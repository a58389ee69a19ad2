"""What contract amendments write: Kantata's workspace budget shape and NetSuite's job rules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sandbox._auth import issue_token
from sandbox.app import create_app
from sandbox.systems.kantata import DEMO_ACCESS_TOKEN
from sandbox.systems.kantata import SYSTEM as KANTATA_SYSTEM
from sandbox.systems.netsuite import SYSTEM as NETSUITE_SYSTEM

from .conftest import TEST_TODAY

KANTATA = "/kantata/api/v1"
RECORD = "/netsuite/services/rest/record/v1"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app = create_app(
        tmp_path_factory.mktemp("amend") / "s.db",
        seed="demo",
        today=TEST_TODAY,
        faults={},
        systems=[KANTATA_SYSTEM, NETSUITE_SYSTEM],
    )
    yield app
    app.state.db.close()


@pytest.fixture
async def kantata(seeded: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {DEMO_ACCESS_TOKEN}"}
    transport = httpx.ASGITransport(app=seeded)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as client:
        yield client


@pytest.fixture
async def netsuite(seeded: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {issue_token(seeded.state.db, 'netsuite', subject='test', ttl_s=600)}"}
    transport = httpx.ASGITransport(app=seeded)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as client:
        yield client


async def _workspace(kantata: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await kantata.request(method, f"{KANTATA}{path}", json={"workspace": body})
    assert response.status_code == 200, response.text
    found = response.json()["workspaces"]
    return dict(next(iter(found.values())))


async def test_seeded_workspaces_read_their_budget_in_cents_and_as_display_text(kantata: httpx.AsyncClient) -> None:
    body = (await kantata.get(f"{KANTATA}/workspaces.json", params={"per_page": 1})).json()
    workspace = next(iter(body["workspaces"].values()))
    assert isinstance(workspace["price_in_cents"], int) and workspace["price_in_cents"] > 0
    assert workspace["price"][0] in "$£€" and workspace["budgeted"] is True
    assert workspace["change_orders_enabled"] is True


async def test_price_is_written_in_base_units_and_read_back_in_cents(kantata: httpx.AsyncClient) -> None:
    new = {"title": "Budget shape", "creator_role": "maven", "currency": "USD", "start_date": "2026-12-01"}
    created = await _workspace(kantata, "POST", "/workspaces.json", {**new, "price": 55480})
    assert created["price_in_cents"] == 5_548_000 and created["price"] == "$55,480"
    assert created["budgeted"] is True and created["change_orders_enabled"] is True
    path = f"/workspaces/{created['id']}.json"

    ignored = await _workspace(kantata, "PUT", path, {"price_in_cents": 1})
    assert ignored["price_in_cents"] == 5_548_000, "price_in_cents is read-only: a write naming it is ignored"
    assert (await _workspace(kantata, "PUT", path, {"price": 60000}))["price"] == "$60,000"
    unbudgeted = await _workspace(kantata, "PUT", path, {"budgeted": False})
    assert unbudgeted["price_in_cents"] is None and unbudgeted["price"] == "TBD"

    bare = await _workspace(kantata, "POST", "/workspaces.json", {"title": "No budget", "creator_role": "maven"})
    assert bare["price_in_cents"] is None and bare["price"] == "TBD" and bare["budgeted"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": 1250.5}, "price"),
        ({"price": "1000"}, "price"),
        ({"price": -1}, "price"),
        ({"change_orders_enabled": "yes"}, "change_orders_enabled"),
        ({"due_date": "2026-11-30"}, "due_date"),
    ],
)
async def test_malformed_budget_and_date_writes_are_refused(
    kantata: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    new = {"title": "Refusals", "creator_role": "maven", "currency": "USD", "start_date": "2026-12-01", "price": 10}
    created = await _workspace(kantata, "POST", "/workspaces.json", new)
    response = await kantata.put(f"{KANTATA}/workspaces/{created['id']}.json", json={"workspace": change})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["type"] == "validation" and error["field"] == field
    after = (await kantata.get(f"{KANTATA}/workspaces/{created['id']}.json")).json()["workspaces"][created["id"]]
    assert after["price_in_cents"] == 1000 and after.get("due_date") is None


async def _error(response: httpx.Response) -> tuple[int, str, str]:
    (detail,) = response.json()["o:errorDetails"]
    return response.status_code, detail["o:errorCode"], detail["detail"]


async def test_the_job_reads_its_dates_price_and_schedule(netsuite: httpx.AsyncClient) -> None:
    job = (await netsuite.get(f"{RECORD}/job/eid:PRJ-0001")).json()
    assert job["calculatedEndDate"] == job["projectedEndDate"]
    schedule = (await netsuite.get(f"{RECORD}/billingSchedule/1")).json()
    assert schedule["scheduleType"] == "TIME_AND_MATERIALS"

    patched = await netsuite.patch(
        f"{RECORD}/job/eid:PRJ-0001",
        json={"jobBillingType": {"id": "FBM"}, "billingSchedule": {"id": "2"}, "jobPrice": 1250.5},
    )
    assert patched.status_code == 204, patched.text
    job = (await netsuite.get(f"{RECORD}/job/eid:PRJ-0001")).json()
    assert job["billingSchedule"] == {
        "id": "2",
        "refName": "Fixed bid, milestones",
        "links": [{"rel": "self", "href": "http://sandbox/netsuite/services/rest/record/v1/billingSchedule/2"}],
    }
    assert job["jobPrice"] == 1250.5


@pytest.mark.parametrize(
    ("change", "code", "names"),
    [
        ({"billingSchedule": {"id": "1"}, "jobBillingType": {"id": "FBI"}}, "USER_ERROR", "billing type FBI"),
        ({"billingSchedule": {"id": "5"}}, "USER_ERROR", "STANDARD"),
        ({"jobBillingType": {"id": "XX"}}, "INVALID_FLD_VALUE", "jobBillingType"),
        ({"endDate": "2020-01-01"}, "INVALID_FLD_VALUE", "endDate"),
        ({"jobPrice": -5}, "INVALID_FLD_VALUE", "jobPrice"),
        ({"projectBillingBudget": {"items": []}}, "INVALID_CONTENT", "not available through REST"),
        ({"custentity_typo": "x", "jobprice": 1}, "INVALID_CONTENT", "'jobprice'"),
    ],
)
async def test_job_writes_that_break_its_rules_are_refused(
    netsuite: httpx.AsyncClient, change: dict[str, Any], code: str, names: str
) -> None:
    before = (await netsuite.get(f"{RECORD}/job/eid:PRJ-0002")).json()
    status, error_code, detail = await _error(await netsuite.patch(f"{RECORD}/job/eid:PRJ-0002", json=change))
    assert (status, error_code) == (400, code) and names in detail
    assert (await netsuite.get(f"{RECORD}/job/eid:PRJ-0002")).json() == before


async def test_custom_entity_fields_are_kept_as_text(netsuite: httpx.AsyncClient) -> None:
    value = '{"currency":"USD","versions":[]}'
    response = await netsuite.patch(f"{RECORD}/job/eid:PRJ-0003", json={"custentity_psflow_rates": value})
    assert response.status_code == 204
    assert (await netsuite.get(f"{RECORD}/job/eid:PRJ-0003")).json()["custentity_psflow_rates"] == value
