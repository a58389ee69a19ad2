"""``erp.retry_posting``: one posting exception's record, as a person edited it, posted exactly once.

The record comes from the exception's ``retry_input`` with the edits applied (`edited_record`): the
PSA is not read again, so what a person corrected is what posts. It then goes the daily run's way:
the ledger first (a record a run has posted since is not posted again), the same ERP lookups, the
same rules (`check_time_entry`, `check_expense`), the same write (`post_record`: one PUT with the
PSA id as external id) and the same ledger. A second retry, a retried activity or a later daily
run therefore finds the record in the ledger, or PUTs the same external id, and never posts twice.

A record that posts resolves the exception with ``resolved_by`` naming the retry's workflow; one
that fails again is counted on the exception (seen again, with the new reason and the edited input,
so a next retry starts from the edits made so far).
"""

from __future__ import annotations

import asyncio

from pydantic import Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._errors import INVALID_DATA, classified
from activities.exception_retry import RetryResult, exception
from activities.posting._erp_facts import ErpFacts
from activities.posting._pages import _REFUSALS, TARGET, post_record
from activities.posting._rates import ProjectRates
from activities.posting._retry_input import InvalidEdit, edited_input, edited_record
from activities.posting.rejections import Rejection, refused
from activities.posting.rules import Approved, ErpSetup, Record, check_expense, check_time_entry, fingerprint
from canonical import CanonicalModel, TimeEntry
from connectors._core import ConnectorError
from connectors.kantata import KantataConnector
from connectors.netsuite import NetSuiteConnector, is_closed_period
from store import ExceptionRecord, Store
from store import exceptions as exc
from store.posting import claim_fingerprints, posting_runs, record_postings


class RetryPostingRequest(CanonicalModel):
    """Which posting exception to retry, with which edits, as which retry (its workflow id)."""

    exception_id: int = Field(ge=1)
    edits: dict[str, str] = Field(default_factory=dict)
    workflow_id: str = Field(min_length=1)


class PostingRetryActivities:
    """Posts the record of one posting exception, as edited, through the daily run's rules and write path."""

    def __init__(self, kantata: KantataConnector, netsuite: NetSuiteConnector, store: Store) -> None:
        self._kantata = kantata
        self._netsuite = netsuite
        self._store = store
        self._erp = ErpSetup(
            currencies=frozenset(netsuite.settings.currency_ids),
            expense_categories=frozenset(netsuite.settings.expense_category_ids),
        )

    @activity.defn(name="erp.retry_posting")
    @classified
    async def retry_posting(self, request: RetryPostingRequest) -> RetryResult:
        """Post the exception's record with the edits; resolve the exception, or count it failed again."""
        row = await asyncio.to_thread(exception, self._store, request.exception_id)
        what, record_id = row.kind.replace("_", " "), row.business_key
        if row.state not in exc.ACTIVE:
            # Closed meanwhile: by a daily run that posted it, a person, or this retry's earlier attempt.
            return RetryResult(outcome="resolved", message=f"exception {row.id} is {row.state} (by {row.resolved_by})")
        if row.retry_input is None:
            raise ApplicationError(f"exception {row.id} has no record to retry", type=INVALID_DATA, non_retryable=True)
        try:
            record = edited_record(row.kind, record_id, row.retry_input, request.edits)
        except InvalidEdit as error:
            raise ApplicationError(str(error), type=INVALID_DATA, non_retryable=True) from None
        ledger = await asyncio.to_thread(posting_runs, self._store, row.system, row.kind, [record_id])
        if record_id in ledger:
            await asyncio.to_thread(self._resolve, row, request.workflow_id)
            return RetryResult(
                outcome="resolved", message=f"{what} {record_id} was posted by {ledger[record_id]}; not posted again"
            )
        decision = await self._check(record, row.kind, request.workflow_id)
        if isinstance(decision, Rejection):
            return await asyncio.to_thread(self._failed, row, request, decision)
        day = record.date_performed if isinstance(record, TimeEntry) else record.date_incurred
        try:
            posting = await post_record(self._netsuite, record, decision, business_date=day, run_id=request.workflow_id)
        except ConnectorError as error:
            if error.outcome not in _REFUSALS:
                raise
            rejection = refused(what, record_id, error.message, closed_period=is_closed_period(error))
            return await asyncio.to_thread(self._failed, row, request, rejection)
        await asyncio.to_thread(record_postings, self._store, [posting])
        await asyncio.to_thread(self._resolve, row, request.workflow_id)
        amount = f"{decision.amount.amount} {decision.amount.currency}"
        return RetryResult(
            outcome="resolved", message=f"{what} {record_id} posted to the ERP as {posting.target_id} ({amount})"
        )

    async def _check(self, record: Record, kind: str, run_id: str) -> Approved | Rejection:
        """The daily run's rules over the record: its ERP facts, its project's rates, a duplicate of it."""
        day = record.date_performed if isinstance(record, TimeEntry) else record.date_incurred
        facts, rates = ErpFacts(self._netsuite, self._store), ProjectRates(self._kantata)
        failures = await asyncio.gather(facts.prefetch([record], day), rates.prefetch([record]))
        failure = failures[0] or failures[1]
        if failure is not None:
            raise failure  # transient: Temporal tries the activity again
        duplicates = await asyncio.to_thread(
            claim_fingerprints,
            self._store,
            target_system=TARGET,
            kind=kind,
            business_date=day,
            fingerprints=[(record.id, fingerprint(record))],
            run_id=run_id,
        )
        findings = facts.findings(record, day, duplicates.get(record.id))
        if isinstance(record, TimeEntry):
            return check_time_entry(record, findings, self._erp, rates.schedule_of(record))
        return check_expense(record, findings, self._erp)

    def _resolve(self, row: ExceptionRecord, workflow_id: str) -> None:
        exc.resolve(
            self._store,
            flow="posting",
            system=row.system,
            kind=row.kind,
            business_keys=[row.business_key],
            run_id=workflow_id,
        )

    def _failed(self, row: ExceptionRecord, request: RetryPostingRequest, rejection: Rejection) -> RetryResult:
        assert row.retry_input is not None
        occurrence = exc.Occurrence(
            flow="posting",
            system=row.system,
            kind=row.kind,
            business_key=row.business_key,
            reason=rejection.reason,
            message=rejection.message,
            values=dict(rejection.values),
            records=list(row.records),
            business_date=row.business_date,
            retry_input=edited_input(row.retry_input, request.edits),
        )
        exc.record(self._store, [occurrence], run_id=request.workflow_id)
        return RetryResult(outcome="failed again", message=rejection.message)
