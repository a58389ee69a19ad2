"""The store on SQLite, and on Postgres when PSFLOW_TEST_POSTGRES_URL is set (CI sets it)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from decimal import Decimal

from alembic import command
from sqlalchemy import inspect, text

from store import LedgerEntry, Posting, Store, alembic_config
from store.posting import claim_fingerprints, posting_runs, record_postings
from tests import ledger


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
        "minutes": 450,
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
    assert ledger.add(store, ledger_row()) is True
    assert ledger.add(store, ledger_row(target_id="ns-2", run_id="run-2")) is False
    posted = ledger.find(store, "netsuite", "time_entry", "kantata:1")
    assert posted is not None
    assert (posted.target_id, posted.run_id, posted.amount) == ("ns-1", "run-1", Decimal("1875.0000"))
    assert ledger.add(store, ledger_row(kind="expense")) is True


def test_a_page_of_ledger_rows_is_one_write_that_names_the_new_ones(store: Store) -> None:
    assert ledger.add(store, ledger_row(source_id="kantata:1")) is True
    page = [posting(f"kantata:{n}") for n in (1, 2, 3)]
    assert record_postings(store, page) == {"kantata:2", "kantata:3"}
    assert record_postings(store, page) == set()
    assert record_postings(store, []) == set()
    runs = posting_runs(store, "netsuite", "time_entry", ["kantata:1", "kantata:2", "kantata:3", "kantata:4"])
    assert runs == {"kantata:1": "run-1", "kantata:2": "run-2", "kantata:3": "run-2"}
    second = ledger.find(store, "netsuite", "time_entry", "kantata:2")
    assert second is not None and second.amount == Decimal("1875.0000")


def test_of_records_with_the_same_content_the_first_the_source_lists_is_the_original(store: Store) -> None:
    def claim(pairs: list[tuple[str, str]], run: str = "run-1") -> dict[str, str]:
        return claim_fingerprints(
            store,
            target_system="netsuite",
            kind="time_entry",
            business_date=date(2026, 11, 23),
            fingerprints=pairs,
            run_id=run,
        )

    # A page written in one statement: source order decides, not the ids' own order.
    page = [(f"kantata:{n}", "same" if n % 3 == 0 else f"own-{n}") for n in range(60, 0, -1)]
    assert claim(page) == {f"kantata:{n}": "kantata:60" for n in range(57, 0, -3)}
    # A later page, and a re-read of the first, keep the original that came first.
    assert claim([("kantata:100", "same"), ("kantata:60", "same")], run="run-2") == {"kantata:100": "kantata:60"}
    assert claim([], run="run-2") == {}


def test_audit_trail_keeps_order_and_detail(store: Store) -> None:
    store.audit("engagement-provisioning:salesforce:006A", "psa.project_created", "project", "p1", psa_id="123")
    store.audit("jane@firm.example", "exception.resolved", "project", "p1", note="billing address added")
    trail = store.audit_trail("project", "p1")
    assert [event.action for event in trail] == ["psa.project_created", "exception.resolved"]
    assert trail[0].detail == {"psa_id": "123"}


def migrate(store: Store, revision: str, *, down: bool = False) -> list[str]:
    """Move the store's schema to ``revision``; returns what the migrations reported."""
    config = alembic_config(store.url)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    return list(config.attributes.get("reports", []))


def test_the_ledger_keeps_whole_minutes_of_time_entries(store: Store) -> None:
    assert ledger.add(store, ledger_row("kantata:20", minutes=440, amount=Decimal("1375.00")))
    assert ledger.add(store, ledger_row("kantata:ex", kind="expense", minutes=None, amount=Decimal("12.50")))
    row = ledger.find(store, "netsuite", "time_entry", "kantata:20")
    assert row is not None and row.minutes == 440 and row.amount == Decimal("1375.00")
    assert ledger.find(store, "netsuite", "expense", "kantata:ex").minutes is None


def test_the_migration_converts_hours_to_minutes_and_reports_what_it_could_not_convert_exactly(store: Store) -> None:
    migrate(store, "0003", down=True)
    insert = text(
        "INSERT INTO posting_ledger (kind, source_system, source_id, target_system, target_id, project_id, "
        "business_date, amount, currency, billable, hours, run_id, posted_at) VALUES (:kind, 'kantata', :source, "
        "'netsuite', '1', 'PRJ-0001', '2026-10-15', :amount, 'USD', true, :hours, 'run-1', '2026-10-16 02:00:00')"
    )
    legacy = [
        ("time_entry", "kantata:1", "1406.25", "7.5"),
        ("time_entry", "kantata:2", "46.88", "0.25"),
        ("time_entry", "kantata:3", "1374.99", "7.3333"),  # 7:20, which 4 decimals cannot hold
        ("time_entry", "kantata:4", "988.87", "7.4167"),  # 7:25
        ("expense", "kantata:5", "42.50", None),
    ]
    with store.engine.begin() as connection:
        for kind, source, amount, hours in legacy:
            connection.execute(insert, {"kind": kind, "source": source, "amount": amount, "hours": hours})

    reports = migrate(store, "head")

    minutes = {source: ledger.find(store, "netsuite", kind, source).minutes for kind, source, _, _ in legacy}
    assert minutes == {"kantata:1": 450, "kantata:2": 15, "kantata:3": 440, "kantata:4": 445, "kantata:5": None}
    assert ledger.find(store, "netsuite", "time_entry", "kantata:3").amount == Decimal("1374.99")
    assert "hours" not in {column["name"] for column in inspect(store.engine).get_columns("posting_ledger")}
    assert len(reports) == 1
    assert reports[0].startswith("posting ledger: 4 time entries converted from hours to whole minutes, 2 inexactly")
    assert "kantata:3 (7.3333 h -> 440 min), kantata:4 (7.4167 h -> 445 min)" in reports[0]
    [event] = store.audit_trail("posting_ledger", "hours")
    assert event.action == "ledger.minutes_migrated"
    assert event.detail == {"converted": 4, "inexact": 2, "inexact_rows": ["kantata:3", "kantata:4"]}
    assert migrate(store, "head") == []  # a second upgrade has nothing to do or say


def test_the_minutes_migration_goes_back_to_hours(store: Store) -> None:
    assert ledger.add(store, ledger_row("kantata:20", minutes=440))
    migrate(store, "0003", down=True)
    with store.engine.begin() as connection:
        hours = connection.execute(text("SELECT hours FROM posting_ledger")).scalar_one()
    assert Decimal(str(hours)) == Decimal("7.3333")
    migrate(store, "head")
    assert ledger.find(store, "netsuite", "time_entry", "kantata:20").minutes == 440
