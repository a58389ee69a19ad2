"""The chaos run's verdict, counted from the target systems' own APIs once faults are off.

Deals, from Kantata and NetSuite: a deal is *provisioned* when exactly one open (not archived) PSA
workspace refers to it and its ERP job (external id = the deal's canonical id) is active;
*half-provisioned* when only one of the two is there and active (an open workspace with no job or an
inactive job, or an active job with no open workspace); *lost* when neither is; *duplicated* when
more than one workspace or job refers to it.

Entries, from NetSuite: each entry's time bill or expense report by external id (``kantata:<id>``).
*Lost*: none. *Duplicated*: ERP records dated on the run's days beyond one per entry (the days hold
only the run's entries).

Invoices, from NetSuite's invoices for the month (all of them: supplementary ones too): a line whose
description names an entry (``… (kantata:123)``: every expense, and every time entry since invoices
carry one line per entry) must exist exactly once for each posted entry. Time billed on lines that
name no entry (one line per rate) is matched by hours: the hours of the posted time bills that no
line names, per job and rate, must equal those lines' hours. Short is *not invoiced*, over is
*invoiced twice*.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from bench._chaos_world import KANTATA_TOKEN, Deal, Entry, _pages
from connectors.netsuite import NetSuiteConnector

ENTRY_LINE = re.compile(r"\((kantata:\d+)\)")


@dataclass
class DealCounts:
    """Won deals as the PSA and the ERP hold them."""

    expected: int = 0
    provisioned: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    half_provisioned: list[str] = field(default_factory=list)
    detail: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per deal: open and archived workspaces, active and inactive jobs."""


@dataclass
class EntryCounts:
    """Approved entries as the ERP holds them."""

    expected: int = 0
    posted: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: int = 0


@dataclass
class InvoiceCounts:
    """Posted work of the month as the ERP's invoices bill it."""

    invoices: int = 0
    entries_not_invoiced: list[str] = field(default_factory=list)
    entries_invoiced_twice: list[str] = field(default_factory=list)
    hours_not_invoiced: Decimal = Decimal(0)
    hours_invoiced_twice: Decimal = Decimal(0)
    jobs_short: list[str] = field(default_factory=list)
    jobs_over: list[str] = field(default_factory=list)


def _hours(value: Any) -> Decimal:
    """NetSuite durations read back as ``H:MM`` or a number of hours."""
    text = str(value)
    if ":" in text:
        hours, minutes = text.split(":", 1)
        return Decimal(hours) + Decimal(minutes) / 60
    return Decimal(text)


def _date_literal(day: date) -> str:
    return f"TO_DATE('{day.isoformat()}', 'YYYY-MM-DD')"


async def count_deals(sandbox_url: str, netsuite: NetSuiteConnector, deals: Sequence[Deal]) -> DealCounts:
    """Each deal's PSA workspaces and ERP jobs."""
    async with httpx.AsyncClient(base_url=sandbox_url, headers=KANTATA_TOKEN, timeout=60) as http:
        refs = await _pages(http, "external_references", {"subject_type": "Workspace"})
        workspaces = {w["id"]: w for w in await _pages(http, "workspaces", {"archived": "include"})}
    spaces: dict[str, list[bool]] = defaultdict(list)
    for ref in refs:
        if ref["service_model"] == "Project" and ref["subject_id"] in workspaces:
            spaces[ref["service_model_ref"]].append(bool(workspaces[ref["subject_id"]].get("archived")))
    jobs: dict[str, list[bool]] = defaultdict(list)
    async for job in netsuite.suiteql("SELECT id, externalid, isinactive FROM job ORDER BY id"):
        if job.get("externalid"):
            jobs[str(job["externalid"])].append(str(job.get("isinactive")) == "T")
    counts = DealCounts(expected=len(deals))
    for deal in deals:
        archived, inactive = spaces.get(deal.key, []), jobs.get(deal.key, [])
        detail = {
            "open_workspaces": archived.count(False), "archived_workspaces": archived.count(True),
            "active_jobs": inactive.count(False), "inactive_jobs": inactive.count(True),
        }  # fmt: skip
        counts.detail[deal.key] = detail
        in_psa, in_erp = detail["open_workspaces"] > 0, detail["active_jobs"] > 0
        if len(archived) > 1 or len(inactive) > 1:
            counts.duplicated.append(deal.key)
        if in_psa and in_erp:
            counts.provisioned += 1
        elif in_psa or in_erp:
            counts.half_provisioned.append(deal.key)
        else:
            counts.lost.append(deal.key)
    return counts


async def _records_on(
    netsuite: NetSuiteConnector, table: str, days: Sequence[date], columns: str
) -> list[dict[str, Any]]:
    where = f"trandate BETWEEN {_date_literal(min(days))} AND {_date_literal(max(days))}"
    wanted = {day.isoformat() for day in days}
    rows = [row async for row in netsuite.suiteql(f"SELECT {columns}, trandate FROM {table} WHERE {where} ORDER BY id")]
    return [row for row in rows if _iso(row.get("trandate")) in wanted]


def _iso(value: Any) -> str:
    """NetSuite shows dates as ``M/D/YYYY``."""
    month, day, year = str(value).split("/")
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


async def count_entries(
    netsuite: NetSuiteConnector, entries: Sequence[Entry]
) -> tuple[EntryCounts, list[dict[str, Any]], list[dict[str, Any]]]:
    """Each entry's ERP record; also returns the time bills and expense reports read."""
    days = sorted({entry.day for entry in entries})
    bills = await _records_on(netsuite, "timebill", days, "id, externalid, customer, hours, rate")
    reports = await _records_on(netsuite, "expensereport", days, "id, externalid")
    found = Counter(str(row.get("externalid")) for row in [*bills, *reports])
    counts = EntryCounts(expected=len(entries))
    for entry in entries:
        if found[entry.id]:
            counts.posted += 1
        else:
            counts.lost.append(entry.id)
    counts.duplicated = len(bills) + len(reports) - counts.posted
    return counts, bills, reports


async def count_invoices(
    netsuite: NetSuiteConnector, period: str, bills: Sequence[dict[str, Any]], reports: Sequence[dict[str, Any]]
) -> InvoiceCounts:
    """The month's invoice lines against the posted time bills and expense reports."""
    headers = [row async for row in netsuite.suiteql("SELECT id, externalid, job, startdate FROM invoice ORDER BY id")]
    mine = [row for row in headers if _iso(row.get("startdate"))[:7] == period]
    counts = InvoiceCounts(invoices=len(mine))
    billed_hours: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    named: Counter[str] = Counter()
    for header in mine:
        invoice = await netsuite.client.get_json(
            f"/record/v1/invoice/{header['id']}", params={"expandSubResources": "true"}
        )
        for line in (invoice.get("item") or {}).get("items", []):
            entry = ENTRY_LINE.search(str(line.get("description") or ""))
            if entry:
                named[entry.group(1)] += 1
            else:
                billed_hours[(str(header.get("job")), Decimal(str(line["rate"])))] += Decimal(str(line["quantity"]))
    posted_hours: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for bill in bills:
        if not named[str(bill.get("externalid"))]:
            posted_hours[(str(bill["customer"]), Decimal(str(bill["rate"])))] += _hours(bill["hours"])
    for key in sorted(set(posted_hours) | set(billed_hours)):
        gap = posted_hours[key] - billed_hours[key]
        if gap > 0:
            counts.hours_not_invoiced += gap
            counts.jobs_short.append(f"job {key[0]} at {key[1]}: {gap} h")
        elif gap < 0:
            counts.hours_invoiced_twice -= gap
            counts.jobs_over.append(f"job {key[0]} at {key[1]}: {-gap} h")
    for report in reports:
        times = named[str(report.get("externalid"))]
        if times == 0:
            counts.entries_not_invoiced.append(str(report.get("externalid")))
        elif times > 1:
            counts.entries_invoiced_twice.append(str(report.get("externalid")))
    counts.entries_invoiced_twice += sorted(
        str(bill.get("externalid")) for bill in bills if named[str(bill.get("externalid"))] > 1
    )
    return counts
