"""The demo account's list values: records NetSuite keeps that the emulator does not hold.

Writes may name any id in these lists (the emulator does not check them); reads show the
names below as each reference's ``refName``. The connector's settings default to these ids.
"""

from __future__ import annotations

__all__ = [
    "BILLING_SCHEDULES",
    "BILLING_TYPE_IDS",
    "CURRENCY_IDS",
    "IN_PROGRESS_STATUS_ID",
    "LIST_NAMES",
    "SUBSIDIARY_ID",
    "TERMS_IDS",
]

CURRENCY_IDS = {"USD": "1", "GBP": "2", "CAD": "3", "EUR": "4"}
TERMS_IDS = {"Net 15": "1", "Net 30": "2", "Net 45": "3", "Net 60": "4", "Due on receipt": "5"}
BILLING_TYPE_IDS = {"time_and_materials": "TM", "fixed_fee": "FBM"}
SUBSIDIARY_ID = "1"
BILLING_SCHEDULES = {
    "1": {"name": "Time and materials, monthly", "scheduleType": "TIME_AND_MATERIALS", "frequency": "MONTHLY"},
    "2": {"name": "Fixed bid, milestones", "scheduleType": "FIXED_BID_MILESTONE", "frequency": "MILESTONE"},
    "3": {"name": "Fixed bid, monthly", "scheduleType": "FIXED_BID_INTERVAL", "frequency": "MONTHLY"},
    "4": {"name": "Charge-based, monthly", "scheduleType": "CHARGE_BASED", "frequency": "MONTHLY"},
    "5": {"name": "Standard, 12 months", "scheduleType": "STANDARD", "frequency": "MONTHLY"},
}
"""The demo account's billing schedules (records, seeded by id), one of each type NetSuite has."""
IN_PROGRESS_STATUS_ID = "2"

LIST_NAMES: dict[str, dict[str, str]] = {
    "currency": {"1": "US Dollar", "2": "British pound", "3": "Canadian Dollar", "4": "Euro"},
    "terms": {terms_id: name for name, terms_id in TERMS_IDS.items()},
    "subsidiary": {SUBSIDIARY_ID: "Brightline Partners"},
    "entityStatus": {"1": "Closed", "2": "In Progress", "3": "Not Awarded", "4": "Pending"},
    "jobBillingType": {
        "CB": "Charge-Based",
        "FBI": "Fixed Bid, Interval",
        "FBM": "Fixed Bid, Milestone",
        "TM": "Time and Materials",
    },
    "approvalStatus": {"1": "Pending Approval", "2": "Approved", "3": "Rejected"},
    "category": {"1": "Airfare", "2": "Lodging", "3": "Meals", "4": "Mileage", "5": "Rail", "6": "Taxi"},
    "item": {"1": "Professional Services"},
}
"""Per reference field, the display name of each id (``refName``)."""
