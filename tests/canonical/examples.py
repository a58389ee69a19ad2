"""One valid example of every canonical entity, as plain data (what a connector's mapping would produce)."""

from __future__ import annotations

from typing import Any

USD = "USD"
ADDRESS = {"line1": "1 Harbour St", "city": "Boston", "country": "us"}
RATE_CARD = {
    "id": "rc-usd",
    "name": "Standard USD",
    "currency": USD,
    "rates": [
        {"role": "Manager", "hourly_rate": {"amount": "250.00", "currency": USD}},
        {"role": "Consultant", "hourly_rate": {"amount": "150.00", "currency": USD}},
    ],
}
LINE_ITEM = {
    "id": "li-1",
    "product_name": "Discovery workshop",
    "role": "Manager",
    "quantity": "40",
    "unit_price": {"amount": "250.00", "currency": USD},
}
CUSTOMER = {"id": "salesforce:001A", "name": "Northwind Logistics", "currency": USD, "billing_address": ADDRESS}
TIME_ENTRY = {
    "id": "kantata:77",
    "consultant_id": "kantata-user:5",
    "project_id": "salesforce:006A",
    "date_performed": "2026-11-23",
    "minutes": 450,
    "approval": "approved",
    "approved_at": "2026-11-24T09:00:00+00:00",
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "customer": CUSTOMER,
    "consultant": {
        "id": "workday:W1",
        "employee_id": "E-1001",
        "name": "Ada Byrne",
        "email": "Ada.Byrne@psflow-demo.example",
        "skills": ["SAP", "Change management"],
        "time_off": [{"start": "2026-12-24", "end": "2026-12-31"}],
        "manager_id": "workday:W9",
        "standard_hours_per_week": "37.5",
        "hire_date": "2024-03-04",
    },
    "time_off": {
        "id": "bamboohr:1402",
        "worker_id": "bamboohr:112",
        "start": "2026-12-21",
        "end": "2026-12-23",
        "hours_by_day": {"2026-12-21": "7.5", "2026-12-22": "7.5", "2026-12-23": "3.75"},
        "status": "approved",
        "kind": "Vacation",
    },
    "rate_card": RATE_CARD,
    "rate_schedule": {
        "currency": USD,
        "versions": [
            {
                "effective_date": "2026-01-01",
                "rates": [{"role": "Manager", "hourly_rate": {"amount": "250", "currency": USD}}],
            },
            {
                "effective_date": "2026-11-16",
                "rates": [{"role": "Manager", "hourly_rate": {"amount": "275", "currency": USD}}],
            },
        ],
    },
    "line_item": LINE_ITEM,
    "opportunity": {
        "id": "salesforce:006A",
        "name": "Northwind — supply chain review",
        "account_id": "salesforce:001A",
        "stage": "closed_won",
        "amount": {"amount": "10000", "currency": USD},
        "close_date": "2026-11-20",
        "line_items": [LINE_ITEM],
    },
    "engagement": {
        "id": "salesforce:006A",
        "name": "Northwind — supply chain review",
        "customer": CUSTOMER,
        "opportunity": {"system": "salesforce", "id": "006A"},
        "billing_type": "time_and_materials",
        "currency": USD,
        "budget": {"amount": "10000", "currency": USD},
        "start_date": "2026-12-01",
        "end_date": "2027-02-28",
        "rate_card": RATE_CARD,
        "line_items": [LINE_ITEM],
    },
    "project": {
        "id": "salesforce:006A",
        "code": "PRJ-0042",
        "name": "Northwind — supply chain review",
        "customer_id": "salesforce:001A",
        "budget": {"amount": "10000", "currency": USD},
        "start_date": "2026-12-01",
        "end_date": "2027-02-28",
        "tasks": [{"id": "t-1", "project_id": "salesforce:006A", "name": "Discovery", "budget_hours": "40"}],
    },
    "task": {"id": "t-1", "project_id": "salesforce:006A", "name": "Discovery"},
    "time_entry": TIME_ENTRY,
    "timesheet": {"consultant_id": "kantata-user:5", "week_start": "2026-11-23", "entries": [TIME_ENTRY]},
    "expense": {
        "id": "kantata-expense:9",
        "consultant_id": "kantata-user:5",
        "project_id": "salesforce:006A",
        "date_incurred": "2026-11-23",
        "category": "Travel",
        "amount": {"amount": "412.30", "currency": USD},
    },
    "invoice": {
        "id": "inv-salesforce:006A-2026-11",
        "customer_id": "salesforce:001A",
        "project_id": "salesforce:006A",
        "period": {"start": "2026-11-01", "end": "2026-11-30"},
        "currency": USD,
        "issue_date": "2026-12-01",
        "due_date": "2026-12-31",
        "lines": [
            {"description": "Manager hours", "quantity": "7.5", "unit_price": {"amount": "250", "currency": USD}}
        ],
    },
    "contract_amendment": {
        "id": "amend-1",
        "contract_id": "800A",
        "engagement_id": "salesforce:006A",
        "version": 2,
        "effective_date": "2027-01-01",
        "signed_at": "2026-12-15T12:00:00+01:00",
        "budget": {"amount": "15000", "currency": USD},
    },
}
