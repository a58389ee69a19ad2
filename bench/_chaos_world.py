"""What a chaos run does business with: won deals in both CRMs, approved time and expenses in the PSA.

Deals: about a quarter are the demo firm's open HubSpot deals (every one has a billable company and
line items), the rest are new Salesforce deals copied from the demo's open ones, each under a new
billable account (`bench._deals.create_open_deals`), so every deal should end provisioned and none
waits for a person.

Entries: time entries and expenses created through Kantata's API before the faults start, each a copy
of a billable, priced, approved demo entry (project, task, consultant, role, rate; an expense's
category) with its own notes, so the duplicate rule never matches. They are dated on weekend days of
last month — the demo firm logs business days only, so those days hold nothing else, and last month
is the latest one that can be invoiced and whose ERP period is open. They are left submitted; the run
approves each day just before posting it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

import httpx

from bench._deals import create_open_deals
from canonical import OpportunityStage
from stack.connectors import Connectors
from workflows.provision_engagement import workflow_id

KANTATA_TOKEN = {"Authorization": "Bearer psflow-demo-kantata-token"}
KANTATA_API = "/kantata/api/v1"
EXPENSE_EVERY = 6
"""One entry in this many is an expense; the others are time."""

Crm = Literal["salesforce", "hubspot"]
Kind = Literal["time_entry", "expense"]
T = TypeVar("T")


class ArrangeError(Exception):
    """The sandbox could not hold the run's deals or entries; the message says why."""


@dataclass(frozen=True)
class Deal:
    """One deal the run wins, and the ids each system knows it by."""

    crm: Crm
    id: str

    @property
    def key(self) -> str:
        """``crm:id``: the engagement's (and project's) canonical id, the PSA reference and the ERP external id."""
        return f"{self.crm}:{self.id}"

    @property
    def workflow_id(self) -> str:
        """Its provisioning run's workflow id."""
        return workflow_id(self.crm, self.id)


@dataclass(frozen=True)
class Entry:
    """One time entry or expense the run creates, approves and expects in the ERP exactly once."""

    kind: Kind
    id: str
    """``kantata:<id>``: the ERP record's external id."""
    day: date
    project: str
    """The canonical project id the PSA's workspace refers to (``PRJ-0001``)."""


async def with_retries(what: str, call: Callable[[], Awaitable[T]], attempts: int = 12) -> T:
    """The run's own writes go through the faulted APIs too: retry them, bounded, like a patient person."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as exc:
            if attempt + 1 == attempts:
                raise ArrangeError(f"{what} still failed after {attempts} attempts: {exc}") from exc
            await asyncio.sleep(min(0.25 * 2**attempt, 4.0))
    raise AssertionError("unreachable")


def chaos_days(today: date, count: int) -> list[date]:
    """The last ``count`` Saturdays and Sundays of the month before ``today``, oldest first."""
    first_of_month = today.replace(day=1)
    day = first_of_month - timedelta(days=1)
    days: list[date] = []
    while day.month == (first_of_month - timedelta(days=1)).month and len(days) < count:
        if day.weekday() >= 5:
            days.append(day)
        day -= timedelta(days=1)
    if len(days) < count:
        raise ArrangeError(f"last month has only {len(days)} weekend days: use --days {len(days)} or fewer")
    return sorted(days)


async def _open_hubspot_deals(connectors: Connectors) -> list[str]:
    still_open = {"propertyName": "dealstage", "operator": "NOT_IN", "values": ["closedwon", "closedlost"]}
    body = {"filterGroups": [{"filters": [still_open]}], "properties": ["dealstage"], "limit": 100}
    page = await connectors.hubspot.api.search_page("deals", body)
    return sorted(record.id for record in page.results)


async def choose_deals(
    connectors: Connectors, count: int, rng: random.Random, run_id: str, say: Callable[[str], None]
) -> tuple[list[Deal], Deal]:
    """``count`` open deals to win during the run, shuffled, and one more HubSpot deal for the server restart."""
    hubspot = await _open_hubspot_deals(connectors)
    if len(hubspot) < 2:
        raise ArrangeError("the HubSpot emulator has fewer than 2 open deals: start the sandbox with `--seed demo`")
    rng.shuffle(hubspot)
    restart_deal, hubspot = Deal("hubspot", hubspot[0]), hubspot[1:]
    from_hubspot = min(len(hubspot), max(1, count // 4))
    salesforce = await create_open_deals(connectors.salesforce, count - from_hubspot, run_id, say)
    deals = [Deal("hubspot", deal) for deal in hubspot[:from_hubspot]]
    deals += [Deal("salesforce", deal) for deal in salesforce]
    rng.shuffle(deals)
    return deals, restart_deal


async def win(connectors: Connectors, deal: Deal) -> None:
    """Move the deal to closed won in its CRM (the CRM then notifies the gateway)."""
    if deal.crm == "salesforce":
        call: Callable[[], Awaitable[None]] = lambda: connectors.salesforce.set_opportunity_stage(  # noqa: E731
            deal.id, OpportunityStage.CLOSED_WON
        )
    else:
        call = lambda: connectors.hubspot.set_deal_stage(deal.id, OpportunityStage.CLOSED_WON)  # noqa: E731
    await with_retries(f"winning {deal.key}", call)


async def _pages(http: httpx.AsyncClient, resource: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await http.get(
            f"{KANTATA_API}/{resource}.json", params={**(params or {}), "per_page": 200, "page": page}
        )
        response.raise_for_status()
        body = response.json()
        records += [body[resource][result["id"]] for result in body["results"]]
        if page >= body["meta"]["page_count"]:
            return records
        page += 1


async def _project_refs(http: httpx.AsyncClient) -> dict[str, str]:
    """Canonical project id by Kantata workspace id."""
    refs = await _pages(http, "external_references", {"subject_type": "Workspace"})
    return {ref["subject_id"]: ref["service_model_ref"] for ref in refs if ref["service_model"] == "Project"}


async def create_entries(sandbox_url: str, days: Sequence[date], count: int, rng: random.Random) -> list[Entry]:
    """``count`` submitted entries spread over ``days`` (one in `EXPENSE_EVERY` an expense), through Kantata's API."""
    async with httpx.AsyncClient(base_url=sandbox_url, headers=KANTATA_TOKEN, timeout=60) as http:
        projects = await _project_refs(http)
        time_templates = {
            (e["workspace_id"], e["user_id"]): e
            for e in await _pages(http, "time_entries")
            if e["approved"] and e["billable"] and e.get("rate_in_cents") and e.get("story_id")
            and e["workspace_id"] in projects
        }  # fmt: skip
        expense_templates = {
            e["workspace_id"]: e
            for e in await _pages(http, "expenses")
            if e["approved"] and e["billable"] and e["workspace_id"] in projects
        }
        if not time_templates or not expense_templates:
            raise ArrangeError("the Kantata emulator has no approved billable demo entries to copy: seed it with demo")
        times = [time_templates[key] for key in sorted(time_templates)]
        expenses = [expense_templates[key] for key in sorted(expense_templates)]
        bodies: dict[Kind, list[tuple[date, dict[str, Any]]]] = {"time_entry": [], "expense": []}
        for number in range(count):
            day = days[number % len(days)]
            notes = f"Chaos run entry {day.isoformat()} #{number}"
            if number % EXPENSE_EVERY == EXPENSE_EVERY - 1:
                template = rng.choice(expenses)
                body = {
                    "workspace_id": template["workspace_id"], "user_id": template["user_id"], "date": day.isoformat(),
                    "category": template["category"], "amount_in_cents": rng.randrange(1_000, 30_000),
                    "billable": True, "notes": notes,
                }  # fmt: skip
                bodies["expense"].append((day, body))
            else:
                template = rng.choice(times)
                body = {
                    "workspace_id": template["workspace_id"], "story_id": template["story_id"],
                    "user_id": template["user_id"], "role_id": template["role_id"], "date_performed": day.isoformat(),
                    "time_in_minutes": 30 * rng.randint(1, 16), "rate_in_cents": template["rate_in_cents"],
                    "billable": True, "notes": notes,
                }  # fmt: skip
                bodies["time_entry"].append((day, body))
        entries: list[Entry] = []
        for kind, resource in (("time_entry", "time_entries"), ("expense", "expenses")):
            pending = bodies[kind]  # type: ignore[index]
            for start in range(0, len(pending), 100):
                batch = pending[start : start + 100]
                response = await http.post(f"{KANTATA_API}/{resource}.json", json={resource: [b for _, b in batch]})
                if response.status_code >= 400:
                    raise ArrangeError(f"Kantata refused the run's {resource}: {response.text[:300]}")
                ids = [result["id"] for result in response.json()["results"]]
                entries += [
                    Entry(kind, f"kantata:{entry_id}", day, projects[body["workspace_id"]])  # type: ignore[arg-type]
                    for entry_id, (day, body) in zip(ids, batch, strict=True)
                ]
        return entries


async def approve(sandbox_url: str, entries: Sequence[Entry]) -> None:
    """Approve these entries, as their manager would (the admin route: never faulted)."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as http:
        for kind, resource in (("time_entry", "time_entries"), ("expense", "expenses")):
            ids = [entry.id.removeprefix("kantata:") for entry in entries if entry.kind == kind]
            if ids:
                response = await http.post(f"/_admin/kantata/{resource}/approve", json={"ids": ids})
                if response.status_code >= 400:
                    raise ArrangeError(f"Kantata would not approve the run's {resource}: {response.text[:300]}")
