"""The demo consulting firm every emulator is seeded with.

``DemoFirm.generate()`` builds one deterministic firm (seed 42) — clients, consultants, rate
cards, opportunities, won projects, recent time entries and expenses — as frozen dataclasses.
It is generated once and handed to every system's ``seed(db, firm)``, so the systems agree:
the same clients exist in the CRMs and the ERP, the same consultants (matched by email) in
Workday and Kantata. Dates are relative to ``today`` so "the last 25 business days" means
something on any day the sandbox starts.

The anchor is an input: ``--today`` on ``python -m sandbox``, ``PSFLOW_SANDBOX_TODAY``, or
``POST /_admin/reset?today=``; the real date when none is given. Which records exist and in which
state is the same for every anchor — only their dates move (``sandbox/tests/test_seed.py``
checks 400 consecutive anchors) — so ids named in tests and docs exist in every seeded sandbox.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Protocol, TypeVar

from sandbox._db import SandboxDB
from sandbox._demo_builder import Builder
from sandbox._firm import (
    ROLES,
    STAGES,
    Address,
    Client,
    Consultant,
    Contact,
    CostCentre,
    Expense,
    LineItem,
    Opportunity,
    Project,
    RateCard,
    RoleRate,
    SupervisoryOrg,
    Task,
    TimeEntry,
    TimeOff,
)

__all__ = [
    "ROLES",
    "SEED_MARKER",
    "SEED_VERSION",
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
SEED_VERSION = 2
"""Bumped when the demo firm gains records older DBs lack (2: contracts, change-order pipeline, billing
schedules), so a DB seeded by an older sandbox is refused rather than half-working."""
_T = TypeVar("_T")
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
    def _clients(self) -> dict[str, Client]:
        return {c.id: c for c in self.clients}

    @cached_property
    def _consultants(self) -> dict[str, Consultant]:
        return {k: c for c in self.consultants for k in (c.employee_id, c.email)}

    @cached_property
    def _opportunities(self) -> dict[str, Opportunity]:
        return {o.id: o for o in self.opportunities}

    @cached_property
    def _projects(self) -> dict[str, Project]:
        return {p.code: p for p in self.projects}

    @cached_property
    def _rate_cards(self) -> dict[str, RateCard]:
        return {k: r for r in self.rate_cards for k in (r.id, r.currency)}

    def client(self, id: str) -> Client:
        """The client with this id ("C-0001")."""
        return _look_up(self._clients, "client", id)

    def consultant(self, key: str) -> Consultant:
        """The consultant with this employee id ("E-1001") or email."""
        return _look_up(self._consultants, "consultant", key)

    def opportunity(self, id: str) -> Opportunity:
        """The opportunity with this id ("OPP-0001")."""
        return _look_up(self._opportunities, "opportunity", id)

    def project(self, code: str) -> Project:
        """The project with this code ("PRJ-0001")."""
        return _look_up(self._projects, "project", code)

    def rate_card(self, key: str) -> RateCard:
        """The rate card with this id ("RC-USD") or currency ("USD")."""
        return _look_up(self._rate_cards, "rate card", key)


def _look_up(table: dict[str, _T], kind: str, key: str) -> _T:
    try:
        return table[key]
    except KeyError:
        raise KeyError(f"the demo firm has no {kind} {key!r}") from None


class Seeded(Protocol):
    """What seeding needs of a system: its ``seed`` (``SandboxSystem`` is one)."""

    @property
    def seed(self) -> Callable[[SandboxDB, DemoFirm], None] | None: ...


def seed_all(db: SandboxDB, systems: Iterable[Seeded], firm: DemoFirm) -> None:
    """Write the firm into every system that has a seed, each system atomically."""
    for system in systems:
        if system.seed is not None:
            with db.transaction():
                system.seed(db, firm)
    db.kv_set(
        *SEED_MARKER, {"name": "demo", "seed": firm.seed, "today": firm.today.isoformat(), "version": SEED_VERSION}
    )


def seed_demo(db: SandboxDB, systems: Iterable[Seeded], *, today: date | None = None) -> DemoFirm:
    """Generate the demo firm and seed every system with it; return the firm."""
    firm = DemoFirm.generate(today=today)
    seed_all(db, systems, firm)
    return firm
