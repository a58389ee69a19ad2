from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandbox._db import SandboxDB
from sandbox.app import discover_systems
from sandbox.seed import ROLES, STAGES, DemoFirm, anchor_date, seed_demo

from .conftest import TEST_TODAY

TODAY = TEST_TODAY
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def firm() -> DemoFirm:
    return DemoFirm.generate(today=TODAY)


def test_generation_is_deterministic(firm: DemoFirm) -> None:
    assert DemoFirm.generate(42, today=TODAY) == firm
    assert DemoFirm.generate(7, today=TODAY) != firm


def test_the_anchor_is_an_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLOW_SANDBOX_TODAY", "2028-02-29")
    assert DemoFirm.generate().today == date(2028, 2, 29)
    assert anchor_date(date(2027, 1, 4)) == date(2027, 1, 4)
    monkeypatch.setenv("PSFLOW_SANDBOX_TODAY", "29/02/2028")
    with pytest.raises(ValueError, match="PSFLOW_SANDBOX_TODAY='29/02/2028' is not a date: use YYYY-MM-DD"):
        DemoFirm.generate()


def _promises(value: Any) -> Any:
    """Everything the firm says except its dates: which records exist, how they relate, their states."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple(
            (field.name, _promises(getattr(value, field.name)))
            for field in dataclasses.fields(value)
            if field.name != "today"
        )
    if isinstance(value, tuple):
        return tuple(_promises(item) for item in value)
    return None if isinstance(value, date) else value


def test_the_firm_promises_the_same_records_on_400_consecutive_anchors() -> None:
    # Month ends, a year end, a leap day and both DST changes fall inside these 400 days. The demo
    # invoices the last month that has ended, so the window must also reach into the month before.
    promised = _promises(DemoFirm.generate(today=TODAY))
    moved, no_last_month = [], []
    for day in (TODAY + timedelta(days=n) for n in range(-200, 200)):
        firm = DemoFirm.generate(today=day)
        if _promises(firm) != promised:
            moved.append(day.isoformat())
        month_start = day.replace(day=1)
        if not any(e.date_performed < month_start and e.approval_state == "approved" for e in firm.time_entries):
            no_last_month.append(day.isoformat())
    assert (moved, no_last_month) == ([], [])


_DATES = re.compile(
    r"\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?"  # ISO dates and timestamps
    r"|\b\d{1,2}/\d{1,2}/\d{4}\b"  # NetSuite's US dates
    r"|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b"  # accounting period names
    r'|"(recent|active)_submission_id":"\d+"'  # which weekly submission holds an entry (see below)
)


def _seeded(today: date) -> dict[tuple[str, str, str], str]:
    db = SandboxDB(":memory:")
    try:
        seed_demo(db, discover_systems(), today=today)
        rows = db._exec("SELECT system, kind, id, body FROM records").all()
    finally:
        db.close()
    # Kantata groups approvals per (user, project, calendar week), so how many submissions hold the
    # same entries depends on where the weekends fall: the entries and their states are the promise.
    return {
        (system, kind, str(id)): _DATES.sub("<date>", body)
        for system, kind, id, body in rows
        if not kind.endswith("_submissions")
    }


@pytest.mark.parametrize(
    "other",
    [date(2027, 12, 31), date(2028, 2, 29), date(2026, 3, 29), date(2026, 10, 25), date(2027, 1, 3), date(2027, 6, 7)],
)
def test_every_system_holds_the_same_records_on_other_anchors(other: date) -> None:
    """Ids, kinds and every field but dates are the same in every emulator, whatever the anchor."""
    here, there = _seeded(TODAY), _seeded(other)
    assert here.keys() == there.keys()
    assert [key for key in here if here[key] != there[key]] == []


def test_ids_the_docs_give_as_examples_exist(firm: DemoFirm) -> None:
    from sandbox.systems.hubspot._seed import company_id, contact_id, deal_id

    known = {
        *(c.id for c in firm.clients),
        *(o.id for o in firm.opportunities),
        *(p.code for p in firm.projects),
        *(c.employee_id for c in firm.consultants),
        *(company_id(c.id) for c in firm.clients if c.currency == "GBP"),
        *(contact_id(c.id) for c in firm.clients if c.currency == "GBP"),
        *(deal_id(o.id) for o in firm.opportunities if o.currency == "GBP"),
    }
    pattern = re.compile(r"\b(C-\d{4}|OPP-\d{4}|PRJ-\d{4}|E-1\d{3}|[569]100000\d{3})\b")
    named = {
        (path.relative_to(REPO).as_posix(), match)
        for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
        for match in pattern.findall(path.read_text())
    }
    assert {(path, ident) for path, ident in named if ident not in known} == set()


def test_sizes(firm: DemoFirm) -> None:
    assert (len(firm.clients), len(firm.consultants), len(firm.opportunities), len(firm.projects)) == (36, 50, 60, 12)
    assert 550 <= len(firm.time_entries) <= 1000
    assert len(firm.expenses) == 120
    assert {card.currency for card in firm.rate_cards} == {"USD", "GBP", "EUR"}
    assert all(tuple(r.role for r in card.rates) == ROLES for card in firm.rate_cards)


def test_master_data_is_believable_and_consistent(firm: DemoFirm) -> None:
    emails = [c.email for c in firm.consultants]
    assert len(set(emails)) == 50
    assert all(e.isascii() and e.endswith("@psflow-demo.example") for e in emails)
    assert [c.employee_id for c in firm.consultants][:2] == ["E-1001", "E-1002"]
    assert {c.grade for c in firm.consultants} == set(ROLES)
    orgs = {o.id for o in firm.supervisory_orgs}
    centres = {c.id for c in firm.cost_centres}
    ids = {c.employee_id for c in firm.consultants}
    for person in firm.consultants:
        assert person.supervisory_org in orgs and person.cost_centre in centres
        assert person.manager_id is None or person.manager_id in ids
        assert 3 <= len(person.skills) <= 5 and person.cost_rate > 0
    assert "CC-ADV-UK" in centres
    assert sum(c.manager_id is None for c in firm.consultants) == 1

    assert [c.id for c in firm.clients][:2] == ["C-0001", "C-0002"]
    assert len({c.name for c in firm.clients}) == 36
    for client in firm.clients:
        assert client.currency in {"USD", "GBP", "EUR"} and client.payment_terms in {"Net 30", "Net 45"}
        assert client.account_owner_id in ids and client.billing_address.country == client.country


def test_opportunities_and_projects_agree(firm: DemoFirm) -> None:
    assert set(Counter(o.stage for o in firm.opportunities)) == set(STAGES)
    for opp in firm.opportunities:
        client = firm.client(opp.client_id)
        card = firm.rate_card(opp.rate_card_id)
        assert opp.currency == client.currency == card.currency
        assert opp.amount == sum(item.amount for item in opp.line_items)
        assert all(item.unit_price == card.rate_for(item.role) for item in opp.line_items)
        assert opp.billing_type in {"time_and_materials", "fixed_fee"}
        assert (opp.close_date < TODAY) == opp.stage.startswith("Closed")
        assert opp.start_date <= opp.end_date
    won = {o.id for o in firm.opportunities if o.stage == "Closed Won"}
    assert {p.opportunity_id for p in firm.projects} == won
    for project in firm.projects:
        opp = firm.opportunity(project.opportunity_id)
        assert (project.client_id, project.budget, project.currency) == (opp.client_id, opp.amount, opp.currency)
        assert [t.name for t in project.tasks] == [item.product for item in opp.line_items]
        assert project.team[0] == project.project_manager_id
        assert project.start_date.weekday() == 0 and project.end_date > TODAY


def test_time_and_expenses_are_recent_and_reference_real_work(firm: DemoFirm) -> None:
    window_start = TODAY - timedelta(days=37)
    for entry in firm.time_entries:
        project = firm.project(entry.project_code)
        person = firm.consultant(entry.consultant_id)
        assert entry.consultant_id in project.team
        assert entry.task_code in {t.code for t in project.tasks}
        assert window_start <= entry.date_performed < TODAY and entry.date_performed.weekday() < 5
        assert entry.date_performed not in {t.day for t in person.time_off}
        assert Decimal("0.5") <= entry.hours <= Decimal("10") and entry.hours % Decimal("0.5") == 0
        assert entry.bill_rate == firm.rate_card(project.currency).rate_for(entry.role)
    states = Counter(e.approval_state for e in firm.time_entries)
    assert set(states) == {"approved", "submitted", "rejected"}
    assert states["approved"] > 0.7 * len(firm.time_entries)
    assert len({e.id for e in firm.time_entries}) == len(firm.time_entries)

    for expense in firm.expenses:
        project = firm.project(expense.project_code)
        assert expense.consultant_id in project.team and expense.currency == project.currency
        assert window_start <= expense.date_incurred < TODAY and expense.amount > 0


def test_lookups(firm: DemoFirm) -> None:
    person = firm.consultants[3]
    assert firm.consultant(person.email) is firm.consultant(person.employee_id) is person
    assert firm.rate_card("GBP").id == "RC-GBP"
    with pytest.raises(KeyError, match="no project 'PRJ-9999'"):
        firm.project("PRJ-9999")
