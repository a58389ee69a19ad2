"""The demo consulting firm's records: clients, consultants, rate cards, deals, projects, time and expenses.

Frozen dataclasses with no behaviour beyond look-ups, read by the systems' seeds; how they are drawn
lives in ``_demo_builder`` and how they are put together in ``sandbox.seed.DemoFirm``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

__all__ = [
    "CENT",
    "EMAIL_DOMAIN",
    "ROLES",
    "STAGES",
    "Address",
    "Client",
    "Consultant",
    "Contact",
    "CostCentre",
    "Expense",
    "LineItem",
    "Opportunity",
    "Project",
    "RateCard",
    "RoleRate",
    "SupervisoryOrg",
    "Task",
    "TimeEntry",
    "TimeOff",
]

ROLES = ("Partner", "Director", "Manager", "Senior Consultant", "Consultant", "Analyst")
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
EMAIL_DOMAIN = "psflow-demo.example"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    region: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Contact:
    first_name: str
    last_name: str
    email: str
    title: str


@dataclass(frozen=True)
class Client:
    id: str  # "C-0001"
    name: str
    industry: str
    country: str  # ISO 3166-1 alpha-2
    currency: str  # USD | GBP | EUR
    billing_address: Address
    payment_terms: str  # "Net 30" | "Net 45"
    website: str  # "northwind-logistics.example"
    contact: Contact
    account_owner_id: str  # employee_id of the owning Partner


@dataclass(frozen=True)
class TimeOff:
    day: date
    hours: Decimal
    type: str  # "Vacation" | "Sick" | "Personal"


@dataclass(frozen=True)
class CostCentre:
    id: str  # "CC-ADV-UK"
    name: str  # "Advisory - United Kingdom"
    practice: str  # "Advisory" | "Technology" | "Operations"
    region: str  # "UK" | "US" | "EU"


@dataclass(frozen=True)
class SupervisoryOrg:
    id: str  # "SO-ADV-UK"
    name: str  # "Advisory UK"
    manager_id: str  # employee_id of the org's head
    cost_centre: str


@dataclass(frozen=True)
class Consultant:
    employee_id: str  # "E-1001"
    first_name: str
    last_name: str
    email: str  # first.last@psflow-demo.example
    title: str  # job title, e.g. "Engagement Manager"
    grade: str  # one of ROLES: the rate-card role
    practice: str
    cost_centre: str  # "CC-ADV-UK"
    supervisory_org: str  # "SO-ADV-UK"
    manager_id: str | None
    skills: tuple[str, ...]
    cost_rate: Decimal  # per hour, in cost_currency
    cost_currency: str
    location: str  # office city
    country: str
    hire_date: date
    weekly_hours: Decimal
    time_off: tuple[TimeOff, ...]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class RoleRate:
    role: str
    hourly_rate: Decimal


@dataclass(frozen=True)
class RateCard:
    id: str  # "RC-USD"
    name: str
    currency: str
    rates: tuple[RoleRate, ...]

    def rate_for(self, role: str) -> Decimal:
        """Hourly bill rate of a role (KeyError if the card has none)."""
        for rate in self.rates:
            if rate.role == role:
                return rate.hourly_rate
        raise KeyError(f"rate card {self.id} has no rate for role {role!r}")


@dataclass(frozen=True)
class LineItem:
    id: str  # "OPP-0001-01"
    product: str  # service name, e.g. "Discovery workshop"
    role: str
    quantity_hours: Decimal
    unit_price: Decimal  # the rate card's hourly rate for the role

    @property
    def amount(self) -> Decimal:
        return (self.quantity_hours * self.unit_price).quantize(CENT)


@dataclass(frozen=True)
class Opportunity:
    id: str  # "OPP-0001"
    client_id: str
    name: str
    stage: str  # one of STAGES
    probability: int  # percent
    amount: Decimal  # sum of line item amounts
    currency: str
    close_date: date
    rate_card_id: str
    start_date: date
    end_date: date
    billing_type: str  # "time_and_materials" | "fixed_fee"
    owner_id: str  # employee_id of the Partner/Director selling it
    line_items: tuple[LineItem, ...]


@dataclass(frozen=True)
class Task:
    code: str  # "PRJ-0001-T01"
    name: str  # the line item's product
    role: str
    budget_hours: Decimal


@dataclass(frozen=True)
class Project:
    code: str  # "PRJ-0001"
    name: str
    client_id: str
    opportunity_id: str
    currency: str
    budget: Decimal
    billing_type: str
    rate_card_id: str
    start_date: date
    end_date: date
    project_manager_id: str
    team: tuple[str, ...]  # employee_ids, project manager first
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class TimeEntry:
    id: str  # "TE-00001"
    consultant_id: str
    project_code: str
    task_code: str
    date_performed: date
    hours: Decimal  # 0.5 .. 10 in half hours
    billable: bool
    role: str
    bill_rate: Decimal  # rate card rate for the role, in currency
    currency: str
    approval_state: str  # "approved" | "submitted" | "rejected"
    notes: str


@dataclass(frozen=True)
class Expense:
    id: str  # "EX-0001"
    consultant_id: str
    project_code: str
    date_incurred: date
    category: str  # "Airfare" | "Rail" | "Lodging" | "Meals" | "Mileage" | "Taxi"
    description: str
    amount: Decimal
    currency: str
    billable: bool
    approved: bool
