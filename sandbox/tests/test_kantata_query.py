"""Kantata index requests as the daily posting sends them: a day's approved items in creation order."""

from __future__ import annotations

from sandbox import SandboxDB
from sandbox.systems.kantata._query import fetch_page, select
from sandbox.systems.kantata._resources import RESOURCES
from sandbox.systems.kantata._store import NAME

DAY = "2026-11-21"


def _plan(db: SandboxDB, sql: str, *params: object) -> str:
    return " ".join(str(row) for row in db._exec(f"EXPLAIN QUERY PLAN {sql}", params).all())


def test_a_days_approved_time_in_creation_order_is_an_index_walk_not_a_sort_per_page() -> None:
    db = SandboxDB()
    stamps = ["2026-11-21T09:00:00+00:00", "2026-11-21T08:00:00+00:00", "2026-11-21T08:00:00+00:00"]
    for n in range(30):
        approved = n % 5 != 0
        body = {"date_performed": DAY if n % 2 else "2026-11-20", "approved": approved, "created_at": stamps[n % 3]}
        db.insert(NAME, "time_entries", {**body, "n": n})
    resource = RESOURCES["time_entries"]
    params = {"approved": "true", "date_performed_between": f"{DAY}:{DAY}", "order": "created_at:asc"}
    params |= {"from_archived_workspaces": "true", "page": "2", "per_page": "4"}

    records, meta = fetch_page(db, resource, select(db, resource, params), params)

    # Creation order, ties by id, as before: the index changes how the page is found, not which.
    day = [b for b in db.query(NAME, "time_entries") if b["date_performed"] == DAY and b["approved"]]
    expected = sorted(day, key=lambda b: (b["created_at"], int(b["id"])))
    assert [r["n"] for r in records] == [b["n"] for b in expected[4:8]]
    assert (meta["count"], meta["page_count"]) == (len(expected), 3)
    sql = (
        "SELECT body FROM records WHERE system = ? AND kind = ? AND json_extract(body, '$.approved') = ? "
        "AND json_extract(body, '$.date_performed') = ? ORDER BY json_extract(body, '$.created_at'), num, id "
        "LIMIT 4 OFFSET 4"
    )
    plan = _plan(db, sql, NAME, "time_entries", True, DAY)
    assert "records_by_date_performed_approved_created_at" in plan and "TEMP B-TREE" not in plan, plan
