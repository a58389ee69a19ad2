"""What reconciliation reads of Kantata (every workspace, every entry with its approval) and an approval taken back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import TypeVar

import httpx
import pytest

from canonical import ApprovalState, ProjectStatus, TimeEntry
from connectors._core import BusinessError, NotFoundError, Page, paginate
from connectors.kantata import KantataConnector, ProjectRow
from connectors.kantata.drift import unapprove_expense, unapprove_time_entry
from sandbox.seed import DemoFirm
from tests.kantata.conftest import TODAY, MakeConnector

T = TypeVar("T")
API = "/kantata/api/v1"


async def every(fetch: Callable[[str | None], Awaitable[Page[T]]]) -> tuple[list[T], int]:
    """Every item of a listing and the number of pages it took."""
    pages = 0

    async def counted(cursor: str | None) -> Page[T]:
        nonlocal pages
        pages += 1
        return await fetch(cursor)

    return [item async for item in paginate(counted)], pages


async def projects(connector: KantataConnector, per_page: int) -> tuple[list[ProjectRow], int]:
    return await every(lambda cursor: connector.projects_page(cursor=cursor, per_page=per_page))


async def test_projects_page_lists_every_workspace_with_its_project_client_and_currency(
    make_connector: MakeConnector, firm: DemoFirm, api: httpx.AsyncClient
) -> None:
    kantata = make_connector()
    closed = firm.projects[1]
    workspace = await kantata.find_project_by_external_id(closed.code)
    assert workspace is not None
    await kantata.close_project(workspace)
    made = await api.post(
        f"{API}/workspaces.json",
        json={"workspace": {"title": "Internal tooling", "creator_role": "maven", "currency": "EUR"}},
    )
    made.raise_for_status()
    made_id = str(made.json()["results"][0]["id"])

    rows, pages = await projects(kantata, per_page=2)
    assert pages == (len(firm.projects) + 2) // 2 and len(rows) == len(firm.projects) + 1
    assert len({row.workspace_id for row in rows}) == len(rows)
    by_project = {row.project_id: row for row in rows}
    for project in firm.projects:
        row = by_project[project.code]
        client = firm.client(project.client_id)
        assert (row.customer_id, row.client_name, row.currency) == (client.id, client.name, project.currency)
        expected = ProjectStatus.CLOSED if project is closed else ProjectStatus.ACTIVE
        assert (row.status, row.archived) == (expected, project is closed)
    hand_made = by_project[None]
    assert (hand_made.workspace_id, hand_made.name, hand_made.currency) == (made_id, "Internal tooling", "EUR")
    assert (hand_made.customer_id, hand_made.client_name, hand_made.status) == (None, None, ProjectStatus.ACTIVE)


async def _day_with_approved_entries(kantata: KantataConnector, firm: DemoFirm) -> tuple[list[TimeEntry], date]:
    """All entries of the latest day (before today) that has approved and other entries."""
    for back in range(1, 30):
        day = TODAY - timedelta(days=back)
        states = {e.approval_state for e in firm.time_entries if e.date_performed == day}
        if "approved" in states and len(states) > 1:
            page = await kantata.time_entries_page(approved=None, performed_on=day, per_page=200)
            assert page.next_cursor is None
            return page.items, day
    raise AssertionError("the demo firm has no day with approved and unapproved entries")


async def test_every_entry_says_whether_it_is_approved_and_an_unapproved_one_reads_back_so(
    kantata: KantataConnector, firm: DemoFirm
) -> None:
    entries, day = await _day_with_approved_entries(kantata, firm)
    expected = Counter(e.approval_state for e in firm.time_entries if e.date_performed == day)
    assert Counter(e.approval.value for e in entries) == expected
    approved = [e for e in entries if e.approval is ApprovalState.APPROVED]
    target = approved[0]
    assert target.approved_at is not None

    submission = await unapprove_time_entry(kantata, target.id)

    after = {e.id: e for e in (await kantata.time_entries_page(approved=None, performed_on=day, per_page=200)).items}
    assert after[target.id].approval is ApprovalState.REJECTED and after[target.id].approved_at is None
    still_approved = await kantata.time_entries_page(approved=True, performed_on=day, per_page=200)
    assert target.id not in {e.id for e in still_approved.items}
    # The rest of that weekly submission goes with it; entries on other submissions keep their state.
    for entry in entries:
        if entry.id != target.id and after[entry.id].approval is not entry.approval:
            assert entry.approval is ApprovalState.APPROVED and after[entry.id].approval is ApprovalState.REJECTED
    with pytest.raises(BusinessError, match="not approved"):
        await unapprove_time_entry(kantata, target.id)
    with pytest.raises(NotFoundError):
        await unapprove_time_entry(kantata, "kantata:999999999")
    assert submission


async def test_the_reject_endpoint_refuses_a_rejected_submission_and_other_resources(
    kantata: KantataConnector, firm: DemoFirm, api: httpx.AsyncClient
) -> None:
    entries, _ = await _day_with_approved_entries(kantata, firm)
    target = next(e for e in entries if e.approval is ApprovalState.APPROVED)
    submission = await unapprove_time_entry(kantata, target.id)
    shown = await api.get(f"{API}/timesheet_submissions/{submission}.json")
    assert shown.json()["timesheet_submissions"][submission]["status"] == "rejected"
    again = await api.put(f"{API}/timesheet_submissions/{submission}/reject.json", json={})
    assert again.status_code == 422
    assert again.json()["errors"][0]["message"].endswith("only a pending or approved one can be rejected")
    assert (await api.put(f"{API}/workspaces/1/reject.json", json={})).status_code == 404
    assert (await api.put(f"{API}/timesheet_submissions/999999/reject", json={})).status_code == 404


async def test_an_unapproved_expense_reads_back_so(kantata: KantataConnector, firm: DemoFirm) -> None:
    start, end = TODAY - timedelta(days=60), TODAY - timedelta(days=1)
    page = await kantata.expenses_page(approved=True, incurred_between=(start, end), per_page=200)
    target = page.items[0]
    await unapprove_expense(kantata, target.id)
    after = await kantata.expenses_page(approved=None, incurred_on=target.date_incurred, per_page=200)
    assert {e.id: e.approval for e in after.items}[target.id] is ApprovalState.REJECTED
    with pytest.raises(BusinessError, match=r"expense \d+ is not approved"):
        await unapprove_expense(kantata, target.id)
