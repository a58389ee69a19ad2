"""The ERP facts a posting run's records need (job, employee, accounting period), each looked up once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import date

from activities.posting.rules import ErpJob, Findings, Record
from connectors._core import ConnectorError
from connectors.netsuite import SYSTEM, NetSuiteConnector
from store import Store


class ErpFacts:
    """The jobs, employees and periods of one posting run, kept across its calls and attempts.

    Lookups run concurrently and each one that succeeds is kept, whatever happens to the others:
    a retried call or a later call of the same run sends only the lookups still missing. Ids found
    are written to the store's id map, where invoicing and reconciliation read them; employees are
    read from it first, as the map is where provisioning and resource sync put them.
    """

    def __init__(self, netsuite: NetSuiteConnector, store: Store) -> None:
        self._netsuite = netsuite
        self._store = store
        self._jobs: dict[str, ErpJob | None] = {}
        self._employees: dict[str, str | None] = {}
        self._periods: dict[date, bool] = {}

    async def prefetch(self, records: Sequence[Record], day: date) -> ConnectorError | None:
        """Look up the facts the records need that are not known yet.

        Returns:
            The first transient fault among the lookups (the records that needed it stay unknown
            until a later attempt), or None when every fact is known.

        Raises:
            BaseException: A lookup failed in a way trying again will not fix.
        """
        calls: list[Awaitable[None]] = [self._job(p) for p in {r.project_id for r in records} - self._jobs.keys()]
        calls += [self._employee(c) for c in {r.consultant_id for r in records} - self._employees.keys()]
        if records and day not in self._periods:
            calls.append(self._period(day))
        failure: ConnectorError | None = None
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(outcome, ConnectorError) and outcome.retryable:
                failure = failure or outcome
            elif isinstance(outcome, BaseException):
                raise outcome
        return failure

    def known(self, record: Record, day: date) -> bool:
        """Whether every fact the record's check needs has been looked up."""
        return record.project_id in self._jobs and record.consultant_id in self._employees and day in self._periods

    def findings(self, record: Record, day: date, duplicate_of: str | None) -> Findings:
        """What the rules need to know about the record (every fact `known`)."""
        return Findings(
            job=self._jobs[record.project_id],
            employee_id=self._employees[record.consultant_id],
            period_open=self._periods[day],
            duplicate_of=duplicate_of,
        )

    async def _job(self, project_id: str) -> None:
        job = await self._netsuite.find_job(project_id)
        if job is None:
            self._jobs[project_id] = None
            return
        await asyncio.to_thread(self._store.map_id, "project", project_id, SYSTEM, job.internal_id)
        self._jobs[project_id] = ErpJob(
            internal_id=job.internal_id, currency=job.currency, currency_id=job.currency_id, inactive=job.inactive
        )

    async def _employee(self, consultant_id: str) -> None:
        # The PSA knows consultants by email; ERP employees are keyed by HR employee id but carry the email.
        mapped = await asyncio.to_thread(self._store.system_id, "consultant", consultant_id, SYSTEM)
        if mapped is None:
            mapped = await self._netsuite.find_employee_by_email(consultant_id)
            if mapped is not None:
                await asyncio.to_thread(self._store.map_id, "consultant", consultant_id, SYSTEM, mapped)
        self._employees[consultant_id] = mapped

    async def _period(self, day: date) -> None:
        self._periods[day] = await self._netsuite.period_is_open(day)
