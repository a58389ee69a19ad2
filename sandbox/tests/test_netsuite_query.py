"""SuiteQL conditions the reconciliation listings rely on: ``IN`` lists and a period's dates, both answered in SQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from sandbox._db import SandboxDB
from sandbox._framework import SandboxHTTPError
from sandbox.systems.netsuite import _query
from sandbox.systems.netsuite._types import NAME


@pytest.fixture
def db(tmp_path: Path) -> SandboxDB:
    db = SandboxDB(tmp_path / "q.db")
    for n in range(1, 41):
        day = date(2026, 10, 25 + n) if n <= 6 else date(2026, 11, n - 6) if n <= 36 else date(2026, 12, n - 36)
        db.insert(NAME, "timeBill", {"tranDate": day.isoformat(), "hours": "1:00", "customer": str(n % 3)}, id=str(n))
    return db


def test_a_period_between_runs_in_sql_and_pages_like_the_python_filter(db: SandboxDB) -> None:
    text = "SELECT id FROM timebill WHERE trandate BETWEEN TO_DATE('2026-11-01', 'YYYY-MM-DD') AND " + (
        "TO_DATE('2026-11-30', 'YYYY-MM-DD') ORDER BY id"
    )
    query = _query.parse(text)
    assert query.predicates == [] and len(query.where["tranDate"]) == 30
    rows, total = _query.run(db, query, offset=25, limit=10)
    assert total == 30 and [row["id"] for row in rows] == [str(n) for n in range(32, 37)]
    longer = _query.parse(text.replace("2026-11-30", "2028-01-01"))
    assert "tranDate" not in longer.where and len(longer.predicates) == 2
    assert _query.run(db, longer, offset=0, limit=100)[1] == 34


def test_in_lists_run_in_sql_and_are_bounded(db: SandboxDB) -> None:
    query = _query.parse("SELECT id, customer FROM timebill WHERE customer IN (1, 2) AND id IN (3, 4, 5)")
    assert query.predicates == [] and query.where == {"customer": ["1", "2"], "id": ["3", "4", "5"]}
    rows, total = _query.run(db, query, offset=0, limit=10)
    assert (total, [row["id"] for row in rows]) == (2, ["4", "5"])
    with pytest.raises(SandboxHTTPError, match="at most 1000"):
        _query.parse(f"SELECT id FROM timebill WHERE id IN ({', '.join(str(n) for n in range(1001))})")
