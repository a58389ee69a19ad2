"""`resources.apply_time_off` (staging vs applied, through the Kantata emulator) and the state activities."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx

from activities.resources.models import (
    ApplyRequest,
    ApplyTimeOffRequest,
    ApplyTimeOffResult,
    AvailabilityChange,
    PublishAvailability,
    SaveMark,
    SyncState,
)
from activities.resources.state import EVENT_SOURCE, EVENT_TYPE, availability_event
from canonical import DateRange
from store import resources as res
from tests.kantata.conftest import HOST
from tests.resources.conftest import SOURCE, TODAY, World
from tests.resources.test_apply_workers import hire

MONDAY, TUESDAY, WEDNESDAY = (TODAY + timedelta(days=n) for n in (4, 5, 6))
WINDOW = DateRange(start=TODAY - timedelta(days=7), end=TODAY + timedelta(days=90))


async def linked(world: World, n: int) -> str:
    worker = hire(n, hire_date=date(2024, 3, 4))
    request = ApplyRequest(source=SOURCE, run_id="apply", today=TODAY, workers=[worker])
    await world.env().run(world.psa.apply_workers, request)
    row = res.resource(world.store, worker.id)
    assert row is not None and row.psa_user_id is not None
    return row.psa_user_id


async def apply_time_off(world: World, run_id: str, after: str | None = None, limit: int = 200) -> ApplyTimeOffResult:
    request = ApplyTimeOffRequest(source=SOURCE, run_id=run_id, window=WINDOW, after=after, limit=limit)
    return await world.env().run(world.psa.apply_time_off, request)


async def psa_time_off(world: World, user_id: str) -> dict[date, Decimal]:
    page = await world.kantata.time_off_page(user_ids=[user_id], start=WINDOW.start, end=WINDOW.end)
    return {entry.requested_date: Decimal(str(entry.hours)) for entry in page.items}


async def test_time_off_is_set_then_cleared_by_difference_and_an_unchanged_run_writes_nothing(world: World) -> None:
    user_id = await linked(world, 31)
    by_hand = {"time_off_entry": {"user_id": user_id, "requested_date": WEDNESDAY.isoformat(), "hours": 2}}
    assert (await world.api.post("/time_off_entries.json", json=by_hand)).status_code == 200
    res.stage_time_off(world.store, "run-1", [("bamboohr:31", MONDAY, Decimal(8), "r1")])
    res.stage_time_off(world.store, "run-1", [("bamboohr:31", TUESDAY, Decimal(4), "r1")])

    first = await apply_time_off(world, "run-1")

    assert (first.set, first.cleared, first.next_after) == (2, 0, None)
    assert await psa_time_off(world, user_id) == {MONDAY: Decimal(8), TUESDAY: Decimal(4), WEDNESDAY: Decimal(2)}
    assert res.applied_time_off(world.store, "bamboohr:31", WINDOW.start, WINDOW.end) == {
        MONDAY: Decimal(8),
        TUESDAY: Decimal(4),
    }
    assert [(c.reason, c.start, c.end, c.hours) for c in first.availability] == [("time_off", MONDAY, TUESDAY, "12.00")]

    # HR cancels Tuesday (BambooHR: status canceled; Workday: the entry is gone): it is not staged again.
    res.stage_time_off(world.store, "run-2", [("bamboohr:31", MONDAY, Decimal(8), "r1")])
    world.transport.reset()
    second = await apply_time_off(world, "run-2")

    assert (second.set, second.cleared) == (0, 1)
    (delete,) = world.transport.writes()
    assert delete.startswith("DELETE /time_off_entries/")
    # The day entered in the PSA by hand stays: psflow clears only what it applied.
    assert await psa_time_off(world, user_id) == {MONDAY: Decimal(8), WEDNESDAY: Decimal(2)}

    res.stage_time_off(world.store, "run-3", [("bamboohr:31", MONDAY, Decimal(8), "r1")])
    world.transport.reset()
    third = await apply_time_off(world, "run-3")
    assert (third.set, third.cleared, third.availability) == (0, 0, [])
    assert world.transport.writes() == []

    # Everything withdrawn: the last applied day is cleared too.
    fourth = await apply_time_off(world, "run-4")
    assert (fourth.set, fourth.cleared) == (0, 1)
    assert await psa_time_off(world, user_id) == {WEDNESDAY: Decimal(2)}


async def test_time_off_pages_by_worker_id(world: World) -> None:
    users = {n: await linked(world, n) for n in (41, 42, 43)}
    res.stage_time_off(world.store, "run", [(f"bamboohr:{n}", MONDAY, Decimal(8), f"r{n}") for n in users])

    first = await apply_time_off(world, "run", limit=2)
    assert (first.set, first.next_after) == (2, "bamboohr:42")
    rest = await apply_time_off(world, "run", after=first.next_after, limit=2)
    assert (rest.set, rest.next_after) == (1, None)
    for user_id in users.values():
        assert await psa_time_off(world, user_id) == {MONDAY: Decimal(8)}


async def test_a_retried_time_off_page_resumes_after_the_last_worker_done(world: World) -> None:
    users = {n: await linked(world, n) for n in (51, 52)}
    res.stage_time_off(world.store, "run", [(f"bamboohr:{n}", MONDAY, Decimal(8), f"r{n}") for n in users])
    details = {"done": 1, "last": "bamboohr:51", "set": 1, "cleared": 0, "availability": []}
    request = ApplyTimeOffRequest(source=SOURCE, run_id="run", window=WINDOW, limit=200)

    retried = await world.env(details=details).run(world.psa.apply_time_off, request)

    assert (retried.set, retried.next_after) == (2, None)
    assert await psa_time_off(world, users[52]) == {MONDAY: Decimal(8)}
    assert await psa_time_off(world, users[51]) == {}  # done by the earlier attempt, per its heartbeat


async def test_marks_go_through_the_state_activities_and_never_move_back(world: World) -> None:
    assert await world.env().run(world.state.sync_state, SOURCE) == SyncState()
    mark = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    await world.env().run(world.state.save_mark, SaveMark(source=SOURCE, high_water_mark=mark, full_sweep_at=mark))
    older = SaveMark(source=SOURCE, high_water_mark=mark - timedelta(hours=2))
    await world.env().run(world.state.save_mark, older)
    assert await world.env().run(world.state.sync_state, SOURCE) == SyncState(
        high_water_mark=mark, last_full_sweep_at=mark
    )
    res.stage_time_off(world.store, "run-x", [("bamboohr:1", MONDAY, Decimal(8), "r")])
    await world.env().run(world.state.clear_staging, "run-x")
    assert res.time_off_diffs(world.store, "run-x", ["bamboohr:1"], MONDAY, MONDAY)[0].staged == {}


async def test_published_availability_ids_are_deterministic_so_a_retry_is_deduplicated(world: World) -> None:
    changes = [
        AvailabilityChange(worker_id="bamboohr:1", psa_user_id="7", start=MONDAY, reason="hired"),
        AvailabilityChange(worker_id="bamboohr:1", start=MONDAY, end=TUESDAY, reason="time_off", hours="12"),
        AvailabilityChange(worker_id="bamboohr:2", start=TUESDAY, reason="left"),
    ]
    request = PublishAvailability(run_id="resource-sync/run-1", changes=changes)

    assert await world.env().run(world.state.publish_availability, request) == 3
    assert await world.env().run(world.state.publish_availability, request) == 3  # a retry

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app), base_url=HOST) as sink:
        listed = (await sink.get("/sink/events", params={"type": EVENT_TYPE})).json()
    assert listed["total"] == 3
    ids = [availability_event(request.run_id, c).id for c in changes]
    assert [e["id"] for e in listed["events"]] == ids and len(set(ids)) == 3
    assert all(e["source"] == EVENT_SOURCE for e in listed["events"])
    assert listed["events"][1]["data"] | {} == {
        "worker_id": "bamboohr:1",
        "psa_user_id": None,
        "email": None,
        "start": MONDAY.isoformat(),
        "end": TUESDAY.isoformat(),
        "reason": "time_off",
        "hours": "12",
        "run_id": "resource-sync/run-1",
    }
    # The id names the run, the worker, the reason and the first day; a later run's change is a new event.
    assert availability_event("resource-sync/run-1", changes[1].model_copy(update={"hours": "4"})).id == ids[1]
    assert availability_event("resource-sync/run-2", changes[1]).id != ids[1]
    assert availability_event(request.run_id, changes[0].model_copy(update={"start": TUESDAY})).id != ids[0]
