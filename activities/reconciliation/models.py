"""What the reconciliation activities take and return: a run's key, cursors and counts, never records."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from canonical import CanonicalModel

SnapshotSide = Literal["psa", "erp"]
SnapshotKind = Literal["time_entry", "expense", "project", "invoice"]


class ReconScope(CanonicalModel):
    """One reconciliation run: its key (staging rows and exceptions name it), the period and the project."""

    run_key: str = Field(min_length=1, description="workflow id / first run id")
    workflow_id: str
    period: str
    start: date
    end: date
    project_id: str | None = None
    provisional: bool = False


class SnapshotRequest(CanonicalModel):
    """Copy one side's records of one kind into the staging table, from ``cursor`` on."""

    scope: ReconScope
    side: SnapshotSide
    kind: SnapshotKind
    page_size: int = Field(default=200, ge=1, le=1000)


class SnapshotCheckpoint(CanonicalModel):
    """Heartbeated after each page: where a retry resumes, and what the pages before did."""

    cursor: str | None = None
    pages: int = 0
    staged: int = 0
    unreadable: int = 0
    done: bool = False


class SnapshotResult(CanonicalModel):
    """How many records a snapshot staged, in how many pages."""

    side: SnapshotSide
    kind: SnapshotKind
    staged: int
    pages: int
    unreadable: int = 0
    resumed_at_page: int = 0
    """The page a retried attempt resumed at (0: read from the start): the pages before it were not read again."""
    skipped: str | None = None
    """Why the side was not read (e.g. the project does not exist there)."""


class CompareRequest(CanonicalModel):
    """Compare the staged sides; ``record`` writes the differences as exceptions and resolves those gone."""

    scope: ReconScope
    record: bool = True
    page_size: int = Field(default=500, ge=1, le=5000)


class CompareResult(CanonicalModel):
    """The counts compared per side and kind, the differences by kind, and what auto-fix may re-post."""

    compared: dict[str, dict[str, int]] = Field(default_factory=dict)
    differences: dict[str, int] = Field(default_factory=dict)
    not_posted_dates: list[date] = Field(default_factory=list)
    vanished: int = 0
    """``missing_in_erp`` records the PSA still has approved and no invoice billed: auto-fix re-posts them."""
    resolved: int = 0
    """Earlier differences of the period (or project) this run no longer found: auto-resolved."""

    @property
    def total(self) -> int:
        """Every difference found."""
        return sum(self.differences.values())


class UnpostRequest(CanonicalModel):
    """Take the vanished ERP records' rows out of the ledger (to the audit trail), so posting re-posts them."""

    scope: ReconScope


class Unposted(CanonicalModel):
    """How many ledger rows were taken out, and the business dates to post again."""

    removed: int = 0
    dates: list[date] = Field(default_factory=list)


class RunOutcome(CanonicalModel):
    """A finished run's figures for the ``reconciliation_run`` table."""

    scope: ReconScope
    status: str
    compared: dict[str, dict[str, int]] = Field(default_factory=dict)
    differences: dict[str, int] = Field(default_factory=dict)
    fixed: int = 0
