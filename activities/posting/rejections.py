"""Why a record was not posted: the reason codes operators filter exceptions by, and the rejections
made from what other systems said (a record the PSA could not read, one the ERP refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from connectors._core import FieldProblem, Unreadable


class Reason(StrEnum):
    """Why a record was not posted; the code operators filter exceptions by."""

    UNKNOWN_PROJECT = "unknown_project"
    PROJECT_INACTIVE = "project_inactive"
    PERIOD_CLOSED = "period_closed"
    UNKNOWN_CONSULTANT = "unknown_consultant"
    MISSING_RATE = "missing_rate"
    INVALID_HOURS = "invalid_hours"
    INVALID_AMOUNT = "invalid_amount"
    WRONG_CURRENCY = "wrong_currency"
    UNKNOWN_CATEGORY = "unknown_category"
    DUPLICATE = "duplicate"
    UNREADABLE = "unreadable"
    ERP_REFUSED = "erp_refused"


@dataclass(frozen=True)
class Rejection:
    """A record that must not be posted as it is: what is wrong, in words and in values."""

    reason: Reason
    message: str
    values: dict[str, str] = field(default_factory=dict)


_FIELD_REASONS = {"minutes": Reason.INVALID_HOURS, "amount": Reason.INVALID_AMOUNT}
"""The reason a broken canonical field gives a record (a currency anywhere in its path: `WRONG_CURRENCY`)."""


def _reason_of(problem: FieldProblem) -> Reason:
    path = problem.field.split(".")
    return Reason.WRONG_CURRENCY if "currency" in path else _FIELD_REASONS.get(path[0], Reason.UNREADABLE)


def unreadable(what: str, record: Unreadable) -> Rejection:
    """A rejection for a record the PSA connector could not read as canonical (25 hours, an amount of zero).

    The first broken field with a reason of its own gives the reason; the values name every broken
    field with the value found, and ``problem`` says it all in words.
    """
    text = "; ".join(str(problem) for problem in record.problems)
    reasons = [_reason_of(problem) for problem in record.problems]
    reason = next((found for found in reasons if found is not Reason.UNREADABLE), Reason.UNREADABLE)
    values = {p.field: p.value for p in record.problems if p.field and p.value is not None}
    return Rejection(
        reason,
        f"{what} {record.record_id} in the PSA cannot be posted: {text}: correct it in the PSA",
        {**values, "problem": text},
    )


def refused(what: str, record_id: str, error_message: str, *, closed_period: bool) -> Rejection:
    """A rejection for a record the ERP refused when it was posted."""
    reason = Reason.PERIOD_CLOSED if closed_period else Reason.ERP_REFUSED
    return Rejection(reason, f"the ERP refused {what} {record_id}: {error_message}", {"erp_error": error_message})
