"""``psflow exceptions`` and the exception figures of ``psflow kpis``, end to end through the CLI on a real store.

Exceptions are made the way flows make them (`store.exceptions.record`, escalated by `escalate_due`),
at pinned instants; the CLI is run with ``--as-of`` so no figure depends on the clock. Bad input is
one ``error:`` line and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import cli
import stack.flows
from commands import exceptions as exceptions_command
from commands.exceptions import parse_edits
from commands.kpis import duration
from store import Store
from store import exceptions as exc
from store.figures import open_exceptions, time_to_resolve

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
"""A Thursday: what the tests call now."""
DAY = date(2026, 11, 20)


@pytest.fixture
def psflow(store: Store, tmp_path: Path) -> Iterator[Any]:
    """Run the CLI on the test's store, as user ``ana`` with Temporal unreachable (nothing here needs it)."""
    env = {
        "PSFLOW_DATABASE_URL": store.url,
        "PSFLOW_DATA_DIR": str(tmp_path / "data"),
        "PSFLOW_SETTINGS_FILE": "",
        "PSFLOW_TEMPORAL__ADDRESS": "127.0.0.1:1",
        "PSFLOW_ACTOR": None,
        "LOGNAME": "ana",
        "COLUMNS": "250",
    }

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli.app, list(args), env=env)

    yield run


def occurrence(key: str, flow: str = "posting", kind: str = "time_entry", **changes: Any) -> exc.Occurrence:
    values: dict[str, Any] = {
        "flow": flow,
        "system": "netsuite",
        "kind": kind,
        "business_key": key,
        "reason": "unknown_project",
        "message": f"project of {key} is not in NetSuite",
        "values": {"project_id": "PRJ-9"},
        "records": [{"system": "kantata", "type": kind, "id": key}],
        "business_date": DAY,
    }
    values.update(changes)
    return exc.Occurrence(**values)


def one_line_error(result: Result, words: str) -> None:
    assert result.exit_code == 1, result.output
    assert words in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def tsv(result: Result) -> list[dict[str, str]]:
    """The rows of ``list --format tsv`` by column name."""
    assert result.exit_code == 0, result.output
    header, *lines = result.stdout.splitlines()
    return [dict(zip(header.split("\t"), line.split("\t"), strict=True)) for line in lines]


def snapshot(store: Store, exception_id: int) -> tuple[Any, ...]:
    row = exc.get(store, exception_id)
    return row.state, row.owner, row.note, row.closed_at, len(exc.history(store, exception_id))


def test_list_shows_every_flow_with_age_and_escalation_level(store: Store, psflow: Any) -> None:
    [posting] = exc.record(store, [occurrence("kantata:1")], run_id="post-1", now=NOW - timedelta(days=4, hours=2))
    [provisioning] = exc.record(
        store,
        [occurrence("hubspot:8123", flow="provisioning", kind="engagement", business_date=None, system="kantata")],
        run_id="prov-1",
        now=NOW - timedelta(hours=5),
    )
    [invoice] = exc.record(
        store,
        [occurrence("PRJ-1:2026-10", flow="invoicing", kind="invoice")],
        run_id="inv-1",
        now=NOW - timedelta(days=1),
    )
    escalated = exc.escalate_due(store, now=NOW)
    assert [step.id for step in escalated] == [posting]
    exc.act(store, invoice, "resolve", actor="ana", now=NOW - timedelta(hours=2))

    rows = tsv(psflow("exceptions", "list", "--format", "tsv", "--as-of", NOW.isoformat()))
    assert [(r["id"], r["flow"], r["kind"], r["key"], r["state"]) for r in rows] == [
        (str(posting), "posting", "time_entry", "kantata:1", "open"),
        (str(provisioning), "provisioning", "engagement", "hubspot:8123", "open"),
    ]
    assert [(r["age"], r["level"], r["date"], r["seen"]) for r in rows] == [
        ("4d 2h", "1", DAY.isoformat(), "1"),
        ("5h 0m", "0", "-", "1"),
    ]

    table = psflow("exceptions", "list", "--as-of", NOW.isoformat())
    assert table.exit_code == 0, table.output
    assert "active exceptions" in table.output and "hubspot:8123" in table.output and "4d 2h" in table.output
    assert "project of kantata:1 is not in NetSuite" in table.output and "PRJ-1:2026-10" not in table.output
    later = (NOW + timedelta(days=10)).isoformat()
    everything = tsv(psflow("exceptions", "list", "--status", "all", "--format", "tsv", "--as-of", later))
    assert [(r["id"], r["age"]) for r in everything] == [
        (str(posting), "14d 2h"),
        (str(provisioning), "10d 5h"),
        (str(invoice), "22h 0m"),  # open until it was resolved
    ]


def test_list_filters_by_flow_kind_state_owner_escalation_and_date(store: Store, psflow: Any) -> None:
    ids = exc.record(
        store,
        [
            occurrence("kantata:1"),
            occurrence("kantata:2", kind="expense", business_date=date(2026, 11, 21)),
            occurrence("hubspot:1", flow="provisioning", kind="engagement"),
            occurrence("kantata:3"),
            occurrence("kantata:4"),
        ],
        run_id="run-1",
        now=NOW - timedelta(days=10),
    )
    exc.act(store, ids[1], "assign", actor="lead", owner="bo")
    exc.act(store, ids[2], "acknowledge", actor="cy")
    exc.act(store, ids[3], "ignore", actor="cy", note="written off")
    exc.act(store, ids[4], "resolve", actor="cy")
    exc.escalate_due(store, now=NOW)  # the first level, for those still active

    def listed(*filters: str) -> list[int]:
        return [int(r["id"]) for r in tsv(psflow("exceptions", "list", "--format", "tsv", *filters))]

    assert listed() == ids[:3]
    assert listed("--state", "open") == ids[:2]
    assert listed("--state", "acknowledged") == [ids[2]]
    assert listed("--state", "ignored") == [ids[3]]
    assert listed("--state", "resolved") == [ids[4]]
    assert listed("--state", "all") == ids
    assert listed("--flow", "provisioning") == [ids[2]]
    assert listed("--kind", "expense") == [ids[1]]
    assert listed("--owner", "bo") == [ids[1]]
    assert listed("--owner", "cy") == [ids[2]]  # acknowledging takes it on
    assert listed("--date", "2026-11-21") == [ids[1]]
    assert listed("--escalated") == ids[:3]
    assert listed("--escalated", "--state", "all") == ids[:3]
    assert listed("--after", str(ids[0]), "--limit", "1") == [ids[1]]
    assert listed("--system", "kantata") == []

    nothing = psflow("exceptions", "list", "--flow", "amendment", "--kind", "amendment")
    assert nothing.exit_code == 0 and "no active exceptions (flow amendment, kind amendment)" in nothing.output


def test_show_prints_fields_values_records_retry_input_and_history(store: Store, psflow: Any) -> None:
    [ident] = exc.record(
        store,
        [
            occurrence(
                "2026-10:PRJ-1",
                flow="reconciliation",
                kind="hours_mismatch",
                reason="hours_mismatch",
                message="PSA has 8h, ERP has 7.5h",
                values={"psa": {"hours": "8"}, "erp": {"hours": "7.5"}, "ledger": None},
                records=[{"system": "netsuite", "type": "timeBill", "id": "TB-77"}],
                retry_input={"project_id": "PRJ-1", "rate": "150.00"},
            )
        ],
        run_id="reconcile:2026-10",
        now=NOW - timedelta(days=2),
    )
    exc.act(store, ident, "assign", actor="lead", owner="bo", note="bo knows the client", now=NOW - timedelta(days=1))

    shown = psflow("exceptions", "show", str(ident), "--as-of", NOW.isoformat())
    assert shown.exit_code == 0, shown.output
    text = shown.output
    for words in (
        "reconciliation",
        "hours_mismatch",
        "2026-10:PRJ-1",
        "PSA has 8h, ERP has 7.5h",
        "2026-11-24 12:00 UTC (open 2d 0h)",
        "bo knows the client",
        "reconcile:2026-10",
    ):
        assert words in text, (words, text)
    assert "psa.hours" in text and "erp.hours" in text and "7.5" in text and "ledger" in text
    assert "TB-77" in text and "timeBill" in text
    assert f"edit and re-run: psflow exceptions retry {ident} --set field=value" in text
    assert "rate" in text and "150.00" in text and "project_id" in text
    history = text[text.index("history") :]
    assert "opened" in history and "reconcile:2026-10" in history
    assert "assigned" in history and "lead" in history and "owner=bo" in history

    one_line_error(psflow("exceptions", "show", "999999"), "no exception 999999")


def test_ack_assign_resolve_ignore_record_who_did_it(store: Store, psflow: Any) -> None:
    ids = exc.record(store, [occurrence(f"kantata:{n}") for n in range(3)], run_id="run-1", now=NOW)

    acked = psflow("exceptions", "ack", str(ids[0]), "--note", "looking")
    assert acked.exit_code == 0 and f"acknowledged exception {ids[0]}" in acked.output, acked.output
    assigned = psflow("exceptions", "assign", str(ids[0]), "--to", "bo", "--actor", "lead")
    assert assigned.exit_code == 0 and "owner bo" in assigned.output, assigned.output
    resolved = psflow("exceptions", "resolve", str(ids[0]), "--note", "fixed the job in NetSuite")
    assert resolved.exit_code == 0 and "now resolved" in resolved.output, resolved.output
    ignored = psflow("exceptions", "ignore", str(ids[1]))
    assert ignored.exit_code == 0 and f"ignored exception {ids[1]}" in ignored.output, ignored.output

    first = exc.get(store, ids[0])
    assert (first.state, first.owner, first.resolved_by, first.note) == (
        "resolved",
        "bo",
        "ana",
        "fixed the job in NetSuite",
    )
    steps = [(event.actor, event.action, event.detail) for event in exc.history(store, ids[0])]
    assert steps[1:] == [
        ("ana", "acknowledged", {"note": "looking"}),
        ("lead", "assigned", {"owner": "bo"}),
        ("ana", "resolved", {"note": "fixed the job in NetSuite"}),
    ]
    second = exc.get(store, ids[1])
    assert (second.state, second.note, second.resolved_by) == ("ignored", "ignored with psflow", "ana")
    assert exc.get(store, ids[2]).state == "open"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["resolve", "{ignored}"], "is ignored: it cannot be resolved"),
        (["ignore", "{resolved}"], "is resolved: it cannot be ignored"),
        (["ack", "{resolved}"], "is resolved: it cannot be acknowledged"),
        (["assign", "{ignored}", "--to", "bo"], "is ignored: it cannot be assigned"),
        (["assign", "{open}", "--to", " "], "--to is empty"),
        (["ack", "{open}", "--actor", " "], "--actor is empty"),
        (["ack", "{open}", "--note", "x" * 501], "--note is 501 characters long"),
        (["resolve", "999999"], "no exception 999999: see the ids with `psflow exceptions list --state all`"),
        (["retry", "{open}", "--set", "rate"], "--set 'rate' has no '='"),
        (["retry", "{open}", "--set", "=150"], "--set '=150' names no field"),
        (["retry", "{open}", "--set", "rate=1", "--set", "rate=2"], "--set rate is given twice"),
        (["retry", "{open}", "--set", "rate=1"], "cannot reach Temporal at 127.0.0.1:1"),
        (["list", "--state", "closed"], "Invalid value for '--state' / '--status'"),
        (["list", "--flow", "billing"], "Invalid value for '--flow'"),
        (["list", "--as-of", "noon"], "--as-of 'noon' is not an instant"),
        (["list", "--limit", "0"], "Invalid value for '--limit'"),
        (["show", "abc"], "Invalid value for 'exception_id'"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(store: Store, psflow: Any, args: list[str], words: str) -> None:
    ids = exc.record(store, [occurrence(f"kantata:{n}") for n in range(3)], run_id="run-1", now=NOW)
    named = dict(zip(("open", "ignored", "resolved"), ids, strict=True))
    exc.act(store, named["ignored"], "ignore", actor="cy", now=NOW)
    exc.act(store, named["resolved"], "resolve", actor="cy", now=NOW)
    before = [snapshot(store, ident) for ident in ids]

    result = psflow("exceptions", *(arg.format(**named) for arg in args))

    expected_exit = 2 if "Invalid value" in words else 1
    assert result.exit_code == expected_exit, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert [snapshot(store, ident) for ident in ids] == before


def test_retry_passes_the_edits_and_the_person_to_the_retry_flow(
    store: Store, psflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    async def reachable(config: Any) -> str:
        return "client"

    async def retry_exception(
        client: Any, settings: Any, exception_id: int, edits: dict[str, str], *, actor: str
    ) -> Any:
        calls.append((client, exception_id, edits, actor))
        from pydantic import BaseModel

        class Outcome(BaseModel):
            exception_id: int
            workflow_id: str
            outcome: str
            edits: dict[str, str]

        run = f"exception-retry:{exception_id}:1"
        return Outcome(exception_id=exception_id, workflow_id=run, outcome="resolved", edits=edits)

    monkeypatch.setattr(exceptions_command, "temporal", reachable)
    monkeypatch.setattr(stack.flows, "retry_exception", retry_exception, raising=False)

    result = psflow("exceptions", "retry", "12", "--set", "rate=150.00", "--set", "note=a=b", "--set", "role=")

    assert result.exit_code == 0, result.output
    assert calls == [("client", 12, {"rate": "150.00", "note": "a=b", "role": ""}, "ana")]
    assert "retried exception 12 (rate=150.00, note=a=b, role=)" in result.output
    assert "workflow_id: exception-retry:12:1" in result.output and "outcome: resolved" in result.output
    assert "edits" not in result.output and "exception_id" not in result.output


def test_a_retry_the_flow_refuses_is_one_line(store: Store, psflow: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def reachable(config: Any) -> str:
        return "client"

    async def retry_exception(*_: Any, **__: Any) -> Any:
        raise ValueError("exception 12 has no field 'colour' to edit; its fields are rate, role")

    monkeypatch.setattr(exceptions_command, "temporal", reachable)
    monkeypatch.setattr(stack.flows, "retry_exception", retry_exception, raising=False)

    one_line_error(
        psflow("exceptions", "retry", "12", "--set", "colour=red"),
        "error: exception 12 has no field 'colour' to edit; its fields are rate, role",
    )


def test_parse_edits_keeps_everything_after_the_first_equals_sign() -> None:
    assert parse_edits(["rate=150", "task_id = T-1", "memo=a=b", "role="]) == {
        "rate": "150",
        "task_id": " T-1",
        "memo": "a=b",
        "role": "",
    }
    assert parse_edits([]) == {}


def test_ten_thousand_open_exceptions_page_and_filter_through_the_cli(store: Store, psflow: Any) -> None:
    flows = ("posting", "provisioning", "invoicing", "reconciliation")
    made = [
        occurrence(
            f"key-{n:05d}",
            flow=flows[n % 4],
            kind="time_entry" if n % 4 == 0 else "item",
            business_date=DAY + timedelta(days=n % 7),
        )
        for n in range(10_000)
    ]
    ids = exc.record(store, made, run_id="run-big", now=NOW - timedelta(days=3))
    for ident in ids[::500]:
        exc.act(store, ident, "assign", actor="lead", owner="bo")
    exc.escalate_due(store, now=NOW, limit=300)  # the first 300 due go up a level

    seen: list[int] = []
    pages = 0
    after: list[str] = []
    while True:
        result = psflow("exceptions", "list", "--format", "tsv", "--limit", "1500", *after)
        rows = tsv(result)
        pages += 1
        seen += [int(r["id"]) for r in rows]
        if "more: add --after" not in result.output:
            break
        assert len(rows) == 1500
        after = ["--after", rows[-1]["id"]]
    assert seen == ids and pages == 7

    posting = tsv(psflow("exceptions", "list", "--format", "tsv", "--flow", "posting", "--limit", "5000"))
    assert [int(r["id"]) for r in posting] == ids[::4]
    assert {r["kind"] for r in posting} == {"time_entry"}
    dated = tsv(psflow("exceptions", "list", "--format", "tsv", "--date", "2026-11-22", "--limit", "5000"))
    assert [int(r["id"]) for r in dated] == ids[2::7]
    owned = tsv(psflow("exceptions", "list", "--format", "tsv", "--owner", "bo"))
    assert [int(r["id"]) for r in owned] == ids[::500]
    escalated = tsv(psflow("exceptions", "list", "--format", "tsv", "--escalated", "--limit", "5000"))
    assert len(escalated) == 300 and {r["level"] for r in escalated} == {"1"}
    both = tsv(psflow("exceptions", "list", "--format", "tsv", "--flow", "invoicing", "--date", "2026-11-20"))
    assert [int(r["id"]) for r in both] == [i for n, i in enumerate(ids) if n % 4 == 2 and n % 7 == 0][:200]


def test_open_exceptions_by_age_and_time_to_resolve_are_figures_at_a_pinned_instant(store: Store) -> None:
    ages = {"a": timedelta(hours=2), "b": timedelta(days=2, hours=1), "c": timedelta(days=5), "d": timedelta(days=10)}
    ages |= {"e": timedelta(days=45), "f": timedelta(days=1)}
    for key, age in ages.items():
        kind = "expense" if key == "f" else "time_entry"
        exc.record(store, [occurrence(key, kind=kind)], run_id="run-1", now=NOW - age)
    [late] = exc.record(store, [occurrence("later")], run_id="run-1", now=NOW + timedelta(hours=1))
    provisioning = exc.record(
        store,
        [occurrence(f"hubspot:{n}", flow="provisioning", kind="engagement") for n in range(4)],
        run_id="prov-1",
        now=NOW - timedelta(days=6),
    )
    # Resolved after NOW: still open at NOW.  Resolved before: not.
    exc.act(store, provisioning[0], "resolve", actor="ana", now=NOW + timedelta(hours=3))
    for ident, hours in zip(provisioning[1:], (10, 30, 100), strict=True):
        exc.act(store, ident, "resolve", actor="ana", now=NOW - timedelta(days=6) + timedelta(hours=hours))
    ignored = exc.find(store, key="c")[0].id
    assert ignored is not None
    exc.act(store, ignored, "ignore", actor="ana", now=NOW - timedelta(days=1))
    exc.escalate_due(store, now=NOW)

    figures = {(group.flow, group.kind): group for group in open_exceptions(store, NOW)}
    assert set(figures) == {("posting", "time_entry"), ("posting", "expense"), ("provisioning", "engagement")}
    posting = figures["posting", "time_entry"]
    assert posting.by_age == (1, 1, 0, 1, 1) and posting.count == 4 and posting.oldest == timedelta(days=45)
    assert figures["posting", "expense"].by_age == (0, 1, 0, 0, 0)  # exactly 1 day old: the 1-3d bucket
    assert figures["provisioning", "engagement"].by_age == (0, 0, 1, 0, 0)
    # Due on the default SLA (2 business days): b, d, e; the provisioning one was resolved (later) before the sweep.
    assert posting.escalated == 3 and figures["provisioning", "engagement"].escalated == 0
    assert exc.get(store, late).escalation_level == 0

    resolving = time_to_resolve(store, date(2026, 11, 1), date(2026, 11, 30))
    assert list(resolving) == ["provisioning"]
    assert (resolving["provisioning"].count, resolving["provisioning"].p50, resolving["provisioning"].p95) == (
        4,
        timedelta(hours=30),
        timedelta(days=6, hours=3),
    )
    assert resolving["provisioning"].max == timedelta(days=6, hours=3)
    assert time_to_resolve(store, date(2026, 12, 1), date(2026, 12, 31)) == {}
    assert duration(figures["posting", "time_entry"].oldest) == "45d 0h"


def test_kpis_prints_open_exceptions_by_age_and_time_to_resolve(store: Store, psflow: Any) -> None:
    exc.record(store, [occurrence("old")], run_id="run-1", now=NOW - timedelta(days=40))
    exc.record(store, [occurrence("new")], run_id="run-1", now=NOW - timedelta(hours=3))
    [done] = exc.record(store, [occurrence("done")], run_id="run-1", now=NOW - timedelta(days=3))
    exc.resolve(
        store,
        flow="posting",
        system="netsuite",
        kind="time_entry",
        business_keys=["done"],
        run_id="run-2",
        now=NOW - timedelta(days=1),
    )
    assert exc.get(store, done).state == "resolved"

    result = psflow("kpis", "--as-of", "2026-11-26T12:00:00+00:00")

    assert result.exit_code == 0, result.output
    text = result.output
    assert "business figures 2026-10-27..2026-11-26" in text
    assert "open exceptions at 2026-11-26 12:00 UTC" in text
    line = next(line for line in text.splitlines() if "time_entry" in line)
    assert [cell.strip() for cell in line.strip("│ ").split("│")] == [
        "posting",
        "time_entry",
        "2",
        "1",
        "0",
        "0",
        "0",
        "1",
        "40d 0h",
        "0",
    ]
    resolved = next(line for line in text.splitlines() if line.startswith("│ posting ") and "2d 0h" in line)
    assert [cell.strip() for cell in resolved.strip("│ ").split("│")] == ["posting", "1", "2d 0h", "2d 0h", "2d 0h"]

    empty = psflow("kpis", "--as-of", "2026-09-01")
    assert empty.exit_code == 0 and "open exceptions at 2026-09-01 00:00 UTC: none" in empty.output, empty.output
    assert "exceptions resolved 2026-08-02..2026-09-01: none" in empty.output
