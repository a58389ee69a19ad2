"""Retroactive rate changes: time already posted at a rate an amendment has since changed (``erp`` task queue).

Posting prices each entry at the rate in force on its date when it posts (`rules.rate_in_force`),
so an amendment dated after the entries it covers changes nothing already posted. One dated back
over posted time must not change it silently either (research apis-round2 §7.1: never reprice
history implicitly). `RepriceActivities.reprice_posted` compares each posted time entry of the
project dated on or after the amendment's date with what it bills at the rate now in force, and,
per the ``PSFLOW_RETRO_RATE_CHANGES`` setting:

- ``adjust`` (the default) posts the difference as a NetSuite charge of its own (external id
  ``{entry id}:rate:{amendment id}``, linked to the entry's time bill; `ChargeMethods.write_charge`
  says why a charge and not a second time bill) and records it in the ledger as a
  ``rate_adjustment`` row, which the project's next invoice bills. The external id and the ledger
  row make it exactly once: a retry, or a second call for the same amendment, posts nothing again.
- ``exception`` opens a posting exception (kind ``rate_change``, reason ``rate_changed``, the
  amendment and the amounts in its values) per affected entry, for a person to decide. Repricing
  again with ``adjust`` posts the differences and resolves those exceptions.

The difference is taken against everything already posted for the entry (its time bill and any
earlier adjustments), so a second amendment adjusts by what it changes, never twice.
"""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import INVALID_DATA, classified
from activities.posting.rules import rate_in_force
from canonical import CanonicalModel, Money, TimeEntry, bill_for_minutes, format_minutes
from connectors._core import paginate
from connectors.kantata import KantataConnector
from connectors.netsuite import NetSuiteConnector
from store import LedgerEntry, Store
from store.posting import Posting, Problem, posted_since, record_exceptions, record_postings, resolve_exceptions

RetroRateChanges = Literal["adjust", "exception"]
ADJUSTMENT = "rate_adjustment"
"""The ledger kind of a posted rate difference."""
RATE_CHANGE = "rate_change"
"""The exception kind of a posted entry whose rate an amendment changed."""
_SOURCE, _TARGET = "kantata", "netsuite"


class RepriceRequest(CanonicalModel):
    """Which posted time to compare with the rates now in force: a project's, dated ``since`` or later."""

    project_id: str = Field(min_length=1)
    since: date
    amendment_id: str = Field(min_length=1, description="The amendment whose rate change this follows")


class RepriceResult(CanonicalModel):
    """What a repricing found and did.

    Attributes:
        checked: Posted time entries dated on or after ``since``.
        affected: Those whose posted amount differed from what they bill at the rate now in force.
        adjusted: Adjustments this call posted.
        already_adjusted: Entries this amendment had adjusted already (an earlier call or attempt).
        exceptions: Exceptions this call opened or updated.
        difference: The sum of the affected entries' differences (in force minus posted).
    """

    project_id: str
    amendment_id: str
    mode: RetroRateChanges
    checked: int = 0
    affected: int = 0
    adjusted: int = 0
    already_adjusted: int = 0
    exceptions: int = 0
    difference: Decimal = Decimal(0)
    currency: str | None = None


def adjustment_id(entry_id: str, amendment_id: str) -> str:
    """The ERP external id (and ledger source id) of an amendment's adjustment to one entry."""
    return f"{entry_id}:rate:{amendment_id}"


class RepriceActivities:
    """`reprice_posted`, mixed into `PostingActivities`."""

    def _init_reprice(
        self, kantata: KantataConnector, netsuite: NetSuiteConnector, store: Store, mode: RetroRateChanges
    ) -> None:
        self._reprice_psa, self._reprice_erp, self._reprice_store, self._retro_mode = kantata, netsuite, store, mode

    @activity.defn(name="erp.reprice_posted")
    @classified
    async def reprice_posted(self, request: RepriceRequest) -> RepriceResult:
        """Adjust, or open an exception for, each posted time entry an amendment re-rated (see the module note)."""
        result = RepriceResult(project_id=request.project_id, amendment_id=request.amendment_id, mode=self._retro_mode)
        rows = await asyncio.to_thread(
            posted_since,
            self._reprice_store,
            target_system=_TARGET,
            project_id=request.project_id,
            since=request.since,
            kinds=("time_entry", ADJUSTMENT),
        )
        time_rows = [row for row in rows if row.kind == "time_entry"]
        schedule = await self._reprice_psa.project_rate_schedule(request.project_id)
        if not time_rows or schedule is None:
            return result.model_copy(update={"checked": len(time_rows)})
        entries = await self._entries(request, max(row.business_date for row in time_rows))
        adjusted: dict[str, Decimal] = {}
        for row in rows:
            if row.kind == ADJUSTMENT:
                entry_id = row.source_id.split(":rate:", 1)[0]
                adjusted[entry_id] = adjusted.get(entry_id, Decimal(0)) + row.amount
        done = {row.source_id for row in rows if row.kind == ADJUSTMENT}
        counts = {"checked": len(time_rows), "affected": 0, "adjusted": 0, "already_adjusted": 0, "exceptions": 0}
        difference = Decimal(0)
        problems: list[Problem] = []
        settled: list[str] = []
        job_id: str | None = None
        for row in sorted(time_rows, key=lambda r: (r.business_date, r.source_id)):
            entry = entries.get(row.source_id)
            rate = rate_in_force(entry, schedule) if entry is not None else None
            if entry is None or rate is None:
                continue
            if adjustment_id(row.source_id, request.amendment_id) in done:
                counts["already_adjusted"] += 1
                settled.append(row.source_id)
                continue
            # The ledger keeps 4 places; amounts are in the currency's minor units.
            so_far = Money(amount=row.amount + adjusted.get(row.source_id, Decimal(0)), currency=row.currency)
            posted = so_far.rounded().amount
            due = bill_for_minutes(rate, entry.minutes).amount
            if due == posted:
                continue
            counts["affected"] += 1
            difference += due - posted
            if self._retro_mode == "exception":
                problems.append(_problem(request, row, entry, rate, posted, due))
                continue
            if job_id is None:
                job_id = await self._job_id(request.project_id)
            await self._adjust(request, row, entry, rate, Money(amount=due - posted, currency=row.currency), job_id)
            counts["adjusted"] += 1
            settled.append(row.source_id)
        if settled:
            # Entries a person was asked about earlier (the setting was `exception` then) are decided now.
            await asyncio.to_thread(
                resolve_exceptions,
                self._reprice_store,
                target_system=_TARGET,
                kind=RATE_CHANGE,
                source_ids=settled,
                run_id=f"reprice:{request.amendment_id}",
            )
        if problems:
            await asyncio.to_thread(
                record_exceptions,
                self._reprice_store,
                problems,
                source_system=_SOURCE,
                target_system=_TARGET,
                run_id=f"reprice:{request.amendment_id}",
            )
            counts["exceptions"] = len(problems)
        return result.model_copy(update={**counts, "difference": difference, "currency": schedule.currency})

    async def _entries(self, request: RepriceRequest, until: date) -> dict[str, TimeEntry]:
        """The project's time entries in the PSA dated from ``since`` to ``until``, by id."""
        workspace_id = await self._reprice_psa.workspace_of(request.project_id)
        if workspace_id is None:
            return {}
        psa = self._reprice_psa
        pages = paginate(
            lambda cursor: psa.time_entries_page(
                approved=None, performed_between=(request.since, until), workspace_id=workspace_id, cursor=cursor
            )
        )
        return {entry.id: entry async for entry in pages}

    async def _job_id(self, project_id: str) -> str:
        job = await self._reprice_erp.find_job(project_id)
        if job is None:
            raise ApplicationError(
                f"project {project_id!r} has posted time but NetSuite has no job with that external id: "
                "restore the job, then run the repricing again",
                type=INVALID_DATA,
                non_retryable=True,
            )
        return job.internal_id

    async def _adjust(
        self, request: RepriceRequest, row: LedgerEntry, entry: TimeEntry, rate: Money, amount: Money, job_id: str
    ) -> None:
        """Post one entry's difference as a charge, then record it in the ledger (each exactly once)."""
        external_id = adjustment_id(row.source_id, request.amendment_id)
        description = (
            f"Rate adjustment, {entry.date_performed:%Y-%m-%d}: {format_minutes(entry.minutes)} h now at "
            f"{rate.amount} {rate.currency}/h (amendment {request.amendment_id}, entry {row.source_id})"
        )
        charge_id = await self._reprice_erp.write_charge(
            external_id,
            job_internal_id=job_id,
            day=entry.date_performed,
            amount=amount,
            description=description,
            time_bill_internal_id=row.target_id,
        )
        posting = Posting(
            kind=ADJUSTMENT,
            source_system=_SOURCE,
            source_id=external_id,
            target_system=_TARGET,
            target_id=charge_id,
            project_id=row.project_id,
            business_date=row.business_date,
            amount=amount.amount,
            currency=amount.currency,
            billable=row.billable,
            minutes=None,
            run_id=f"reprice:{request.amendment_id}",
            approved_at=row.approved_at,
        )
        await asyncio.to_thread(record_postings, self._reprice_store, [posting])


def _problem(
    request: RepriceRequest, row: LedgerEntry, entry: TimeEntry, rate: Money, posted: Decimal, due: Decimal
) -> Problem:
    currency = row.currency
    return Problem(
        kind=RATE_CHANGE,
        source_id=row.source_id,
        business_date=row.business_date,
        reason="rate_changed",
        message=(
            f"time entry {row.source_id} of {row.business_date} ({format_minutes(entry.minutes)} h, role "
            f"{entry.role!r}) was posted for {posted} {currency}; amendment {request.amendment_id} puts its rate at "
            f"{rate.amount} {currency}/h from {request.since}, which bills {due} {currency}: post the difference "
            f"of {due - posted} {currency} (PSFLOW_RETRO_RATE_CHANGES=adjust and re-run the repricing) or ignore it"
        ),
        values={
            "amendment_id": request.amendment_id,
            "posted": str(posted),
            "in_force": str(due),
            "difference": str(due - posted),
            "rate": str(rate.amount),
        },
    )
