"""The HR port: what a resource sync needs from the HR system of record, whichever it is.

Two adapters implement it: `connectors.bamboohr.BambooHRConnector` and
`connectors.workday.WorkdayHR` (over `WorkdayConnector`). The flow holds an `HRSystem` and never
knows which one it talks to; ``tests/hr/test_contract.py`` runs the same suite against both.

Worker ids are canonical (``bamboohr:<id>``, ``workday:<WID>``); every method also accepts the
system's own id. A rehired person gets a new id in both systems, and is matched by the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from canonical import Consultant, DateRange, TimeOff
from connectors._core import Page

__all__ = ["ChangeAction", "ChangePage", "HRSystem", "WorkerChange"]


class ChangeAction(StrEnum):
    """What happened to a worker record."""

    INSERTED = "inserted"
    UPDATED = "updated"
    DELETED = "deleted"


class WorkerChange(BaseModel):
    """One worker whose record changed: who, how, and when HR says it did."""

    model_config = ConfigDict(frozen=True)

    worker_id: str = Field(min_length=1, description="Canonical worker id, e.g. 'bamboohr:17'")
    action: ChangeAction
    changed_at: AwareDatetime


@dataclass(frozen=True)
class ChangePage(Page[WorkerChange]):
    """A page of changes, with the high-water mark to store once every page has been applied.

    Attributes:
        high_water_mark: The ``since`` to pass next time: the newest change time HR reported (or the
            ``since`` asked for when nothing changed). Changes *at* the mark may be reported again,
            so applying a change must be idempotent; none after it is ever skipped.
    """

    high_water_mark: datetime | None = None


@runtime_checkable
class HRSystem(Protocol):
    """The HR system of record, read-only, as the resource sync sees it."""

    @property
    def hr_system(self) -> str:
        """The system's name, e.g. ``"bamboohr"``."""
        ...

    async def changed_since(self, since: datetime | None, cursor: str | None = None) -> ChangePage:
        """Workers changed at or after `since` (all of them when None), one page at `cursor`."""
        ...

    async def worker(self, worker_id: str) -> Consultant:
        """One worker, terminated or not, with manager, standard hours, hire and termination dates."""
        ...

    async def workers_page(self, cursor: str | None = None) -> Page[Consultant]:
        """One page of the full sweep: every worker, terminated ones included."""
        ...

    async def time_off(self, between: DateRange, worker_id: str | None = None) -> list[TimeOff]:
        """Time off overlapping `between` (one worker's or everyone's).

        BambooHR reports every status (a cancelled request stays, marked cancelled); Workday returns
        only standing requests (cancelled or denied ones are simply absent). Either way only
        ``TimeOffStatus.APPROVED`` reduces availability.
        """
        ...
