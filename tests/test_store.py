"""The store on SQLite, and on Postgres when PSFLOW_TEST_POSTGRES_URL is set (CI sets it)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal

from sqlalchemy import inspect

from store import LedgerEntry, Posting, Store


def ledger_row(source_id: str = "kantata:1", **changes: object) -> LedgerEntry:
    values: dict[str, object] = {
        "kind": "time_entry",
        "source_system": "kantata",
        "source_id": source_id,
        "target_system": "netsuite",
        "target_id": "ns-1",
        "project_id": "salesforce:006A",
        "business_date": date(2026, 11, 23),
        "amount": Decimal("1875.0000"),
        "currency": "USD",
        "hours": Decimal("7.5"),
        "run_id": "run-1",
    }
    values.update(changes)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def posting(source_id: str) -> Posting:
    row = ledger_row(source_id, run_id="run-2")
    return Posting(**row.model_dump(include={f.name for f in fields(Posting)} - {"posted_at"}))


def test_upgrade_creates_the_tables_and_is_repeatable(store: Store) -> None:
    store.upgrade()
    tables = set(inspect(store.engine).get_table_names())
    assert {"id_map", "posting_ledger", "audit_trail", "alembic_version"} <= tables


def test_id_map_records_looks_up_and_corrects(store: Store) -> None:
    store.map_id("project", "salesforce:006A", "kantata", "123")
    store.map_id("project", "salesforce:006A", "netsuite", "987")
    assert store.system_id("project", "salesforce:006A", "kantata") == "123"
    assert store.canonical_id("project", "netsuite", "987") == "salesforce:006A"
    assert store.ids_of("project", "salesforce:006A") == {"kantata": "123", "netsuite": "987"}
    store.map_id("project", "salesforce:006A", "kantata", "124")
    assert store.system_id("project", "salesforce:006A", "kantata") == "124"
    assert store.system_id("project", "unknown", "kantata") is None


def test_ledger_refuses_a_second_posting_of_the_same_source_record(store: Store) -> None:
    assert store.record_posting(ledger_row()) is True
    assert store.record_posting(ledger_row(target_id="ns-2", run_id="run-2")) is False
    posted = store.posting("netsuite", "time_entry", "kantata:1")
    assert posted is not None
    assert (posted.target_id, posted.run_id, posted.amount) == ("ns-1", "run-1", Decimal("1875.0000"))
    assert store.record_posting(ledger_row(kind="expense")) is True


def test_a_page_of_ledger_rows_is_one_write_that_names_the_new_ones(store: Store) -> None:
    assert store.record_posting(ledger_row(source_id="kantata:1")) is True
    page = [posting(f"kantata:{n}") for n in (1, 2, 3)]
    assert store.record_postings(page) == {"kantata:2", "kantata:3"}
    assert store.record_postings(page) == set()
    assert store.record_postings([]) == set()
    runs = store.posting_runs("netsuite", "time_entry", ["kantata:1", "kantata:2", "kantata:3", "kantata:4"])
    assert runs == {"kantata:1": "run-1", "kantata:2": "run-2", "kantata:3": "run-2"}
    second = store.posting("netsuite", "time_entry", "kantata:2")
    assert second is not None and second.amount == Decimal("1875.0000")


def test_audit_trail_keeps_order_and_detail(store: Store) -> None:
    store.audit("engagement-provisioning:salesforce:006A", "psa.project_created", "project", "p1", psa_id="123")
    store.audit("jane@firm.example", "exception.resolved", "project", "p1", note="billing address added")
    trail = store.audit_trail("project", "p1")
    assert [event.action for event in trail] == ["psa.project_created", "exception.resolved"]
    assert trail[0].detail == {"psa_id": "123"}
