"""Workweeks (research apis-round2 §1 [K10]): Sunday starts, minutes per weekday, the one in force,
and the time-off cap that follows a user's workweek."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx

from canonical import Consultant
from connectors.kantata import KantataConnector

API = "/kantata/api/v1"
SUNDAY, THURSDAY = "2026-06-14", date(2026, 6, 18)
PART_TIMER = Consultant(id="bamboohr:77", employee_id="E-77", name="Part Timer", email="part.timer@psflow-demo.example")


def _week(**minutes: int) -> dict[str, int]:
    days = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    return {f"{day}_minutes": minutes.get(day, 0) for day in days}


async def test_workweeks_start_on_a_sunday_and_the_one_in_force_is_listed(api: httpx.AsyncClient) -> None:
    monday = {"workweek": {"start_date": "2026-06-15", **_week(monday=480)}}
    bad = await api.post(f"{API}/workweeks.json", json=monday)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "start_date"
    first = await api.post(
        f"{API}/workweeks.json", json={"workweek": {"start_date": "2026-01-04", **_week(monday=480)}}
    )
    later = await api.post(f"{API}/workweeks.json", json={"workweek": {"start_date": SUNDAY, **_week(tuesday=300)}})
    first_id, later_id = first.json()["results"][0]["id"], later.json()["results"][0]["id"]
    assert first.json()["workweeks"][first_id]["total_minutes"] == 480
    in_june = (await api.get(f"{API}/workweeks.json", params={"effective_date": "2026-06-20"})).json()
    in_may = (await api.get(f"{API}/workweeks.json", params={"effective_date": "2026-05-20"})).json()
    assert [r["id"] for r in in_june["results"]] == [later_id]
    assert [r["id"] for r in in_may["results"]] == [first_id]


async def test_time_off_is_capped_at_the_users_workweek(kantata: KantataConnector, api: httpx.AsyncClient) -> None:
    user_id = await kantata.invite_user(PART_TIMER)
    week_id = await kantata.set_standard_hours(user_id, Decimal(20), THURSDAY)
    assert await kantata.set_standard_hours(user_id, Decimal(20), THURSDAY) == week_id
    weeks = (await api.get(f"{API}/workweek_memberships.json", params={"effective_date": "2026-06-18"})).json()
    week = weeks["workweek_memberships"][week_id]
    assert (week["start_date"], week["thursday_minutes"], week["total_minutes"]) == (SUNDAY, 240, 1200)
    assert (await kantata.set_time_off(user_id, THURSDAY, Decimal(8))).hours == Decimal(4)
    assert await kantata.set_standard_hours(user_id, Decimal("37.5"), THURSDAY) == week_id
    assert (await kantata.set_time_off(user_id, THURSDAY, Decimal(8))).hours == Decimal("7.5")
    before = (await kantata.set_time_off(user_id, date(2026, 6, 11), Decimal(8))).hours
    assert before == Decimal(8)
