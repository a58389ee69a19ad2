"""The one exceptions model: record, count again, reopen, auto-resolve, people's actions, paging, escalation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from canonical.calendar import add_business_days
from store import Store
from store import exceptions as exc
from store._sla import Sla, SlaPolicy
from tests.test_store import migrate

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def occurrence(
    key: str = "kantata:1", *, flow: str = "posting", kind: str = "time_entry", **changes: object
) -> exc.Occurrence:
    values: dict[str, object] = {
        "flow": flow,
        "system": "netsuite",
        "kind": kind,
        "business_key": key,
        "reason": "unknown_project",
        "message": "project PRJ-9 is not in NetSuite",
        "values": {"project_id": "PRJ-9"},
        "records": [{"system": "kantata", "type": kind, "id": key}],
        "business_date": date(2026, 11, 20),
    }
    values.update(changes)
    return exc.Occurrence(**values)  # type: ignore[arg-type]


def test_the_same_failure_again_is_one_exception_counted_twice(store: Store) -> None:
    [first] = exc.record(store, [occurrence()], run_id="run-1", now=MONDAY_9)
    [again] = exc.record(store, [occurrence(reason="missing_rate")], run_id="run-2", now=MONDAY_9 + timedelta(hours=1))
    row = exc.get(store, first)
    assert again == first
    assert (row.occurrences, row.reason, row.last_run_id, row.state) == (2, "missing_rate", "run-2", "open")
    assert row.first_seen == MONDAY_9 and row.last_seen == MONDAY_9 + timedelta(hours=1)
    assert [event.action for event in exc.history(store, first)] == ["opened", "seen"]


def test_a_later_success_resolves_it_and_names_the_run_and_a_new_failure_reopens_it(store: Store) -> None:
    [ident] = exc.record(store, [occurrence()], run_id="run-1", now=MONDAY_9)
    assert (
        exc.resolve(
            store,
            flow="posting",
            system="netsuite",
            kind="time_entry",
            business_keys=["kantata:1"],
            run_id="run-2",
            now=MONDAY_9 + timedelta(days=1),
        )
        == 1
    )
    row = exc.get(store, ident)
    assert (row.state, row.resolved_by, row.next_escalation_at) == ("resolved", "run-2", None)
    exc.record(store, [occurrence()], run_id="run-3", now=MONDAY_9 + timedelta(days=3))
    row = exc.get(store, ident)
    assert (row.state, row.resolved_by, row.occurrences) == ("open", None, 2)
    assert [event.action for event in exc.history(store, ident)] == ["opened", "auto_resolved", "reopened"]


def test_an_ignored_exception_stays_ignored_when_it_fails_again(store: Store) -> None:
    [ident] = exc.record(store, [occurrence()], run_id="run-1")
    exc.act(store, ident, "ignore", actor="ana", note="written off")
    exc.record(store, [occurrence()], run_id="run-2")
    row = exc.get(store, ident)
    assert (row.state, row.occurrences, row.note) == ("ignored", 2, "written off")


def test_resolve_absent_closes_only_what_a_complete_run_no_longer_found(store: Store) -> None:
    ids = exc.record(
        store,
        [
            occurrence(f"2026-11:{n}", flow="reconciliation", kind="hours_mismatch", business_date=date(2026, 11, 1))
            for n in range(3)
        ],
        run_id="recon-1",
    )
    closed = exc.resolve_absent(
        store,
        flow="reconciliation",
        system="netsuite",
        kinds=["hours_mismatch"],
        business_date=date(2026, 11, 1),
        seen_keys={"2026-11:1"},
        run_id="recon-2",
    )
    assert closed == 2
    assert [exc.get(store, ident).state for ident in ids] == ["resolved", "open", "resolved"]


def test_people_act_in_order_and_an_illegal_step_changes_nothing(store: Store) -> None:
    [ident] = exc.record(store, [occurrence()], run_id="run-1")
    exc.act(store, ident, "acknowledge", actor="ana")
    exc.act(store, ident, "assign", actor="ana", owner="bo")
    assert exc.get(store, ident).owner == "bo"
    exc.act(store, ident, "resolve", actor="bo", note="fixed the project code")
    with pytest.raises(ValueError, match="is resolved: it cannot be ignored"):
        exc.act(store, ident, "ignore", actor="bo")
    with pytest.raises(LookupError, match="no exception 999"):
        exc.act(store, 999, "resolve", actor="bo")
    row = exc.get(store, ident)
    assert (row.state, row.resolved_by) == ("resolved", "bo")
    steps = [(event.actor, event.action) for event in exc.history(store, ident)]
    assert steps == [("run-1", "opened"), ("ana", "acknowledged"), ("ana", "assigned"), ("bo", "resolved")]


def test_find_filters_and_pages_by_id(store: Store) -> None:
    exc.record(store, [occurrence(f"kantata:{n}") for n in range(5)], run_id="run-1")
    exc.record(store, [occurrence("acme:006", flow="provisioning", kind="engagement")], run_id="run-1")
    first = exc.find(store, flow="posting", limit=3)
    rest = exc.find(store, flow="posting", after_id=first[-1].id, limit=3)
    assert [row.business_key for row in first + rest] == [f"kantata:{n}" for n in range(5)]
    assert [row.flow for row in exc.find(store, kind="engagement")] == ["provisioning"]
    assert exc.find(store, escalated=True) == []


def test_escalation_follows_business_days_in_the_firms_zone(tmp_path: object) -> None:
    store = Store(
        f"sqlite:///{tmp_path}/x.db", exception_policy=SlaPolicy("Europe/London", by_kind={"posting": Sla(1, 3)})
    )
    store.upgrade()
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("Europe/London"))
    [ident] = exc.record(store, [occurrence()], run_id="run-1", now=friday_4pm)
    monday_4pm = datetime(2026, 11, 30, 16, 0, tzinfo=ZoneInfo("Europe/London"))
    assert exc.get(store, ident).next_escalation_at == monday_4pm
    assert exc.escalate_due(store, now=monday_4pm - timedelta(seconds=1)) == []
    [first] = exc.escalate_due(store, now=monday_4pm)
    assert (first.id, first.level, first.due_at) == (ident, 1, monday_4pm)
    assert exc.escalate_due(store, now=monday_4pm) == []  # nothing twice
    wednesday_4pm = monday_4pm + timedelta(days=2)
    assert exc.get(store, ident).next_escalation_at == wednesday_4pm
    [second] = exc.escalate_due(store, now=wednesday_4pm)
    assert second.level == 2 and exc.get(store, ident).next_escalation_at is None
    assert [row.id for row in exc.find(store, escalated=True)] == [ident]
    store.engine.dispose()


def test_business_days_skip_the_weekend_and_keep_the_wall_clock_across_a_clock_change() -> None:
    london = "Europe/London"
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    assert add_business_days(saturday, 1, london) == datetime(2026, 12, 1, 0, 0, tzinfo=ZoneInfo(london))
    friday_before_clocks_go_back = datetime(2026, 10, 23, 9, 0, tzinfo=ZoneInfo(london))
    assert add_business_days(friday_before_clocks_go_back, 1, london) == datetime(
        2026, 10, 26, 9, 0, tzinfo=ZoneInfo(london)
    )
    with pytest.raises(ValueError, match="not be negative"):
        add_business_days(saturday, -1, london)


def test_the_migration_copies_posting_exceptions_into_the_one_model(store: Store) -> None:
    migrate(store, "0004", down=True)
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO posting_exception (kind, source_system, source_id, target_system, business_date, reason, "
                "message, \"values\", status, first_seen, last_seen, attempts, last_run_id) VALUES ('time_entry', "
                "'kantata', 'kantata:7', 'netsuite', '2026-11-20', 'missing_rate', 'no rate', "
                '\'{"role": "Partner"}\', '
                "'open', '2026-11-23 09:00:00', '2026-11-24 09:00:00', 2, 'run-2')"
            )
        )
    migrate(store, "head")
    [row] = exc.find(store, flow="posting")
    assert (row.business_key, row.system, row.reason, row.occurrences, row.values) == (
        "kantata:7",
        "netsuite",
        "missing_rate",
        2,
        {"role": "Partner"},
    )
    assert row.records == [{"system": "kantata", "type": "time_entry", "id": "kantata:7"}]
    assert row.next_escalation_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_the_same_run_meeting_it_again_counts_it_once(store: Store) -> None:
    [ident] = exc.record(store, [occurrence()], run_id="run-1", now=MONDAY_9)
    exc.record(store, [occurrence(message="again")], run_id="run-1", now=MONDAY_9 + timedelta(minutes=1))
    row = exc.get(store, ident)
    assert (row.occurrences, row.message) == (1, "again")
    assert [event.action for event in exc.history(store, ident)] == ["opened"]


def test_going_back_before_the_move_puts_posting_exceptions_back_in_their_table(store: Store) -> None:
    exc.record(store, [occurrence("kantata:8")], run_id="run-1", now=MONDAY_9)
    exc.record(store, [occurrence("acme:006", flow="provisioning", kind="engagement")], run_id="run-1", now=MONDAY_9)
    migrate(store, "0006", down=True)
    with store.engine.begin() as connection:
        rows = connection.execute(text("SELECT source_id, status, attempts FROM posting_exception")).all()
    assert [tuple(row) for row in rows] == [("kantata:8", "open", 1)]
    assert [row.flow for row in exc.find(store)] == ["provisioning"]
    migrate(store, "head")
    assert sorted(row.business_key for row in exc.find(store)) == ["acme:006", "kantata:8"]
