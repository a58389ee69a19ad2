"""The resource sync benchmark's seeding and the emulator paths it loads (in-process, small N).

What the benchmark needs of the emulators at 10k workers: BambooHR's bulk hire leaves employees,
changes and time off as the API would; Kantata finds a user by email (every invitation checks
it) and a subject's external reference through an index, not by reading every record.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from bench._res_run import change_workers, read_raw, sandbox_counts, seed_workers
from bench.resources import ResourcesOptions, main, run_resources, summary_table
from canonical import DateRange, TimeOffStatus
from connectors.bamboohr import BambooHRConnector, BambooHRSettings
from sandbox import create_app
from sandbox.systems import bamboohr, kantata
from stack.connectors import Connectors
from stack.settings import Settings
from tests.conftest import PINNED_TODAY, _free_port

TODAY = date(2026, 3, 11)
MOMENT = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
RAW_FIGURES = {
    "seconds", "seconds_by_read", "changes", "pages", "workers", "unreadable", "time_off_requests", "workers_per_s",
}  # fmt: skip


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
    assert answer.json() == {"employees": 40, "time_off_requests": 20, "at": "2026-03-11T09:00:00+00:00"}
    again = await api.post("/_admin/bamboohr/bulk-hire", json={"employees": 2, "today": TODAY.isoformat()})
    assert again.json() == {"employees": 2, "time_off_requests": 0, "at": "2026-03-11T09:00:00+00:00"}

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


@pytest.mark.parametrize(
    ("kind", "where", "limit", "index"),
    [
        ("users", {"_email": "a@b.example"}, 20, "records_by__email"),
        ("external_references", {"subject_type": "User", "subject_id": "7", "service_name": "Employee"}, None,
         "records_by_subject_type_subject_id"),
        ("custom_field_values", {"subject_type": "User", "subject_id": "7", "custom_field_id": "3"}, 1,
         "records_by_subject_type_subject_id"),
        ("skill_memberships", {"user_id": "7", "skill_id": "3"}, None, "records_by_user_id"),
        ("workweek_memberships", {"user_id": "7"}, 200, "records_by_user_id"),
        ("time_off_entries", {"user_id": "7", "requested_date": "2026-03-11"}, 1, "records_by_user_id"),
    ],
)  # fmt: skip
def test_kantata_reads_a_users_records_through_an_index_not_a_scan(
    app: object, kind: str, where: dict[str, str], limit: int | None, index: str
) -> None:
    """What resource sync reads or checks once per user at 10k users (each was a scan of every record of the kind)."""
    columns = " AND ".join(f"json_extract(body, '$.{field}') = ?" for field in where)
    sql = f"SELECT body FROM records WHERE system = ? AND kind = ? AND {columns} ORDER BY num, id"
    plan = _plan(app, sql + ("" if limit is None else f" LIMIT {limit}"), ("kantata", kind, *where.values()))
    assert f"USING INDEX {index} " in plan


HR_ANCHOR = date.fromisoformat(PINNED_TODAY)
"""The demo firm's anchor in the syncs' sandboxes: a fixed day in the past, never ``TEST_TODAY``.

HR stamps its changes by its clock and the store stamps psflow's writes by the real one; a sync tells
that it already applied what changed at its mark by comparing the two. Seeded on an anchor in the
future (the anchored CI pass), every demo employee would look changed after psflow's writes."""


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sandbox process of this module's own: the benchmark hires people in it."""
    port = _free_port()
    db = tmp_path_factory.mktemp("bench-sandbox") / "sandbox.db"
    with db.with_suffix(".log").open("w") as log:
        command = [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(db), "--seed", "demo"]
        process = subprocess.Popen([*command, "--today", HR_ANCHOR.isoformat()], stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _serves(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start; see {db.with_suffix('.log')}")
            time.sleep(0.2)
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=15)


def _serves(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_admin/status", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def test_the_benchmark_seeds_reads_raw_and_changes_workers_through_the_api(
    own_sandbox: str, tmp_path: Path
) -> None:
    settings = Settings(sandbox_url=own_sandbox, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'p.db'}")
    connectors = Connectors.build(settings)
    try:
        seeded = await seed_workers(own_sandbox, 30, 10, HR_ANCHOR)
        assert (seeded["employees"], seeded["time_off_requests"]) == (30, 10)
        raw = await read_raw(connectors, HR_ANCHOR)
        demo = (await sandbox_counts(own_sandbox))["bamboohr"]["employee"] - 30
        assert set(raw) == RAW_FIGURES
        assert (raw["workers"], raw["changes"], raw["unreadable"]) == (30 + demo, 30 + demo, 0)
        assert raw["pages"] == -(-raw["workers"] // connectors.bamboohr.settings.page_size)
        assert raw["time_off_requests"] >= 10
        hired_at = datetime.fromisoformat(seeded["at"])
        changed = await change_workers(connectors, 3, hired_at)
        assert len(set(changed)) == 3
        later = await connectors.bamboohr.changed_since(hired_at + timedelta(seconds=1))
        assert sorted(c.worker_id for c in later.items) == sorted(changed)
        titles = [(await connectors.bamboohr.worker(w)).title for w in changed]
        assert titles == [f"Benchmark title {w.removeprefix('bamboohr:')}" for w in changed]
    finally:
        await connectors.aclose()


SYNC_FIGURES = {
    "seconds", "workflow_id", "history_events", "runs", "result", "requests", "worker_peak_rss_mb",
    "cpu_ms_per_worker", "per_worker_ms",
}  # fmt: skip


async def test_a_small_full_sync_invites_every_worker_and_the_incremental_applies_just_the_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PSFLOW_SANDBOX_TODAY", HR_ANCHOR.isoformat())  # the benchmark's stack and its today
    result = await run_resources(ResourcesOptions(workers=40, time_off=12, changes=3), tmp_path)

    assert json.loads(json.dumps(result)) == result
    first, second = result["raw"]
    assert set(first) == set(second) == RAW_FIGURES
    assert first["workers"] == second["workers"] >= 40
    full, incremental = result["full"], result["incremental"]
    assert set(full) == SYNC_FIGURES and set(incremental) == SYNC_FIGURES | {"changed"}
    (swept,) = full["result"]["sources"]
    assert swept["counts"]["invited"] == 40  # the demo firm's people are in Kantata already: linked
    assert result["kantata"]["users_after"] - result["kantata"]["users_before"] == 40
    assert result["kantata"]["time_off_entries_after"] > 0 and swept["time_off_set"] > 0
    assert full["history_events"] > 0 and full["runs"] >= 1 and full["worker_peak_rss_mb"] > 0
    assert full["requests"]["kantata"] > 0 and full["requests"]["bamboohr"] > 0
    (changed,) = incremental["result"]["sources"]
    assert (incremental["changed"], changed["changed"], changed["counts"].get("updated")) == (3, 3, 3)
    assert (changed["full"], changed["read"]) == (False, 3)  # the change feed, not a sweep
    assert changed["counts"].get("invited", 0) == 0 and changed["time_off_set"] == 0
    assert incremental["requests"]["kantata"] > 0
    assert result["ratio"] > 0 and result["incremental_to_full"] > 0

    console = Console(record=True, width=160)
    console.print(summary_table(result))
    assert "incremental sync" in console.export_text()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--workers", "0"], "--workers must be between 1 and 100000"),
        (["--time-off", "-1"], "--time-off must be between 0 and 100000"),
        (["--workers", "5", "--changes", "6"], "--changes must be between 1 and --workers (5)"),
    ],
)
def test_bad_options_are_refused_in_one_line(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert complaint in capsys.readouterr().err
