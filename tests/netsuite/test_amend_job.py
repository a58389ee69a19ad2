"""Contract amendments in the ERP: a job's end date, contract value, billing schedule and rates."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from canonical import Money, RoleRate
from connectors._core import BusinessError, NotFoundError
from connectors.netsuite import NetSuiteConnector
from connectors.netsuite._jobs import RATES_FIELD, job_amendment, merge_rates
from tests.netsuite.conftest import FIRM, settings

RECORD = "/netsuite/services/rest/record/v1"
PROJECT = FIRM.project("PRJ-0001")
NEW_END = PROJECT.end_date + timedelta(days=60)


class Recording(httpx.AsyncBaseTransport):
    """The in-process emulator, remembering the method and path of each request."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path.removeprefix(RECORD)}")
        return await self.inner.handle_async_request(request)

    def writes(self) -> list[str]:
        return [sent for sent in self.sent if not sent.startswith("GET ")]


@pytest.fixture
async def recorded(transport: httpx.ASGITransport) -> AsyncIterator[tuple[NetSuiteConnector, Recording]]:
    recording = Recording(transport)
    async with NetSuiteConnector(settings(), transport=recording) as connector:
        yield connector, recording


async def read_job(netsuite: NetSuiteConnector, key: str) -> dict[str, Any]:
    """The job's REST record as NetSuite returns it."""
    return dict(await netsuite.client.get_json(f"/record/v1/job/{key}"))


def money(amount: str) -> Money:
    return Money.of(amount, PROJECT.currency)


async def test_end_date_contract_value_and_schedule_go_in_one_patch_and_only_once(
    recorded: tuple[NetSuiteConnector, Recording],
) -> None:
    netsuite, recording = recorded
    job = await netsuite.get_job("PRJ-0001")
    assert job is not None

    await netsuite.amend_job(job.internal_id, end_date=NEW_END, contract_value=money("125000.50"))
    assert recording.writes() == [f"PATCH /job/{job.internal_id}"]
    record = await read_job(netsuite, "eid:PRJ-0001")
    assert record["projectedEndDate"] == record["endDate"] == record["calculatedEndDate"] == NEW_END.isoformat()
    assert Decimal(str(record["jobPrice"])) == Decimal("125000.50")
    billing_type = record["jobBillingType"]["id"]
    assert record["billingSchedule"]["id"] == settings().billing_schedule_ids[billing_type]

    recording.sent.clear()
    await netsuite.amend_job("PRJ-0001", end_date=NEW_END, contract_value=money("125000.5"))
    assert recording.writes() == [], "the same values again send nothing"


async def test_rates_are_recorded_by_effective_date_in_the_custom_field(
    recorded: tuple[NetSuiteConnector, Recording],
) -> None:
    netsuite, recording = recorded
    december, january = date(2026, 12, 1), date(2027, 1, 1)
    manager = RoleRate(role="Manager", hourly_rate=money("265.00"))
    await netsuite.amend_job("PRJ-0001", end_date=None, contract_value=None, rates=[manager], effective_date=december)
    architect = RoleRate(role="Solution Architect", hourly_rate=money("310.50"))
    await netsuite.amend_job("PRJ-0001", end_date=None, contract_value=None, rates=[architect], effective_date=january)
    raised = RoleRate(role="Manager", hourly_rate=money("270"))
    await netsuite.amend_job("PRJ-0001", end_date=None, contract_value=None, rates=[raised], effective_date=december)

    recorded_rates = json.loads((await read_job(netsuite, "eid:PRJ-0001"))[RATES_FIELD])
    assert recorded_rates == {
        "currency": PROJECT.currency,
        "versions": [
            {"effective_date": "2026-12-01", "rates": {"Manager": "270"}},
            {"effective_date": "2027-01-01", "rates": {"Solution Architect": "310.50"}},
        ],
    }
    recording.sent.clear()
    same = RoleRate(role="Manager", hourly_rate=money("270.00"))
    await netsuite.amend_job("PRJ-0001", end_date=None, contract_value=None, rates=[same], effective_date=december)
    assert recording.writes() == []


async def test_refused_amendments_name_the_field_and_change_nothing(
    recorded: tuple[NetSuiteConnector, Recording],
) -> None:
    netsuite, recording = recorded
    before = await read_job(netsuite, "eid:PRJ-0001")
    other = "EUR" if PROJECT.currency != "EUR" else "USD"

    with pytest.raises(BusinessError, match=r"jobPrice: job PRJ-0001 bills in") as currency:
        await netsuite.amend_job("PRJ-0001", end_date=None, contract_value=Money.of("1000", other))
    assert not currency.value.retryable
    rate = RoleRate(role="Manager", hourly_rate=money("200"))
    with pytest.raises(BusinessError, match=f"{RATES_FIELD}: rates need the date"):
        await netsuite.amend_job("PRJ-0001", end_date=None, contract_value=None, rates=[rate])
    assert recording.writes() == []

    with pytest.raises(BusinessError, match="projectedEndDate") as early:
        await netsuite.amend_job("PRJ-0001", end_date=PROJECT.start_date - timedelta(days=1), contract_value=None)
    assert early.value.status == 400 and not early.value.retryable
    after = await read_job(netsuite, "eid:PRJ-0001")
    assert {k: after.get(k) for k in ("projectedEndDate", "endDate", "jobPrice", "lastModifiedDate")} == {
        k: before.get(k) for k in ("projectedEndDate", "endDate", "jobPrice", "lastModifiedDate")
    }

    with pytest.raises(NotFoundError):
        await netsuite.amend_job("PRJ-9999", end_date=NEW_END, contract_value=None)


def test_rates_merge_into_the_version_of_their_date() -> None:
    manager = RoleRate(role="Manager", hourly_rate=Money.of("265", "USD"))
    first = merge_rates(None, [manager], date(2026, 12, 1))
    assert first == '{"currency":"USD","versions":[{"effective_date":"2026-12-01","rates":{"Manager":"265"}}]}'
    assert (
        merge_rates(first, [RoleRate(role="Manager", hourly_rate=Money.of("265.00", "USD"))], date(2026, 12, 1)) is None
    )
    earlier = json.loads(merge_rates(first, [manager], date(2026, 11, 1)) or "{}")
    assert [v["effective_date"] for v in earlier["versions"]] == ["2026-11-01", "2026-12-01"]
    with pytest.raises(BusinessError, match=f"{RATES_FIELD}: the job's rates are in USD, not EUR"):
        merge_rates(first, [RoleRate(role="Manager", hourly_rate=Money.of("250", "EUR"))], date(2027, 1, 1))
    with pytest.raises(BusinessError, match=f"{RATES_FIELD}: the job's field does not hold psflow's rates JSON"):
        merge_rates("Manager: 250", [manager], date(2027, 1, 1))


def test_a_schedule_is_given_only_to_a_job_without_one_and_always_with_its_billing_type() -> None:
    job = {"id": "80", "jobBillingType": {"id": "FBM", "refName": "Fixed Bid, Milestone"}, "jobPrice": 1000}
    schedules = {"TM": "1", "FBM": "2"}
    assert job_amendment(job, end_date=None, contract_value=None, rates_json=None, schedule_ids=schedules) == {
        "billingSchedule": {"id": "2"},
        "jobBillingType": {"id": "FBM"},
    }
    chosen = {**job, "billingSchedule": {"id": "7"}}
    value = Money.of("1000.00", "USD")
    assert job_amendment(chosen, end_date=None, contract_value=value, rates_json=None, schedule_ids=schedules) == {}
