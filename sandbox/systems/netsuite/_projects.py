"""The job (project) record's own rules: billing type and schedule, dates, contract value.

Research note apis-round2.md §6 "Project (job)" and "What an emulator must get right (NetSuite)":

- ``jobBillingType`` is one of ``TM`` (time and materials), ``FBI`` (fixed bid, interval),
  ``FBM`` (fixed bid, milestone) and ``CB`` (charge-based).
- A ``billingSchedule`` must be of the type the project's billing type needs; otherwise the
  update fails (400 ``USER_ERROR``, the code is inferred). The two are set in one update.
- ``projectedEndDate`` and ``endDate`` are not before ``startDate``; ``jobPrice`` (the price, or
  contract value) is not negative.
- ``calculatedEndDate`` is computed from the project schedule; the emulator plans no schedule, so
  it reads the projected end date.
- Budget sublists and some fields are not exposed through REST (`JOB_NOT_IN_REST`): a write naming
  one is refused where bodies are parsed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox._db import SandboxDB
from sandbox.systems.netsuite._errors import INVALID_FLD_VALUE, USER_ERROR, bad_request
from sandbox.systems.netsuite._types import NAME

SCHEDULE_TYPES = {
    "TM": "TIME_AND_MATERIALS",
    "FBI": "FIXED_BID_INTERVAL",
    "FBM": "FIXED_BID_MILESTONE",
    "CB": "CHARGE_BASED",
}
"""Project billing type → the billing schedule type it takes."""


def check_job(db: SandboxDB, job: dict[str, Any]) -> None:
    """Refuse a job that breaks the rules above; fill ``calculatedEndDate``."""
    billing_type = job.get("jobBillingType")
    if billing_type is not None and billing_type not in SCHEDULE_TYPES:
        raise bad_request(
            INVALID_FLD_VALUE,
            f"Invalid jobBillingType reference key {billing_type}: use one of {', '.join(SCHEDULE_TYPES)}.",
        )
    schedule_id = job.get("billingSchedule")
    if schedule_id is not None:
        schedule = db.get(NAME, "billingSchedule", schedule_id) or {}
        wanted = SCHEDULE_TYPES.get(billing_type or "")
        if schedule.get("scheduleType") != wanted:
            raise bad_request(
                USER_ERROR,
                f"The billing schedule {schedule.get('name', schedule_id)!r} ({schedule.get('scheduleType')}) "
                f"does not match the project's billing type {billing_type}; it needs a {wanted} schedule. "
                "Set jobBillingType and billingSchedule together in one update.",
            )
    start = job.get("startDate")
    for name in ("projectedEndDate", "endDate"):
        end = job.get(name)
        if start is not None and end is not None and end < start:
            raise bad_request(INVALID_FLD_VALUE, f"Invalid {name} {end}: it must not be before startDate {start}.")
    price = job.get("jobPrice")
    if price is not None and Decimal(str(price)) < 0:
        raise bad_request(INVALID_FLD_VALUE, f"Invalid jobPrice {price}: enter zero or more.")
    job["calculatedEndDate"] = job.get("projectedEndDate")
