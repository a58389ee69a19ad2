"""Time entries and expenses: what the nightly posting pulls, page by resumable page.

A page is addressed by its page number (the cursor), so a Temporal activity can heartbeat the
cursor after each page and resume from it after a retry. Pages are ordered by creation, so
entries created while a run pages through land on later pages rather than shifting earlier ones.

Kantata's ``approved`` filter only ever selects approved items (its value is ignored), so
``approved=False`` reads every item and keeps the unapproved ones: such pages can be short or
empty while more pages follow.

A record that breaks a canonical rule (25 hours in a day, an expense of zero) is handed back on its
page's ``unreadable`` list, with its id and the fields at fault, and the rest of the page is read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from canonical import Expense, TimeEntry
from connectors._core import Page, Unreadable
from connectors.kantata._base import KantataBase
from connectors.kantata.mapping import expense_from_raw, kantata_id, time_entry_from_raw
from connectors.kantata.models import (
    Envelope,
    RawExpense,
    RawNamed,
    RawReferenced,
    RawSubmission,
    RawTimeEntry,
    RawUser,
)

_ONLY_BATCH = 200
_YIELD_EVERY = 25
DateRange = tuple[date, date]
Raw = TypeVar("Raw", RawTimeEntry, RawExpense)
Record = TypeVar("Record", TimeEntry, Expense)


@dataclass(frozen=True)
class _Listing:
    """Where one kind of record is listed, and how its dates are filtered."""

    path: str
    key: str
    range_param: str
    include: str


_TIME_ENTRIES = _Listing("/time_entries.json", "time_entries", "date_performed_between", "user,role,recent_submission")
_EXPENSES = _Listing("/expenses.json", "expenses", "date_expensed_between", "user,recent_submission")


def _filters(
    *,
    approved: bool | None,
    range_param: str,
    on: date | None,
    between: DateRange | None,
    workspace_id: str | None,
    updated_after: datetime | None,
) -> dict[str, Any]:
    if on is not None and between is not None:
        raise ValueError("give a single day or a date range, not both")
    # Closed (archived) projects still have time to post.
    params: dict[str, Any] = {"from_archived_workspaces": "true", "order": "created_at:asc"}
    if approved:
        params["approved"] = "true"
    span = (on, on) if on is not None else between
    if span is not None:
        start, end = span
        if end < start:
            raise ValueError(f"the date range ends ({end}) before it starts ({start})")
        params[range_param] = f"{start.isoformat()}:{end.isoformat()}"
    if workspace_id is not None:
        params["workspace_id"] = workspace_id
    if updated_after is not None:
        if updated_after.tzinfo is None:
            raise ValueError(f"updated_after must be timezone-aware, got {updated_after}")
        params["updated_after"] = updated_after.isoformat()
    return params


class TimeExpenseMethods(KantataBase):
    """Time entries and expenses as canonical models, one resumable page at a time."""

    async def time_entries_page(
        self,
        *,
        approved: bool | None,
        performed_on: date | None = None,
        performed_between: DateRange | None = None,
        workspace_id: str | None = None,
        updated_after: datetime | None = None,
        cursor: str | None = None,
        per_page: int | None = None,
    ) -> Page[TimeEntry]:
        """One page of time entries; pass the returned ``next_cursor`` back for the next page.

        Args:
            approved: True for approved entries only, False for unapproved only, None for all.
            performed_on: Only entries performed on this day.
            performed_between: Only entries performed in this inclusive range.
            workspace_id: Only entries on this workspace.
            updated_after: Only entries changed after this instant.
            cursor: The page to read (None: the first).
            per_page: Entries per page (at most 200; default: the settings' page size).

        Returns:
            The entries, and on ``unreadable`` those that break a canonical rule.

        Raises:
            ValueError: Both a day and a range, or a range that ends before it starts.
        """
        params = _filters(
            approved=approved,
            range_param=_TIME_ENTRIES.range_param,
            on=performed_on,
            between=performed_between,
            workspace_id=workspace_id,
            updated_after=updated_after,
        )
        envelope, raws = await self._raw_page(_TIME_ENTRIES, RawTimeEntry, params, approved, cursor, per_page)
        projects = await self._project_ids_of(r.workspace_id for r in raws)
        tasks = await self._task_ids_of(r.story_id for r in raws if r.story_id is not None)
        roles = envelope.side_loaded("roles", RawNamed)
        submissions = envelope.side_loaded("timesheet_submissions", RawSubmission)
        users = envelope.side_loaded("users", RawUser)  # once per page, not once per entry

        def entry(raw: RawTimeEntry) -> TimeEntry:
            return time_entry_from_raw(
                raw,
                consultant_id=self._consultant_id(users, raw.user_id),
                project_id=projects[raw.workspace_id],
                task_id=tasks.get(raw.story_id) if raw.story_id else None,
                role=roles[raw.role_id].name if raw.role_id in roles else None,
                submission=submissions.get(raw.recent_submission_id or ""),
            )

        return await self._mapped(envelope, raws, entry)

    async def expenses_page(
        self,
        *,
        approved: bool | None,
        incurred_on: date | None = None,
        incurred_between: DateRange | None = None,
        workspace_id: str | None = None,
        updated_after: datetime | None = None,
        cursor: str | None = None,
        per_page: int | None = None,
    ) -> Page[Expense]:
        """One page of expenses; arguments and result as for `time_entries_page`."""
        params = _filters(
            approved=approved,
            range_param=_EXPENSES.range_param,
            on=incurred_on,
            between=incurred_between,
            workspace_id=workspace_id,
            updated_after=updated_after,
        )
        envelope, raws = await self._raw_page(_EXPENSES, RawExpense, params, approved, cursor, per_page)
        projects = await self._project_ids_of(r.workspace_id for r in raws)
        submissions = envelope.side_loaded("expense_report_submissions", RawSubmission)
        users = envelope.side_loaded("users", RawUser)

        def expense(raw: RawExpense) -> Expense:
            return expense_from_raw(
                raw,
                consultant_id=self._consultant_id(users, raw.user_id),
                project_id=projects[raw.workspace_id],
                submission=submissions.get(raw.recent_submission_id or ""),
            )

        return await self._mapped(envelope, raws, expense)

    async def _raw_page(
        self,
        listing: _Listing,
        raw_type: type[Raw],
        params: dict[str, Any],
        approved: bool | None,
        cursor: str | None,
        per_page: int | None,
    ) -> tuple[Envelope, list[Raw]]:
        params["include"] = listing.include
        envelope = await self._page(listing.path, params, cursor, per_page or self.settings.page_size)
        raws = [r for r in envelope.primary(listing.key, raw_type) if approved is not False or not r.approved]
        return envelope, raws

    async def _mapped(self, envelope: Envelope, raws: Sequence[Raw], build: Callable[[Raw], Record]) -> Page[Record]:
        """The page's records in canonical form; those that break a canonical rule go on ``unreadable``."""
        records: list[Record] = []
        unreadable: list[Unreadable] = []
        for position, raw in enumerate(raws):
            if position % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a 200-entry page is ~10 ms of mapping: let other requests move
            try:
                records.append(build(raw))
            except ValueError as exc:
                unreadable.append(Unreadable.of(raw.id, kantata_id(raw.id), exc))
        return Page(records, self._next_cursor(envelope), unreadable)

    @staticmethod
    def _consultant_id(users: Mapping[str, RawUser], user_id: str | None) -> str:
        user = users.get(user_id or "")
        return user.email_address.strip().lower() if user is not None else kantata_id(user_id or "unknown-user")

    async def _resolve(
        self, ids: Iterable[str], cache: dict[str, str], path: str, key: str, model: str, extra: dict[str, str]
    ) -> dict[str, str]:
        """Canonical ids of workspaces or stories, read in batches with ``only=`` and cached."""
        wanted = set(ids)
        missing = sorted(wanted - cache.keys(), key=lambda i: (len(i), i))
        for start in range(0, len(missing), _ONLY_BATCH):
            batch = missing[start : start + _ONLY_BATCH]
            params = {"only": ",".join(batch), "include": "external_references", "per_page": _ONLY_BATCH, **extra}
            envelope = await self._get(path, params)
            for record in envelope.primary(key, RawReferenced):
                found = self._referenced(envelope, record.external_reference_ids, model)
                cache[record.id] = found or kantata_id(record.id)
            for id_ in batch:
                cache.setdefault(id_, kantata_id(id_))
        return {id_: cache[id_] for id_ in wanted}

    async def _project_ids_of(self, workspace_ids: Iterable[str]) -> dict[str, str]:
        extra = {"archived": "include"}
        return await self._resolve(workspace_ids, self._project_ids, "/workspaces.json", "workspaces", "Project", extra)

    async def _task_ids_of(self, story_ids: Iterable[str]) -> dict[str, str]:
        return await self._resolve(story_ids, self._task_ids, "/stories.json", "stories", "Task", {})
