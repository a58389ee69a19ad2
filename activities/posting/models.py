"""What the posting activities take and return: cursors and counts, never records."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from canonical import CanonicalModel

Kind = Literal["time_entry", "expense"]
KINDS: tuple[Kind, ...] = ("time_entry", "expense")


class PostingCounts(CanonicalModel):
    """What became of the records read: posted now, posted before, rejected by a rule, refused by the ERP."""

    posted: int = 0
    already_posted: int = 0
    rejected: int = 0
    failed: int = 0

    def __add__(self, other: PostingCounts) -> PostingCounts:
        return PostingCounts(
            posted=self.posted + other.posted,
            already_posted=self.already_posted + other.already_posted,
            rejected=self.rejected + other.rejected,
            failed=self.failed + other.failed,
        )

    @property
    def total(self) -> int:
        """Every record read."""
        return self.posted + self.already_posted + self.rejected + self.failed


class PostPageRequest(CanonicalModel):
    """Which records to post: one kind, approved, dated ``business_date``, from ``cursor`` on."""

    business_date: date
    kind: Kind
    run_id: str = Field(min_length=1, description="The posting run, written on every ledger row and exception")
    cursor: str | None = None
    page_size: int = Field(default=200, ge=1, le=200)
    max_pages: int = Field(default=5, ge=1, description="Pages this call posts before handing back")
    max_seconds: float = Field(
        default=120, gt=0, description="No new page is started after this long: the call hands back, however fast"
    )


class PostPageResult(CanonicalModel):
    """What one call posted, and where the next call starts (None: this kind is done)."""

    counts: PostingCounts
    pages: int
    next_cursor: str | None


class SettleRequest(CanonicalModel):
    """The end of a run that read every record of its date."""

    business_date: date
    run_id: str = Field(min_length=1)


class Checkpoint(CanonicalModel):
    """Heartbeat details: the next page to post, and what the pages before it did."""

    cursor: str | None
    pages: int = 0
    counts: PostingCounts = PostingCounts()
    exhausted: bool = False
