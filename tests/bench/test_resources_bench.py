"""The resource sync benchmark's seeding and the emulator paths it loads (in-process, small N).

What the benchmark needs of the emulators at 10k workers: BambooHR's bulk hire leaves employees,
changes and time off as the API would; Kantata finds a user by email (every invitation checks
it) and a subject's external reference through an index, not by reading every record.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from canonical import DateRange, TimeOffStatus
from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from sandbox import create_app
from sandbox.systems import bamboohr, kantata

TODAY = date(2026, 3, 11)
MOMENT = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> object:
    return create_app(tmp_path / "s.db", seed="demo", systems=[bamboohr.SYSTEM, kantata.SYSTEM])


@pytest.fixture
async def api(app: object) -> httpx.AsyncClient:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:  # type: ignore[arg-type]
        yield client  # type: ignore[misc]


async def test_bulk_hire_leaves_employees_changes_and_time_off_as_the_api_would(
    app: object, api: httpx.AsyncClient
) -> None:
    await api.put("/_admin/bamboohr/clock", json={"now": MOMENT.isoformat()})
    before = (await api.get("/_admin/status")).json()["systems"]["bamboohr"]["counts"]
    answer = await api.post(
        "/_admin/bamboohr/bulk-hire", json={"employees": 40, "time_off_requests": 20, "today": TODAY.isoformat()}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"employees": 40, "time_off_requests": 20}
    again = await api.post("/_admin/bamboohr/bulk-hire", json={"employees": 2, "today": TODAY.isoformat()})
    assert again.json() == {"employees": 2, "time_off_requests": 0}

    connector = BambooHRConnector(
        BambooHRSettings(base_url="http://sandbox/bamboohr", page_size=17),
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
    )
    try:
        workers, cursor = [], None
        while True:
            page = await connector.workers_page(cursor)
            assert page.unreadable == []
            workers += page.items
            if (cursor := page.next_cursor) is None:
                break
        bulk = [w for w in workers if w.email.endswith("@bulk.psflow.example")]
        assert len(bulk) == 42 == len(workers) - before["employee"]
        assert len({w.email for w in bulk}) == 42
        assert sorted(w.employee_id for w in bulk)[-1] == "B-000042"  # the second call continued the numbering
        assert all(w.cost_centre and w.skills and w.title for w in bulk)
        assert {w.standard_hours_per_week for w in bulk} == {32, 40}
        changes = await connector.changed_since(MOMENT)
        assert {c.worker_id for c in changes.items} >= {w.id for w in bulk}
        window = DateRange(start=date(2026, 3, 4), end=date(2026, 6, 9))
        time_off = [t for t in await connector.time_off(window) if t.worker_id in {w.id for w in bulk}]
    finally:
        await connector.aclose()
    assert len(time_off) == 20
    assert Counter(t.status for t in time_off) == {
        TimeOffStatus.APPROVED: 17,
        TimeOffStatus.REQUESTED: 2,
        TimeOffStatus.CANCELLED: 1,
    }
    assert all(window.start <= t.start and t.end <= window.end for t in time_off)
    assert all(day.weekday() < 5 for t in time_off for day in t.hours_by_day)


@pytest.mark.parametrize("bad", [{"employees": 0}, {"employees": 1, "time_off_requests": -1}, {"employees": 1, "x": 1}])
async def test_bulk_hire_refuses_bad_counts(api: httpx.AsyncClient, bad: dict[str, int]) -> None:
    assert (await api.post("/_admin/bamboohr/bulk-hire", json=bad)).status_code in (400, 422)


def _plan(app: object, sql: str, params: tuple[str, ...]) -> str:
    db = app.state.db  # type: ignore[attr-defined]
    rows = db._conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    return " ".join(str(row[-1]) for row in rows)


def test_kantata_finds_a_user_by_email_and_a_reference_by_subject_through_an_index(app: object) -> None:
    by_email = _plan(
        app,
        "SELECT body FROM records WHERE system = ? AND kind = ? AND json_extract(body, '$._email') = ?",
        ("kantata", "users", "a@b.example"),
    )
    reference = _plan(
        app,
        "SELECT body FROM records WHERE system = ? AND kind = ? AND json_extract(body, '$.subject_type') = ?"
        " AND json_extract(body, '$.subject_id') = ? AND json_extract(body, '$.service_name') = ?",
        ("kantata", "external_references", "User", "7", "Employee"),
    )
    assert "records_by__email" in by_email
    assert "records_by_subject_type_subject_id_service_name" in reference
