"""NetSuite's SuiteBilling ``charge``: a billable amount of its own, upserted by external id.

Research note apis-round2 §6 (line math) and Oracle's REST charge sample: ``{billTo, stage, chargeDate,
chargeType, billingItem, rate, quantity}``; psflow posts a retroactive rate change's difference as one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from sandbox._auth import issue_token
from sandbox.app import create_app

from .conftest import TEST_TODAY

RECORD = "/netsuite/services/rest/record/v1"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    app = create_app(tmp_path_factory.mktemp("charge") / "s.db", seed="demo", today=TEST_TODAY, faults={})
    yield app
    app.state.db.close()


@pytest.fixture
async def http(seeded: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    token = issue_token(seeded.state.db, "netsuite", subject="test", ttl_s=600)
    transport = httpx.ASGITransport(app=seeded)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", headers=headers) as client:
        yield client


async def _job_id(http: httpx.AsyncClient) -> str:
    return str((await http.get(f"{RECORD}/job/eid:PRJ-0001")).json()["id"])


async def test_a_charge_is_upserted_by_external_id_and_prices_quantity_times_rate(http: httpx.AsyncClient) -> None:
    job = await _job_id(http)
    body = {
        "billTo": {"id": job},
        "stage": "READY_FOR_BILLING",
        "chargeDate": TEST_TODAY.isoformat(),
        "chargeType": {"id": "-19"},
        "billingItem": {"id": "1"},
        "rate": 41.666,
        "quantity": 1,
    }
    first = await http.put(f"{RECORD}/charge/eid:kantata:1:rate:AMD-1", json=body)
    assert first.status_code == 204, first.text
    again = await http.put(f"{RECORD}/charge/eid:kantata:1:rate:AMD-1", json=body)
    assert again.headers["Location"] == first.headers["Location"]
    charge = (await http.get(httpx.URL(first.headers["Location"]).path)).json()
    assert charge["amount"] == 41.67 and charge["billTo"]["id"] == job and charge["stage"] == "READY_FOR_BILLING"


async def test_a_charge_needs_its_billing_fields_and_real_references(http: httpx.AsyncClient) -> None:
    missing = await http.put(f"{RECORD}/charge/eid:kantata:2:rate:AMD-1", json={"billTo": {"id": await _job_id(http)}})
    assert missing.status_code == 400
    body = {
        "billTo": {"id": await _job_id(http)},
        "stage": "READY_FOR_BILLING",
        "chargeDate": TEST_TODAY.isoformat(),
        "chargeType": {"id": "-19"},
        "billingItem": {"id": "1"},
        "amount": 5,
        "timeRecord": {"id": "999999"},
    }
    unknown = await http.put(f"{RECORD}/charge/eid:kantata:3:rate:AMD-1", json=body)
    assert unknown.status_code == 400 and "timeRecord" in unknown.text
