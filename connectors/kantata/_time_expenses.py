"""Time entries and expenses: what the nightly posting pulls, page by resumable page.

A page is addressed by its page number (the cursor), so a Temporal activity can heartbeat the
cursor after each page and resume from it after a retry. Pages are ordered by creation, so
entries created while a run pages through land on later pages rather than shifting earlier ones.

Kantata's ``approved`` filter only ever selects approved items (its value is ignored), so
``approved=False`` reads every item and keeps the unapproved ones: such pages can be short or
empty while more pages follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from canonical import Expense, TimeEntry
from connectors._core import Page, PermanentError, paginate
from connectors.kantata._base import SYSTEM, KantataBase
from connectors.kantata.mapping import expense_from_raw, kantata_id, time_entry_from_raw
from connectors.kantata.models import (
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
    """Time entries and expenses as canonical models."""

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

        Raises:
            ValueError: Both a day and a range, or a range that ends before it starts.
            PermanentError: An entry cannot be read as a canonical time entry.
        """
        params = _filters(
            approved=approved,
            range_param="date_performed_between",
            on=performed_on,
            between=performed_between,
            workspace_id=workspace_id,
            updated_after=updated_after,
        )
        params["include"] = "user,role,recent_submission"
        envelope = await self._page("/time_entries.json", params, cursor, per_page or self.settings.page_size)
        raws = [r for r in envelope.primary("time_entries", RawTimeEntry) if approved is not False or not r.approved]
        projects = await self._project_ids_of(r.workspace_id for r in raws)
        tasks = await self._task_ids_of(r.story_id for r in raws if r.story_id is not None)
        roles = envelope.side_loaded("roles", RawNamed)
        submissions = envelope.side_loaded("timesheet_submissions", RawSubmission)
        users = envelope.side_loaded("users", RawUser)  # once per page, not once per entry
        entries: list[TimeEntry] = []
        for position, raw in enumerate(raws):
            if position % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)  # a 200-entry page is ~10 ms of mapping: let other requests move
            try:
                entries.append(
                    time_entry_from_raw(
                        raw,
                        consultant_id=self._consultant_id(users, raw.user_id),
                        project_id=projects[raw.workspace_id],
                        task_id=tasks.get(raw.story_id) if raw.story_id else None,
                        role=roles[raw.role_id].name if raw.role_id in roles else None,
                        submission=submissions.get(raw.recent_submission_id or ""),
                    )
                )
            except ValueError as exc:
                raise PermanentError(SYSTEM, f"time entry {raw.id} cannot be read: {exc}", code="unmappable") from exc
        return Page(entries, self._next_cursor(envelope))

    async def list_time_entries(
        self,
        *,
        approved: bool | None,
        performed_on: date | None = None,
        performed_between: DateRange | None = None,
        workspace_id: str | None = None,
        updated_after: datetime | None = None,
    ) -> AsyncIterator[TimeEntry]:
        """Every matching time entry, all pages; arguments as for `time_entries_page`."""

        async def fetch(cursor: str | None) -> Page[TimeEntry]:
            return await self.time_entries_page(
                approved=approved,
                performed_on=performed_on,
                performed_between=performed_between,
                workspace_id=workspace_id,
                updated_after=updated_after,
                cursor=cursor,
            )

        async for entry in paginate(fetch):
            yield entry

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
        """One page of expenses; arguments as for `time_entries_page` (dates are ``date``)."""
        params = _filters(
            approved=approved,
            range_param="date_expensed_between",
            on=incurred_on,
            between=incurred_between,
            workspace_id=workspace_id,
            updated_after=updated_after,
        )
        params["include"] = "user,recent_submission"
        envelope = await self._page("/expenses.json", params, cursor, per_page or self.settings.page_size)
        raws = [r for r in envelope.primary("expenses", RawExpense) if approved is not False or not r.approved]
        projects = await self._project_ids_of(r.workspace_id for r in raws)
        submissions = envelope.side_loaded("expense_report_submissions", RawSubmission)
        users = envelope.side_loaded("users", RawUser)
        expenses: list[Expense] = []
        for position, raw in enumerate(raws):
            if position % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
            try:
                expenses.append(
                    expense_from_raw(
                        raw,
                        consultant_id=self._consultant_id(users, raw.user_id),
                        project_id=projects[raw.workspace_id],
                        submission=submissions.get(raw.recent_submission_id or ""),
                    )
                )
            except ValueError as exc:
                raise PermanentError(SYSTEM, f"expense {raw.id} cannot be read: {exc}", code="unmappable") from exc
        return Page(expenses, self._next_cursor(envelope))

    async def list_expenses(
        self,
        *,
        approved: bool | None,
        incurred_on: date | None = None,
        incurred_between: DateRange | None = None,
        workspace_id: str | None = None,
        updated_after: datetime | None = None,
    ) -> AsyncIterator[Expense]:
        """Every matching expense, all pages; arguments as for `expenses_page`."""

        async def fetch(cursor: str | None) -> Page[Expense]:
            return await self.expenses_page(
                approved=approved,
                incurred_on=incurred_on,
                incurred_between=incurred_between,
                workspace_id=workspace_id,
                updated_after=updated_after,
                cursor=cursor,
            )

        async for expense in paginate(fetch):
            yield expense

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
