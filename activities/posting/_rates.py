"""Each project's effective-dated rates (`RateSchedule`), read once per posting run.

Posting prices a time entry with the rate in force on its date for its role (`rules.rate_in_force`),
so an entry logged before a rate amendment reached Kantata, and still unposted, posts at the
amended rate; Kantata itself never reprices an entry once made (research apis-round2 §1, §7.1).
A project's schedule is read the first time a run meets one of its entries and kept for the rest
of the run; a rate change that lands during a run is caught by the amendment's own repricing of
what was posted (`reprice_posted`), never by re-reading per entry.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence

from activities.posting.rules import Record
from canonical import RateSchedule, TimeEntry
from connectors._core import ConnectorError
from connectors.kantata import KantataConnector

_RUNS_REMEMBERED = 16
"""Posting runs whose schedules a worker keeps, as for the ERP facts."""


class ProjectRates:
    """The rate schedules of the projects one posting run has met (None: the project has none)."""

    def __init__(self, kantata: KantataConnector) -> None:
        self._kantata = kantata
        self._schedules: dict[str, RateSchedule | None] = {}

    async def prefetch(self, records: Sequence[Record]) -> ConnectorError | None:
        """Read the schedules of the time entries' projects not known yet, concurrently.

        Returns:
            The first transient fault (those projects' entries wait for a later attempt), or None.

        Raises:
            BaseException: A read failed in a way trying again will not fix.
        """
        wanted = sorted({r.project_id for r in records if isinstance(r, TimeEntry)} - self._schedules.keys())
        failure: ConnectorError | None = None
        outcomes = await asyncio.gather(*(self._read(p) for p in wanted), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, ConnectorError) and outcome.retryable:
                failure = failure or outcome
            elif isinstance(outcome, BaseException):
                raise outcome
        return failure

    def known(self, record: Record) -> bool:
        """Whether the record's schedule has been read (expenses need none)."""
        return not isinstance(record, TimeEntry) or record.project_id in self._schedules

    def schedule_of(self, record: Record) -> RateSchedule | None:
        """The schedule of the record's project (read: `known`)."""
        return self._schedules.get(record.project_id)

    async def _read(self, project_id: str) -> None:
        self._schedules[project_id] = await self._kantata.project_rate_schedule(project_id)


class RunRates:
    """`ProjectRates` per posting run, for the last few runs a worker served."""

    def __init__(self, kantata: KantataConnector) -> None:
        self._kantata = kantata
        self._runs: OrderedDict[str, ProjectRates] = OrderedDict()

    def of_run(self, run_id: str) -> ProjectRates:
        """The schedules one run has read (a re-run of a date is a new run and reads them afresh)."""
        rates = self._runs.get(run_id)
        if rates is None:
            rates = self._runs[run_id] = ProjectRates(self._kantata)
            while len(self._runs) > _RUNS_REMEMBERED:
                self._runs.popitem(last=False)
        self._runs.move_to_end(run_id)
        return rates
