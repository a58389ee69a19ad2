"""A leaver's future allocations: past ones stay, a straddling one ends on the last day, later ones go."""

from __future__ import annotations

from datetime import date

import httpx

from connectors.kantata import KantataConnector

API = "/kantata/api/v1"
LAST_DAY = date(2026, 6, 19)


async def _allocate(api: httpx.AsyncClient, resource_id: str, start: str, end: str, minutes: int) -> str:
    body = {
        "workspace_allocation": {"resource_id": resource_id, "start_date": start, "end_date": end, "minutes": minutes}
    }
    response = await api.post(f"{API}/workspace_allocations.json", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["id"])


async def _booked(api: httpx.AsyncClient) -> tuple[str, str, str]:
    """A seeded participant, booked on their workspace as a workspace resource; plus a colleague's resource."""
    participations = (await api.get(f"{API}/participations.json", params={"per_page": 2})).json()
    (first, second) = participations["participations"].values()
    resources = []
    for participation in (first, second):
        body = {
            "workspace_resource": {"workspace_id": participation["workspace_id"], "user_id": participation["user_id"]}
        }
        resources.append((await api.post(f"{API}/workspace_resources.json", json=body)).json()["results"][0]["id"])
    return str(first["user_id"]), str(resources[0]), str(resources[1])


async def test_overlap_and_user_filters(api: httpx.AsyncClient) -> None:
    user_id, mine, colleague = await _booked(api)
    await _allocate(api, mine, "2026-06-01", "2026-06-12", 4800)
    await _allocate(api, mine, "2026-06-15", "2026-06-26", 4800)
    await _allocate(api, colleague, "2026-06-15", "2026-06-26", 4800)
    params = {"user_ids": user_id, "overlaps_with_date_range": "2026-06-20:"}
    assert (await api.get(f"{API}/workspace_allocations.json", params=params)).json()["count"] == 1
    bad = {
        "workspace_allocation": {
            "resource_id": mine,
            "start_date": "2026-06-10",
            "end_date": "2026-06-01",
            "minutes": 60,
        }
    }
    assert (await api.post(f"{API}/workspace_allocations.json", json=bad)).status_code == 422


async def test_remove_future_allocations_keeps_history(kantata: KantataConnector, api: httpx.AsyncClient) -> None:
    user_id, mine, colleague = await _booked(api)
    past = await _allocate(api, mine, "2026-06-01", "2026-06-12", 4800)
    straddling = await _allocate(api, mine, "2026-06-15", "2026-06-24", 4800)
    future = await _allocate(api, mine, "2026-07-01", "2026-07-31", 9600)
    others = await _allocate(api, colleague, "2026-07-01", "2026-07-31", 9600)
    assert await kantata.remove_future_allocations(user_id, LAST_DAY) == 2
    assert await kantata.remove_future_allocations(user_id, LAST_DAY) == 0
    left = (await api.get(f"{API}/workspace_allocations.json", params={"per_page": 200})).json()[
        "workspace_allocations"
    ]
    assert set(left) == {past, straddling, others}
    assert (left[straddling]["end_date"], left[straddling]["minutes"]) == ("2026-06-19", 2400)
    assert left[past]["end_date"] == "2026-06-12" and future not in left
