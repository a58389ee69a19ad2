from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from sandbox import DuplicateKey, SandboxDB


@pytest.fixture
def db(tmp_path: Path) -> SandboxDB:
    return SandboxDB(tmp_path / "db.sqlite")


def test_insert_assigns_increasing_ids_per_system_and_kind(db: SandboxDB) -> None:
    first = db.insert("crm", "account", {"name": "Northwind"})
    second = db.insert("crm", "account", {"name": "Contoso"})
    other_kind = db.insert("crm", "contact", {"name": "Ada"})
    other_system = db.insert("erp", "account", {"name": "Northwind"})

    assert first == {"name": "Northwind", "id": "1"}
    assert second["id"] == "2"
    assert other_kind["id"] == "1"
    assert other_system["id"] == "1"
    assert db.get("crm", "account", "2") == {"name": "Contoso", "id": "2"}


def test_ids_are_never_reused_and_explicit_numeric_ids_move_the_counter(db: SandboxDB) -> None:
    db.insert("s", "k", {})
    db.insert("s", "k", {})
    assert db.delete("s", "k", "2") is True
    assert db.insert("s", "k", {})["id"] == "3"

    db.insert("s", "k", {}, id="100")
    assert db.insert("s", "k", {})["id"] == "101"
    db.insert("s", "k", {}, id="E-1001")
    assert db.insert("s", "k", {})["id"] == "102"


def test_duplicate_id_and_ext_key_raise(db: SandboxDB) -> None:
    db.insert("s", "k", {"n": 1}, id="A", ext_key="ext-1")

    with pytest.raises(DuplicateKey) as by_ext:
        db.insert("s", "k", {"n": 2}, ext_key="ext-1")
    with pytest.raises(DuplicateKey) as by_id:
        db.insert("s", "k", {"n": 3}, id="A")

    assert (by_ext.value.field, by_ext.value.key) == ("ext_key", "ext-1")
    assert (by_id.value.field, by_id.value.key) == ("id", "A")
    assert db.count("s", "k") == 1
    # The same external key is free in another kind or system.
    db.insert("s", "other", {}, ext_key="ext-1")
    db.insert("t", "k", {}, ext_key="ext-1")


def test_find_update_replace_delete(db: SandboxDB) -> None:
    record = db.insert("s", "k", {"name": "a", "status": "open"}, ext_key="X-1")

    assert db.find_by_ext_key("s", "k", "X-1") == record
    assert db.find_by_ext_key("s", "k", "X-2") is None
    assert db.update("s", "k", record["id"], {"status": "won", "id": "999"}) == {
        "name": "a",
        "status": "won",
        "id": record["id"],
    }
    assert db.replace("s", "k", record["id"], {"only": True}) == {"only": True, "id": record["id"]}
    assert db.ext_key_of("s", "k", record["id"]) == "X-1"

    db.update("s", "k", record["id"], {}, ext_key="X-2")
    assert db.find_by_ext_key("s", "k", "X-2") is not None
    assert db.find_by_ext_key("s", "k", "X-1") is None

    with pytest.raises(KeyError):
        db.update("s", "k", "nope", {"a": 1})
    with pytest.raises(KeyError):
        db.replace("s", "k", "nope", {})
    assert db.delete("s", "k", record["id"]) is True
    assert db.delete("s", "k", record["id"]) is False
    assert db.get("s", "k", record["id"]) is None


def test_update_to_a_taken_ext_key_raises(db: SandboxDB) -> None:
    db.insert("s", "k", {}, ext_key="A")
    b = db.insert("s", "k", {}, ext_key="B")
    with pytest.raises(DuplicateKey):
        db.update("s", "k", b["id"], {"x": 1}, ext_key="A")
    assert db.get("s", "k", b["id"]) == {"id": b["id"]}


def test_where_filters_in_sql(db: SandboxDB) -> None:
    for i in range(12):
        db.insert("s", "te", {"state": ["approved", "submitted", "rejected"][i % 3], "billable": i % 2 == 0, "n": i})
    db.insert("s", "te", {"state": None, "n": 99})

    assert [r["n"] for r in db.query("s", "te", where={"state": "rejected"})] == [2, 5, 8, 11]
    assert db.count("s", "te", where={"state": "approved", "billable": True}) == 2
    assert db.count("s", "te", where={"billable": False}) == 6
    assert db.count("s", "te", where={"state": ("approved", "rejected")}) == 8
    assert [r["n"] for r in db.query("s", "te", where={"state": None})] == [99]
    assert [r["n"] for r in db.query("s", "te", where={"id": ["1", "3"]})] == [0, 2]
    assert db.count("s", "te", where={"n": "3"}) == 0  # types are compared strictly
    assert db.query("s", "te", where={"state": []}) == []


def test_paging_predicate_and_ordering(db: SandboxDB) -> None:
    for i in range(25):
        db.insert("s", "k", {"n": i, "name": f"z{25 - i:02d}"})

    page = db.query("s", "k", offset=10, limit=5)
    assert [r["id"] for r in page] == ["11", "12", "13", "14", "15"]  # numeric, not "11" < "2"
    assert [r["id"] for r in db.query("s", "k", order_by="-id", limit=3)] == ["25", "24", "23"]
    assert [r["n"] for r in db.query("s", "k", order_by="name", limit=2)] == [24, 23]
    odd = db.query("s", "k", predicate=lambda r: r["n"] % 2 == 1, offset=2, limit=3)
    assert [r["n"] for r in odd] == [5, 7, 9]


def test_a_declared_index_serves_a_days_page_without_sorting_or_reading_other_days(db: SandboxDB) -> None:
    for i in range(60):
        db.insert("s", "te", {"day": f"2026-11-{20 + i % 3}", "approved": i % 4 != 0, "n": i})
    where = {"day": ["2026-11-21"], "approved": True}
    before = [r["n"] for r in db.query("s", "te", where=where, order_by="-day", offset=3, limit=4)]
    db.ensure_index(("day", "approved"))
    db.ensure_index(("day", "approved"))  # idempotent
    after = [r["n"] for r in db.query("s", "te", where=where, order_by="-day", offset=3, limit=4)]
    assert before == after == [13, 19, 22, 25]
    assert db.count("s", "te", where=where) == 15
    plan = " ".join(
        str(row)
        for row in db._exec(  # the query `query` runs, as SQLite plans it
            "EXPLAIN QUERY PLAN SELECT body FROM records WHERE system = ? AND kind = ? AND "
            "json_extract(body, '$.day') = ? AND json_extract(body, '$.approved') = ? ORDER BY num, id LIMIT 4",
            ("s", "te", "2026-11-21", True),
        ).all()
    )
    assert "records_by_day_approved" in plan and "TEMP B-TREE" not in plan, plan
    with pytest.raises(ValueError, match="letters, digits and underscores"):
        db.ensure_index(("day'); DROP TABLE records; --",))


def test_numeric_ids_sort_before_other_ids(db: SandboxDB) -> None:
    for id_ in ("10", "b", "2", "a", "1"):
        db.insert("s", "k", {}, id=id_)
    assert [r["id"] for r in db.query("s", "k")] == ["1", "2", "10", "a", "b"]


def test_counts_kv_and_reset(db: SandboxDB) -> None:
    db.insert("crm", "account", {})
    db.insert("crm", "account", {})
    db.insert("erp", "customer", {})
    assert db.counts() == {"crm": {"account": 2}, "erp": {"customer": 1}}

    assert db.kv_get("crm", "budget") is None
    assert db.kv_get("crm", "budget", 0) == 0
    db.kv_set("crm", "period", {"2025-01": "closed"})
    assert db.kv_get("crm", "period") == {"2025-01": "closed"}
    assert db.kv_incr("crm", "calls") == 1
    assert db.kv_incr("crm", "calls", by=10) == 11
    assert db.kv_get("crm", "calls") == 11

    db.reset()
    assert db.counts() == {}
    assert db.kv_get("crm", "calls") is None
    assert db.insert("crm", "account", {})["id"] == "1"


def test_transaction_is_atomic(db: SandboxDB) -> None:
    with pytest.raises(RuntimeError), db.transaction():
        db.insert("s", "k", {"n": 1})
        db.kv_set("s", "x", 1)
        raise RuntimeError("boom")
    assert db.count("s", "k") == 0
    assert db.kv_get("s", "x") is None

    with db.transaction(), db.transaction():
        db.insert("s", "k", {"n": 2})
    assert db.count("s", "k") == 1


def test_json_values_are_stored_as_on_the_wire(db: SandboxDB) -> None:
    stored = db.insert("s", "k", {"day": date(2025, 3, 14), "amount": Decimal("12.50"), "hours": Decimal("8")})
    assert stored == {"day": "2025-03-14", "amount": 12.5, "hours": 8, "id": "1"}
    with pytest.raises(TypeError, match="cannot store object"):
        db.insert("s", "k", {"bad": object()})


def test_restart_keeps_records_counters_and_state(tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite"
    db = SandboxDB(path)
    db.insert("s", "k", {"n": 1}, ext_key="e")
    db.kv_set("s", "token", "abc")
    db.close()

    again = SandboxDB(path)
    assert again.find_by_ext_key("s", "k", "e") == {"n": 1, "id": "1"}
    assert again.kv_get("s", "token") == "abc"
    assert again.insert("s", "k", {})["id"] == "2"


def test_memory_database_and_concurrent_writers() -> None:
    db = SandboxDB(":memory:")

    def write() -> None:
        for _ in range(200):
            db.insert("s", "k", {})
            db.kv_incr("s", "n")

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [r["id"] for r in db.query("s", "k")]
    assert len(ids) == len(set(ids)) == 1600
    assert db.kv_get("s", "n") == 1600


def test_bulk_inserts_are_fast(db: SandboxDB) -> None:
    started = time.perf_counter()
    with db.transaction():
        for i in range(5000):
            db.insert("bench", "time_entry", {"n": i, "approved": True}, ext_key=f"TE-{i}")
    for i in range(1000):
        db.insert("bench", "posted", {"n": i})
    assert time.perf_counter() - started < 5
    assert db.count("bench", "time_entry", where={"approved": True}) == 5000
