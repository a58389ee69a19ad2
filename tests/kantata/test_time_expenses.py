"""Time entries and expenses for posting: filters, paging, resuming from a cursor, approval, unreadable records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

import httpx
import pytest
from fastapi import FastAPI

from canonical import ApprovalState, Expense, Money, TimeEntry
from connectors._core import FieldProblem, Page, paginate
from connectors.kantata import KantataConnector
from sandbox.seed import DemoFirm
from sandbox.seed import TimeEntry as TimeEntryRow
from tests.kantata.conftest import TODAY, MakeConnector

Admin = Callable[..., Awaitable[httpx.Response]]
T = TypeVar("T")
STATES = {"approved": ApprovalState.APPROVED, "submitted": ApprovalState.SUBMITTED, "rejected": ApprovalState.REJECTED}


async def every(listing: Callable[[str | None], Awaitable[Page[T]]]) -> list[T]:
    """Every item of every page of a listing."""
    return [item async for item in paginate(listing)]


def entries(connector: KantataConnector, **filters: object) -> Awaitable[list[TimeEntry]]:
    return every(lambda cursor: connector.time_entries_page(cursor=cursor, **filters))  # type: ignore[arg-type]


def expenses(connector: KantataConnector, **filters: object) -> Awaitable[list[Expense]]:
    return every(lambda cursor: connector.expenses_page(cursor=cursor, **filters))  # type: ignore[arg-type]


def week(firm: DemoFirm) -> tuple[date, date]:
    """The last fortnight of the demo firm's time."""
    end = TODAY - timedelta(days=1)
    return end - timedelta(days=13), end


def expected_entries(firm: DemoFirm, start: date, end: date, state: str | None = "approved") -> list[TimeEntryRow]:
    return [
        e
        for e in firm.time_entries
        if start <= e.date_performed <= end and (state is None or e.approval_state == state)
    ]


async def test_approved_entries_in_a_range_span_several_pages(
    make_connector: MakeConnector, shared_app: FastAPI, firm: DemoFirm
) -> None:
    start, end = week(firm)
    expected = expected_entries(firm, start, end)
    per_page = len(expected) // 3
    connector = make_connector(shared_app, page_size=per_page)
    cursors: list[str | None] = []
    entries: list[TimeEntry] = []
    cursor: str | None = None
    while True:
        page = await connector.time_entries_page(approved=True, performed_between=(start, end), cursor=cursor)
        entries += page.items
        cursors.append(page.next_cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(cursors) >= 3
    assert len(entries) == len(expected) == len({e.id for e in entries})
    assert all(e.approval is ApprovalState.APPROVED and e.approved_at is not None for e in entries)
    assert all(start <= e.date_performed <= end for e in entries)
    assert await every_entry(connector, start, end) == entries


async def test_entries_carry_the_firms_values(reader: KantataConnector, firm: DemoFirm) -> None:
    day = max(e.date_performed for e in firm.time_entries)
    by_key: dict[tuple[object, ...], TimeEntryRow] = {
        (e.consultant_id, e.project_code, e.task_code, e.hours, e.notes): e for e in firm.time_entries
    }
    emails = {c.email: c.employee_id for c in firm.consultants}
    found = await entries(reader, approved=None, performed_on=day)
    assert len(found) == len(expected_entries(firm, day, day, None))
    for entry in found:
        source = by_key[(emails[entry.consultant_id], entry.project_id, entry.task_id, entry.hours, entry.notes)]
        assert entry.approval is STATES[source.approval_state]
        assert entry.bill_rate == Money.of(source.bill_rate, source.currency) and entry.role == source.role
        assert entry.billable is source.billable and entry.id.startswith("kantata:")


async def test_resume_from_a_heartbeated_cursor(
    make_connector: MakeConnector, shared_app: FastAPI, firm: DemoFirm
) -> None:
    start, end = week(firm)
    first = make_connector(shared_app, page_size=10)
    page_one = await first.time_entries_page(approved=True, performed_between=(start, end), cursor=None)
    page_two = await first.time_entries_page(approved=True, performed_between=(start, end), cursor=page_one.next_cursor)
    await first.aclose()
    # A new worker, with a new connector, picks up from the cursor the activity heartbeated.
    resumed = make_connector(shared_app, page_size=10)
    rest = [e async for e in _from(resumed, start, end, page_two.next_cursor)]
    assert page_one.items + page_two.items + rest == await every_entry(resumed, start, end)


async def every_entry(connector: KantataConnector, start: date, end: date) -> list[TimeEntry]:
    return await entries(connector, approved=True, performed_between=(start, end))


async def _from(connector: KantataConnector, start: date, end: date, cursor: str | None) -> AsyncIterator[TimeEntry]:
    while cursor is not None:
        page = await connector.time_entries_page(approved=True, performed_between=(start, end), cursor=cursor)
        for entry in page.items:
            yield entry
        cursor = page.next_cursor


async def test_unapproved_entries_are_filtered_on_the_client(
    make_connector: MakeConnector, shared_app: FastAPI, firm: DemoFirm
) -> None:
    connector = make_connector(shared_app, page_size=50)
    unapproved = await entries(connector, approved=False)
    assert len(unapproved) == sum(1 for e in firm.time_entries if e.approval_state != "approved")
    assert {e.approval for e in unapproved} == {ApprovalState.SUBMITTED, ApprovalState.REJECTED}


async def test_approving_a_day_makes_it_postable(kantata: KantataConnector, admin: Admin) -> None:
    await admin("POST", "/_admin/kantata/time_entries", json={"date": TODAY.isoformat(), "hours": 6.25})
    assert await entries(kantata, approved=True, performed_on=TODAY) == []
    submitted = await entries(kantata, approved=None, performed_on=TODAY)
    assert submitted and {e.approval for e in submitted} == {ApprovalState.SUBMITTED}
    await admin("POST", "/_admin/kantata/time_entries/approve", json={"date": TODAY.isoformat()})
    approved = await entries(kantata, approved=True, performed_on=TODAY)
    assert {e.id for e in approved} == {e.id for e in submitted}
    assert all(e.hours == Decimal("6.25") and e.approved_at is not None for e in approved)


async def test_expenses_page_through_and_resume(
    make_connector: MakeConnector, shared_app: FastAPI, firm: DemoFirm
) -> None:
    connector = make_connector(shared_app, page_size=25)
    everything = await expenses(connector, approved=None)
    assert len(everything) == len(firm.expenses)
    approved = await expenses(connector, approved=True)
    assert len(approved) == sum(1 for e in firm.expenses if e.approved)
    assert all(e.approved_at is not None and e.amount.amount > 0 for e in approved)
    page = await connector.expenses_page(approved=None, cursor="2")
    assert page.items == everything[25:50] and page.next_cursor == "3"
    day = firm.expenses[0].date_incurred
    on_day = await expenses(connector, approved=None, incurred_on=day)
    assert len(on_day) == sum(1 for e in firm.expenses if e.date_incurred == day)


async def test_bad_filters_are_refused_before_any_request(reader: KantataConnector) -> None:
    with pytest.raises(ValueError, match="not both"):
        await reader.time_entries_page(approved=True, performed_on=TODAY, performed_between=(TODAY, TODAY))
    with pytest.raises(ValueError, match="ends"):
        await reader.expenses_page(approved=True, incurred_between=(TODAY, TODAY - timedelta(days=1)))


async def test_records_that_break_a_canonical_rule_come_back_as_unreadable_and_the_page_goes_on(
    kantata: KantataConnector, api: httpx.AsyncClient
) -> None:
    workspace = next(iter((await api.get("/kantata/api/v1/workspaces.json")).json()["workspaces"]))
    participations = await api.get("/kantata/api/v1/participations.json", params={"workspace_id": workspace})
    user = str(next(iter(participations.json()["participations"].values()))["user_id"])

    async def create(kind: str, one: str, **fields: object) -> str:
        body = {"workspace_id": workspace, "user_id": user, "billable": True, **fields}
        response = await api.post(f"/kantata/api/v1/{kind}.json", json={one: body})
        response.raise_for_status()
        return str(response.json()["results"][0]["id"])

    day = TODAY.isoformat()
    fine = await create("time_entries", "time_entry", date_performed=day, time_in_minutes=90, rate_in_cents=15000)
    too_long = await create(
        "time_entries", "time_entry", date_performed=day, time_in_minutes=25 * 60, rate_in_cents=15000
    )
    nothing = await create("expenses", "expense", date=day, amount_in_cents=0, category="Meals")

    time = await kantata.time_entries_page(approved=None, performed_on=TODAY)
    assert [e.id for e in time.items] == [f"kantata:{fine}"]
    [bad] = time.unreadable
    assert (bad.raw_id, bad.record_id) == (too_long, f"kantata:{too_long}")
    assert bad.problems == (
        FieldProblem("minutes", "must be more than 0:00 and at most 24:00 hours, got 25:00 (1500 minutes)", "1500"),
    )
    spent = await kantata.expenses_page(approved=None, incurred_on=TODAY)
    assert spent.items == [] and [u.record_id for u in spent.unreadable] == [f"kantata:{nothing}"]
    assert [(p.field, p.value) for p in spent.unreadable[0].problems] == [("amount", "0.00 USD")]
