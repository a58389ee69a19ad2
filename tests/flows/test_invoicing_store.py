"""Invoicing over the ledger without Temporal: which rows an invoice takes, the KPIs, the CLI's input checks.

On SQLite, and on Postgres too when PSFLOW_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

import cli
from store import AuditEvent, LedgerEntry, Store, exceptions
from store.figures import ERP_REFUSED, invoice_lag, sync_success_rate, time_to_post
from store.invoicing import (
    INVOICE_POSTED,
    invoice_id,
    invoice_to_run,
    invoices_to_make,
    posting_state,
    projects_to_invoice,
    record_invoice_posted,
    record_nothing_to_invoice,
    reserve_for_invoice,
    rows_of_invoice,
    unbilled_by_project,
)
from tests import ledger

OCT_END = date(2026, 10, 31)


def post(store: Store, source_id: str, day: date, amount: str = "100", **changes: object) -> None:
    values: dict[str, object] = {
        "kind": "time_entry",
        "source_system": "kantata",
        "source_id": source_id,
        "target_system": "netsuite",
        "target_id": f"tb-{source_id}",
        "project_id": "PRJ-0001",
        "business_date": day,
        "amount": Decimal(amount),
        "currency": "USD",
        "minutes": 60,
        "run_id": "run-1",
    }
    values.update(changes)
    assert ledger.add(store, LedgerEntry(**values))  # type: ignore[arg-type]


def test_an_invoice_takes_unbilled_billable_rows_up_to_the_period_end_once(store: Store) -> None:
    post(store, "late-from-september", date(2026, 9, 29))
    post(store, "october", date(2026, 10, 15))
    post(store, "last-day", OCT_END)
    post(store, "november", date(2026, 11, 2))
    post(store, "not-billable", date(2026, 10, 15), billable=False)
    post(store, "other-project", date(2026, 10, 15), project_id="PRJ-0002")
    post(store, "on-september-invoice", date(2026, 9, 10), invoice_id="inv:PRJ-0001:2026-09")

    taken = reserve_for_invoice(store, "PRJ-0001", OCT_END, "inv:PRJ-0001:2026-10")
    post(store, "approved-after-the-run", date(2026, 10, 20))
    again = reserve_for_invoice(store, "PRJ-0001", OCT_END, "inv:PRJ-0001:2026-10")

    assert [row.source_id for row in taken] == ["late-from-september", "october", "last-day"]
    assert {row.invoice_id for row in taken} == {"inv:PRJ-0001:2026-10"}
    assert [row.source_id for row in again] == [row.source_id for row in taken]  # fixed once decided
    assert reserve_for_invoice(store, "PRJ-0002", date(2026, 9, 30), "inv:PRJ-0002:2026-09") == []


def test_rows_in_several_currencies_get_one_invoice_per_currency(store: Store) -> None:
    post(store, "usd", date(2026, 10, 1))
    post(store, "eur", date(2026, 10, 2), currency="EUR")
    taken = reserve_for_invoice(store, "PRJ-0001", OCT_END, "inv:PRJ-0001:2026-10")
    assert {row.source_id: row.invoice_id for row in taken} == {
        "usd": "inv:PRJ-0001:2026-10:USD",
        "eur": "inv:PRJ-0001:2026-10:EUR",
    }
    assert len(rows_of_invoice(store, "inv:PRJ-0001:2026-10")) == 2


def test_two_invoices_of_one_project_running_at_once_never_take_the_same_row(store: Store) -> None:
    for n in range(200):
        post(store, f"entry-{n}", date(2026, 10, 1) + timedelta(days=n % 30))
    start = threading.Barrier(2)
    taken: dict[str, list[str]] = {}

    def invoice(base_id: str, through: date) -> None:
        start.wait()
        taken[base_id] = [row.source_id for row in reserve_for_invoice(store, "PRJ-0001", through, base_id)]

    threads = [
        threading.Thread(target=invoice, args=("inv:PRJ-0001:2026-10", OCT_END)),
        threading.Thread(target=invoice, args=("inv:PRJ-0001:2026-11", date(2026, 11, 30))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    october, november = taken["inv:PRJ-0001:2026-10"], taken["inv:PRJ-0001:2026-11"]
    assert not set(october) & set(november)
    assert sorted(october + november) == sorted(f"entry-{n}" for n in range(200))


def test_projects_to_invoice_include_unfinished_invoices_of_the_period(store: Store) -> None:
    post(store, "a", date(2026, 10, 3), project_id="PRJ-0001")
    post(store, "b", date(2026, 10, 3), project_id="PRJ-0002")
    post(store, "c", date(2026, 10, 3), project_id="PRJ-0003")
    post(store, "d", date(2026, 11, 3), project_id="PRJ-0004")
    reserve_for_invoice(store, "PRJ-0002", OCT_END, "inv:PRJ-0002:2026-10")  # its run failed before posting
    reserve_for_invoice(store, "PRJ-0003", OCT_END, "inv:PRJ-0003:2026-10")
    record_invoice_posted(store, "test", "inv:PRJ-0003:2026-10", period_closed_at="2026-11-01T00:00:00+00:00")
    assert projects_to_invoice(store, "2026-10", OCT_END) == ["PRJ-0001", "PRJ-0002"]
    assert not record_invoice_posted(store, "test", "inv:PRJ-0003:2026-10")  # recorded once


def test_work_posted_after_a_months_invoice_gets_a_supplementary_invoice_of_that_month(store: Store) -> None:
    first = invoice_id("PRJ-0001", "2026-10")
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 1
    post(store, "on-time", date(2026, 10, 30))
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 1
    reserve_for_invoice(store, "PRJ-0001", OCT_END, first)
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 1  # reserved, not posted: finish it first
    record_invoice_posted(store, "test", first)
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 1  # nothing new: a re-run shows it
    assert invoices_to_make(store, "2026-10", OCT_END) == []

    post(store, "posted-late", date(2026, 10, 31))
    post(store, "posted-late-eur", date(2026, 10, 31), currency="EUR")
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 2
    assert invoices_to_make(store, "2026-10", OCT_END) == [("PRJ-0001", 2)]
    assert set(unbilled_by_project(store, OCT_END)) == {"PRJ-0001"}
    second = invoice_id("PRJ-0001", "2026-10", 2)
    assert second == "inv:PRJ-0001:2026-10.2"
    taken = reserve_for_invoice(store, "PRJ-0001", OCT_END, second)
    assert {row.source_id: row.invoice_id for row in taken} == {
        "posted-late": f"{second}:USD",
        "posted-late-eur": f"{second}:EUR",
    }
    assert [row.source_id for row in rows_of_invoice(store, first)] == ["on-time"]  # never the supplement's rows
    assert unbilled_by_project(store, OCT_END) == {}
    record_invoice_posted(store, "test", f"{second}:USD")
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 2  # its EUR invoice is unfinished
    record_invoice_posted(store, "test", f"{second}:EUR")
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 2


def test_an_invoice_that_found_nothing_to_bill_uses_up_its_number(store: Store) -> None:
    record_nothing_to_invoice(store, "test", invoice_id("PRJ-0001", "2026-10"))
    record_nothing_to_invoice(store, "test", invoice_id("PRJ-0001", "2026-10"))  # recorded once
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 1
    post(store, "later", date(2026, 10, 15))
    assert invoice_to_run(store, "PRJ-0001", "2026-10", OCT_END) == 2


def _problem(source_id: str, reason: str, flow: str = "posting") -> exceptions.Occurrence:
    return exceptions.Occurrence(
        flow=flow,
        system="netsuite",
        kind="time_entry",
        business_key=source_id,
        reason=reason,
        message="refused",
        business_date=date(2026, 11, 2),
    )


def test_posting_state_tells_posted_from_rejected(store: Store) -> None:
    post(store, "kantata:posted", date(2026, 10, 15))
    for source in ("kantata:refused", "kantata:ignored", "kantata:acknowledged"):
        exceptions.record(store, [_problem(source, "missing_rate")], run_id="run-1")
    exceptions.act(store, exceptions.find(store, key="kantata:ignored")[0].id or 0, "ignore", actor="ana")
    exceptions.act(store, exceptions.find(store, key="kantata:acknowledged")[0].id or 0, "acknowledge", actor="ana")
    ids = ["kantata:posted", "kantata:refused", "kantata:ignored", "kantata:acknowledged", "kantata:never"]
    assert posting_state(store, "netsuite", "time_entry", ids) == (
        {"kantata:posted"},
        {"kantata:refused", "kantata:acknowledged"},
    )


def test_time_to_post_and_invoice_lag_are_distributions(store: Store) -> None:
    day = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    for n, hours in enumerate([1, 2, 3, 4, 20]):
        post(store, f"t{n}", date(2026, 11, 2), approved_at=day - timedelta(hours=hours), posted_at=day)
    post(store, "next-day", date(2026, 11, 3), approved_at=day, posted_at=day + timedelta(days=1, hours=5))
    post(store, "no-approval-time", date(2026, 11, 2), posted_at=day)
    with store.session() as session:
        for n, hours in enumerate([27, 51]):
            session.add(
                AuditEvent(
                    at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hours),
                    actor="test",
                    action=INVOICE_POSTED,
                    entity="invoice",
                    entity_id=f"inv:P{n}:2026-10",
                    detail={"period_closed_at": "2026-11-01T00:00:00+00:00"},
                )
            )

    overall, per_day = time_to_post(store, date(2026, 11, 1), date(2026, 11, 30))
    lag = invoice_lag(store, date(2026, 11, 1), date(2026, 11, 30))

    assert (overall.count, overall.p50, overall.p95, overall.max) == (
        6,
        timedelta(hours=3),
        timedelta(hours=29),
        timedelta(hours=29),
    )
    assert per_day[date(2026, 11, 3)].p50 == timedelta(hours=3)
    assert per_day[date(2026, 11, 4)].count == 1
    assert (lag.count, lag.p50, lag.max) == (2, timedelta(hours=27), timedelta(hours=51))
    assert time_to_post(store, date(2026, 12, 1), date(2026, 12, 31))[0].p50 is None


def test_sync_success_rate_counts_posting_exceptions_or_says_it_cannot(store: Store) -> None:
    day = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    for n in range(8):
        post(store, f"ok{n}", date(2026, 11, 2), posted_at=day)
    exceptions.record(
        store,
        [_problem(f"bad{n}", reason) for n, reason in enumerate(["missing_rate", ERP_REFUSED])],
        run_id="run-1",
        now=day,
    )
    # Another flow's exceptions are not the posting's failures.
    exceptions.record(store, [_problem("other", "missing_rate", flow="invoicing")], run_id="run-1", now=day)
    rate = sync_success_rate(store, date(2026, 11, 1), date(2026, 11, 30))
    assert (rate.posted, rate.rejected, rate.failed, rate.rate) == (8, 1, 1, 0.8)
    with store.engine.begin() as connection:
        connection.execute(text("DROP TABLE exception_history"))
        connection.execute(text("DROP TABLE exception"))
    unknown = sync_success_rate(store, date(2026, 11, 1), date(2026, 11, 30))
    assert (unknown.posted, unknown.rejected, unknown.rate) == (8, None, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoice", "run", "--project", "PRJ-0001", "--period", "2026-13"], "'2026-13' is not a month"),
        (["invoice", "run", "--project", "PRJ-0001", "--period", "Oct 2026"], "written as YYYY-MM"),
        (["invoice", "run-month", "--period", "2026/10"], "--period: period '2026/10' is not a month"),
        (["invoice", "run", "--project", "PRJ-9999", "--period", "2020-01"], "unknown project 'PRJ-9999'"),
        (["invoice", "run-month", "--period", "2999-01"], "period 2999-01 runs until 2999-01-31"),
        (["kpis", "--from", "yesterday"], "--from 'yesterday' is not a date"),
        (["kpis", "--from", "2026-11-02", "--to", "2026-11-01"], "is before --from"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    Store(f"sqlite:///{tmp_path / 'psflow.db'}").upgrade()
    env = {"PSFLOW_DATA_DIR": str(tmp_path), "PSFLOW_SETTINGS_FILE": "", "COLUMNS": "300"}
    result = CliRunner().invoke(cli.app, args, env=env)
    assert result.exit_code == 1, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_kpis_prints_the_figures(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'psflow.db'}")
    store.upgrade()
    now = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    post(store, "fresh", now.date(), approved_at=now - timedelta(hours=5), posted_at=now)
    env = {"PSFLOW_DATA_DIR": str(tmp_path), "PSFLOW_SETTINGS_FILE": "", "COLUMNS": "300"}
    result = CliRunner().invoke(cli.app, ["kpis", "--as-of", now.isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert "time to post (approval → posted)" in result.output and "5h 0m" in result.output
    assert "sync success rate: 100.0% (1 posted, 0 rejected, 0 failed)" in result.output
