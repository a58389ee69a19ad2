"""The demo consulting firm every emulator is seeded with.

``DemoFirm.generate()`` builds one deterministic firm (seed 42) — clients, consultants, rate
cards, opportunities, won projects, recent time entries and expenses — as frozen dataclasses.
It is generated once and handed to every system's ``seed(db, firm)``, so the systems agree:
the same clients exist in the CRMs and the ERP, the same consultants (matched by email) in
Workday and Kantata. Dates are relative to ``today`` so "the last 25 business days" means
something on any day the sandbox starts.

The anchor is an input: ``--today`` on ``python -m sandbox``, ``PSFLOW_SANDBOX_TODAY``, or
``POST /_admin/reset?today=``; the real date when none is given. Which records exist and in which
state is the same for every anchor — only their dates move (``tests/sandbox_core/test_seed.py``
checks 400 consecutive anchors) — so ids named in tests and docs exist in every seeded sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox._db import SandboxDB
    from sandbox._framework import SandboxSystem

__all__ = [
    "ROLES",
    "SEED_MARKER",
    "STAGES",
    "Address",
    "Client",
    "Consultant",
    "Contact",
    "CostCentre",
    "DemoFirm",
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
    "anchor_date",
    "seed_all",
    "seed_demo",
]

SEED_MARKER = ("_sandbox", "seed")
ROLES = ("Partner", "Director", "Manager", "Senior Consultant", "Consultant", "Analyst")
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
EMAIL_DOMAIN = "psflow-demo.example"
CENT = Decimal("0.01")
TODAY_ENV = "PSFLOW_SANDBOX_TODAY"


def anchor_date(today: date | None = None) -> date:
    """The demo firm's anchor: ``today`` if given, else ``$PSFLOW_SANDBOX_TODAY``, else the real date.

    Raises:
        ValueError: ``PSFLOW_SANDBOX_TODAY`` is set but is not a YYYY-MM-DD date.
    """
    if today is not None:
        return today
    configured = os.environ.get(TODAY_ENV, "").strip()
    if not configured:
        return date.today()
    try:
        return date.fromisoformat(configured)
    except ValueError:
        raise ValueError(f"{TODAY_ENV}={configured!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-26") from None


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


@dataclass(frozen=True)
class DemoFirm:
    """A consulting firm's master and transactional data, identical on every run with one seed.

    Build it with ``DemoFirm.generate()``; look records up with ``client()``, ``consultant()``,
    ``opportunity()``, ``project()``, ``rate_card()`` (each raises KeyError when unknown).
    """

    name: str
    seed: int
    today: date  # the anchor: time entries and expenses fall in the 25 business days before it
    rate_cards: tuple[RateCard, ...]
    cost_centres: tuple[CostCentre, ...]
    supervisory_orgs: tuple[SupervisoryOrg, ...]
    consultants: tuple[Consultant, ...]
    clients: tuple[Client, ...]
    opportunities: tuple[Opportunity, ...]
    projects: tuple[Project, ...]
    time_entries: tuple[TimeEntry, ...]
    expenses: tuple[Expense, ...]

    @classmethod
    def generate(cls, seed: int = 42, today: date | None = None) -> DemoFirm:
        """Draw the firm from ``random.Random(seed)`` with dates relative to ``today`` (see `anchor_date`)."""
        # Imported here: the builder imports this module's dataclasses.
        from sandbox._demo_builder import Builder

        today = anchor_date(today)
        build = Builder(seed, today)
        rate_cards = build.rate_cards()
        cards = {card.currency: card for card in rate_cards}
        consultants, cost_centres, orgs = build.organisation()
        partners = [c.employee_id for c in consultants if c.grade == "Partner"]
        sellers = [c.employee_id for c in consultants if c.grade in ("Partner", "Director")]
        clients = build.clients(partners)
        opportunities = build.opportunities(clients, cards, sellers)
        projects = build.projects([o for o in opportunities if o.stage == "Closed Won"], consultants)
        return cls(
            name="Brightline Partners",
            seed=seed,
            today=today,
            rate_cards=rate_cards,
            cost_centres=cost_centres,
            supervisory_orgs=orgs,
            consultants=consultants,
            clients=clients,
            opportunities=opportunities,
            projects=projects,
            time_entries=build.time_entries(projects, consultants, cards),
            expenses=build.expenses(projects),
        )

    @cached_property
    def _by_key(self) -> dict[str, dict[str, Any]]:
        return {
            "client": {c.id: c for c in self.clients},
            "consultant": {k: c for c in self.consultants for k in (c.employee_id, c.email)},
            "opportunity": {o.id: o for o in self.opportunities},
            "project": {p.code: p for p in self.projects},
            "rate card": {k: r for r in self.rate_cards for k in (r.id, r.currency)},
        }

    def _get(self, kind: str, key: str) -> Any:
        try:
            return self._by_key[kind][key]
        except KeyError:
            raise KeyError(f"the demo firm has no {kind} {key!r}") from None

    def client(self, id: str) -> Client:
        """The client with this id ("C-0001")."""
        return self._get("client", id)

    def consultant(self, key: str) -> Consultant:
        """The consultant with this employee id ("E-1001") or email."""
        return self._get("consultant", key)

    def opportunity(self, id: str) -> Opportunity:
        """The opportunity with this id ("OPP-0001")."""
        return self._get("opportunity", id)

    def project(self, code: str) -> Project:
        """The project with this code ("PRJ-0001")."""
        return self._get("project", code)

    def rate_card(self, key: str) -> RateCard:
        """The rate card with this id ("RC-USD") or currency ("USD")."""
        return self._get("rate card", key)


def seed_all(db: SandboxDB, systems: Iterable[SandboxSystem], firm: DemoFirm) -> None:
    """Write the firm into every system that has a seed, each system atomically."""
    for system in systems:
        if system.seed is not None:
            with db.transaction():
                system.seed(db, firm)
    db.kv_set(*SEED_MARKER, {"name": "demo", "seed": firm.seed, "today": firm.today.isoformat()})


def seed_demo(db: SandboxDB, systems: Iterable[SandboxSystem], *, today: date | None = None) -> DemoFirm:
    """Generate the demo firm and seed every system with it; return the firm."""
    firm = DemoFirm.generate(today=today)
    seed_all(db, systems, firm)
    return firm
