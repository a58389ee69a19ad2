"""Hours booked over a range, for staffing: each allocation's share of the range, by user, through the emulator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from connectors.kantata import _allocations
from connectors.kantata._allocations import booked_share, business_days
from connectors.kantata.models import RawAllocation
from tests.kantata.conftest import MakeConnector
from tests.kantata.test_allocations import API, _allocate, _booked

WEEK = (date(2026, 6, 15), date(2026, 6, 21))
"""Monday to Sunday."""


async def _placeholder(api: httpx.AsyncClient, workspace_of: str) -> str:
    """A workspace resource nobody fills yet (no user), on the workspace of resource ``workspace_of``."""
    resource = (await api.get(f"{API}/workspace_resources.json", params={"only": workspace_of})).json()
    workspace_id = resource["workspace_resources"][workspace_of]["workspace_id"]
    body = {"workspace_resource": {"workspace_id": workspace_id}}
    return str((await api.post(f"{API}/workspace_resources.json", json=body)).json()["results"][0]["id"])


async def test_each_booking_counts_its_share(make_connector: MakeConnector, api: httpx.AsyncClient) -> None:
    user_id, mine, colleague = await _booked(api)
    await _allocate(api, mine, "2026-06-08", "2026-06-19", 4800)  # 10 business days, 5 in the week: 40 h
    await _allocate(api, mine, "2026-06-19", "2026-06-23", 900)  # Fri..Tue, 3 business days, Friday in: 5 h
    await _allocate(api, mine, "2026-06-20", "2026-06-21", 120)  # a weekend booking, all in: 2 h
    await _allocate(api, mine, "2026-06-22", "2026-06-30", 4800)  # after the week: nothing
    await _allocate(api, colleague, "2026-06-15", "2026-06-26", 4800)  # 10 business days, 5 in: 40 h
    await _allocate(api, await _placeholder(api, mine), "2026-06-15", "2026-06-19", 2400)  # nobody's time
    colleague_id = (await api.get(f"{API}/workspace_resources.json", params={"only": colleague})).json()[
        "workspace_resources"
    ][colleague]["user_id"]
    kantata = make_connector(page_size=2)  # several pages

    assert await kantata.allocated_hours(*WEEK) == {user_id: Decimal("47.00"), str(colleague_id): Decimal("40.00")}
    assert await kantata.allocated_hours(*WEEK, user_ids=[user_id]) == {user_id: Decimal("47.00")}
    assert await kantata.allocated_hours(*WEEK, user_ids=[]) == {}
    assert await kantata.allocated_hours(date(2026, 7, 1), date(2026, 7, 31)) == {}


async def test_many_users_go_in_several_requests(
    make_connector: MakeConnector, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, mine, colleague = await _booked(api)
    await _allocate(api, mine, "2026-06-15", "2026-06-19", 600)
    await _allocate(api, colleague, "2026-06-15", "2026-06-19", 300)
    colleague_id = (await api.get(f"{API}/workspace_resources.json", params={"only": colleague})).json()[
        "workspace_resources"
    ][colleague]["user_id"]
    monkeypatch.setattr(_allocations, "USER_IDS_PER_REQUEST", 1)
    both = await make_connector().allocated_hours(*WEEK, user_ids=[user_id, str(colleague_id), "999999"])
    assert both == {user_id: Decimal("10.00"), str(colleague_id): Decimal("5.00")}


async def test_a_reversed_range_is_refused(make_connector: MakeConnector) -> None:
    with pytest.raises(ValueError, match="end 2026-06-14 is before start 2026-06-15"):
        await make_connector().allocated_hours(date(2026, 6, 15), date(2026, 6, 14))


def test_business_days_and_shares() -> None:
    assert business_days(date(2026, 6, 15), date(2026, 6, 21)) == 5
    assert business_days(date(2026, 6, 19), date(2026, 6, 23)) == 3
    assert business_days(date(2026, 6, 20), date(2026, 6, 21)) == 0
    assert business_days(date(2026, 6, 16), date(2026, 6, 15)) == 0
    thirds = RawAllocation(id="1", start_date=date(2026, 6, 15), end_date=date(2026, 6, 17), minutes=100)
    assert booked_share(thirds, date(2026, 6, 15), date(2026, 6, 15)).quantize(Decimal("0.01")) == Decimal("33.33")
    assert booked_share(thirds, date(2026, 6, 1), date(2026, 6, 30)) == Decimal(100)
    assert booked_share(thirds, date(2026, 6, 18), date(2026, 6, 30)) == 0
