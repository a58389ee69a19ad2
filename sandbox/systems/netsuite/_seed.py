"""The demo firm in NetSuite: employees, the customers and jobs already won, periods.

External ids are the firm's business keys, the one key every emulator shares:

| record          | externalId                        | from                      |
|-----------------|-----------------------------------|---------------------------|
| employee        | ``E-1001``                        | consultant employee id    |
| customer        | ``C-0001``                        | client number (Salesforce ``PSFlow_Id__c``) |
| job             | ``PRJ-0001``                      | project code              |
| projectTask     | ``PRJ-0001-T01``                  | task code                 |

Only clients with a won project become customers; every won project becomes a job with its tasks.
The account has one billing schedule of each type. Accounting periods are monthly, from twelve
months before the firm's ``today`` to three after it; periods that ended before the start of last
month are closed. List values use the demo account's internal ids (``_lists``), which the
connector's settings default to.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sandbox._db import SandboxDB
from sandbox.seed import DemoFirm
from sandbox.systems.netsuite._lists import (
    BILLING_SCHEDULES,
    BILLING_TYPE_IDS,
    CURRENCY_IDS,
    IN_PROGRESS_STATUS_ID,
    SUBSIDIARY_ID,
    TERMS_IDS,
)
from sandbox.systems.netsuite._store import PERIOD_KIND, create
from sandbox.systems.netsuite._types import NAME, RECORD_TYPES

PAST_MONTHS = 12
FUTURE_MONTHS = 3


def _month(day: date, shift: int) -> date:
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def period_body(start: date, *, closed: bool) -> dict[str, Any]:
    """The accounting period of the month beginning ``start``."""
    return {
        "periodName": f"{start:%b %Y}",
        "startDate": start.isoformat(),
        "endDate": (_month(start, 1) - timedelta(days=1)).isoformat(),
        "closed": closed,
        "isQuarter": False,
        "isYear": False,
        "isAdjust": False,
    }


def _seed_periods(db: SandboxDB, today: date) -> None:
    last_month = _month(today, -1)
    for shift in range(-PAST_MONTHS, FUTURE_MONTHS + 1):
        start = _month(today, shift)
        db.insert(NAME, PERIOD_KIND, period_body(start, closed=start < last_month), ext_key=f"{start:%Y-%m}")


def _create(db: SandboxDB, kind: str, body: dict[str, Any]) -> str:
    return str(create(db, RECORD_TYPES[kind.lower()], body)["id"])


def seed(db: SandboxDB, firm: DemoFirm) -> None:
    """Write the firm's ERP master data and accounting calendar."""
    _seed_periods(db, firm.today)
    for schedule_id, schedule in BILLING_SCHEDULES.items():
        db.insert(NAME, "billingSchedule", {**schedule, "isInactive": False}, id=schedule_id)
    employees = {
        consultant.employee_id: _create(
            db,
            "employee",
            {
                "externalId": consultant.employee_id,
                "entityId": consultant.name,
                "firstName": consultant.first_name,
                "lastName": consultant.last_name,
                "email": consultant.email,
                "title": consultant.title,
                "subsidiary": SUBSIDIARY_ID,
                "laborCost": float(consultant.cost_rate),
            },
        )
        for consultant in firm.consultants
    }
    customers: dict[str, str] = {}
    for project in firm.projects:
        client = firm.client(project.client_id)
        if client.id not in customers:
            address = client.billing_address
            customers[client.id] = _create(
                db,
                "customer",
                {
                    "externalId": client.id,
                    "entityId": client.name,
                    "companyName": client.name,
                    "email": client.contact.email,
                    "subsidiary": SUBSIDIARY_ID,
                    "currency": CURRENCY_IDS[client.currency],
                    "terms": TERMS_IDS[client.payment_terms],
                    "addressBook": [
                        {
                            "defaultBilling": True,
                            "defaultShipping": False,
                            "addressBookAddress": {
                                "addr1": address.line1,
                                "city": address.city,
                                "state": address.region,
                                "zip": address.postal_code,
                                "country": {"id": address.country},
                            },
                        }
                    ],
                },
            )
        job = _create(
            db,
            "job",
            {
                "externalId": project.code,
                "entityId": project.code,
                "companyName": project.name,
                "parent": customers[client.id],
                "subsidiary": SUBSIDIARY_ID,
                "currency": CURRENCY_IDS[project.currency],
                "terms": TERMS_IDS[client.payment_terms],
                "jobBillingType": BILLING_TYPE_IDS[project.billing_type],
                "entityStatus": IN_PROGRESS_STATUS_ID,
                "projectManager": employees[project.project_manager_id],
                "startDate": project.start_date.isoformat(),
                "projectedEndDate": project.end_date.isoformat(),
                "custentity_psflow_rate_card": project.rate_card_id,
            },
        )
        for task in project.tasks:
            _create(
                db,
                "projectTask",
                {
                    "externalId": task.code,
                    "title": task.name,
                    "project": job,
                    "plannedWork": float(task.budget_hours),
                },
            )
