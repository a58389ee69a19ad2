"""The chaos run's report: one JSON-able object from the target systems' counts and what the run saw."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx

from bench._chaos_count import DealCounts, EntryCounts, InvoiceCounts
from bench._chaos_flows import invoicing_id

if TYPE_CHECKING:
    from bench._chaos_run import Run


@dataclass(frozen=True)
class Observed:
    """What the run saw besides the target systems' counts: psflow's own runs and the CRMs' deliveries."""

    runs: dict[str, str]
    """Provisioning workflow id → status."""
    postings: dict[str, str]
    invoicing: dict[str, str]
    reported: dict[str, Any]
    """Deal key → its provisioning run's result."""
    results: dict[str, Any]
    """Posting and invoicing workflow id → result."""
    injected: dict[str, Any]
    poll_triggers: int
    settle_s: float
    deliveries: dict[str, Any]
    left_out: int
    """Projects the first invoicing of the month reported it could not include yet."""


async def sandbox_deliveries(sandbox_url: str) -> dict[str, Any]:
    """The CRMs' own webhook deliveries to the gateway: attempts answered 5xx other than 503, and given up."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as http:
        relay = (await http.get("/_admin/salesforce/deliveries")).json()
        hubspot = (await http.get("/_admin/hubspot/webhooks/deliveries")).json()
    codes: Counter[str] = Counter()
    for delivery in relay:
        for attempt in delivery.get("attempts", []):
            codes[str(attempt.get("status_code"))] += 1
    for attempt in hubspot["results"]:
        codes[str(attempt.get("status"))] += 1
    return {
        "attempts_by_status": dict(codes),
        "5xx_other_than_503": sum(n for code, n in codes.items() if code.startswith("5") and code != "503"),
        "no_answer": codes.get("None", 0),
        "relay_failed_for_good": sum(1 for d in relay if d.get("status") == "failed"),
    }


def build_report(
    run: Run,
    days: list[date],
    period: str,
    deals: DealCounts,
    entries: EntryCounts,
    invoices: InvoiceCounts,
    observed: Observed,
) -> dict[str, Any]:
    """The run's figures as one JSON-able object."""
    runs, postings, invoicing, reported = observed.runs, observed.postings, observed.invoicing, observed.reported
    posting_results, deliveries, left_out = observed.results, observed.deliveries, observed.left_out
    inactive_but_provisioned = [
        key for key, result in reported.items()
        if field_of(result, "state") == "provisioned" and deals.detail[key]["inactive_jobs"]
    ]  # fmt: skip
    probe = run.chaos.restart_probe
    gateway_5xx = sum(w.server_error for w in run.webhooks) + deliveries["5xx_other_than_503"]
    # Records missing or doubled, plus invoice gaps: an expense, or a job's hours at one rate.
    lost = len(deals.lost) + len(entries.lost) + len(invoices.entries_not_invoiced) + len(invoices.jobs_short)
    duplicated = len(deals.duplicated) + entries.duplicated + len(invoices.entries_invoiced_twice)
    duplicated += len(invoices.jobs_over)
    return {
        "options": {
            key: str(value) if isinstance(value, date) else value for key, value in asdict(run.options).items()
        },
        "days": [day.isoformat() for day in days],
        "period": period,
        "lost": lost,
        "duplicated": duplicated,
        "half_provisioned": len(deals.half_provisioned),
        "gateway_5xx": gateway_5xx,
        "restart_probe_ok": not probe or (probe.get("status") == 503 and bool(probe.get("retry_after"))),
        "cli_tracebacks": sum(outcome.traceback for outcome in run.cli_outcomes),
        "deals": {
            "expected": deals.expected,
            "provisioned": deals.provisioned,
            "lost": deals.lost,
            "duplicated": deals.duplicated,
            "half_provisioned": deals.half_provisioned,
            "reported_provisioned_with_inactive_job": inactive_but_provisioned,
            "runs_by_status": dict(Counter(runs.values())),
            "not_provisioned_detail": {k: v for k, v in deals.detail.items() if k not in _provisioned(deals)},
        },
        "entries": asdict(entries),
        "invoices": {
            **asdict(invoices),
            "hours_not_invoiced": str(invoices.hours_not_invoiced),
            "hours_invoiced_twice": str(invoices.hours_invoiced_twice),
            "run": invoicing,
            "first_run_reported_left_out": left_out,
            "outcomes": _outcomes(posting_results.get(invoicing_id(period))),
        },
        "postings": {
            wid: {"status": status, "result": _plain(posting_results.get(wid))} for wid, status in postings.items()
        },
        "gateway": {
            "hostile_requests": len(run.webhooks),
            "hostile_5xx_or_dropped": [w.name for w in run.webhooks if w.server_error],
            "hostile_answers": {
                w.name: f"{w.status} {w.detail}"[:160]
                for w in run.webhooks
                if w.server_error or w.wrongly_accepted or w.wrongly_refused
            },
            "hostile_wrongly_accepted": [w.name for w in run.webhooks if w.wrongly_accepted],
            "genuine_refused": [w.name for w in run.webhooks if w.wrongly_refused],
            "restart_probe": probe,
            "crm_deliveries": deliveries,
        },
        "cli": {
            "inputs": len(run.cli_outcomes),
            "tracebacks": [" ".join(o.argv) for o in run.cli_outcomes if o.traceback],
            "exit_0": [" ".join(o.argv) for o in run.cli_outcomes if o.exit_code == 0],
            "no_exit": [" ".join(o.argv) for o in run.cli_outcomes if o.exit_code is None],
            "not_one_line": [" ".join(o.argv) for o in run.cli_outcomes if o.error_lines != 1],
            "operator_commands_ok": run.cli_ok,
        },
        "chaos": {
            "faults_injected": observed.injected,
            "worker_kills": run.chaos.worker_kills,
            "worker_crashes": run.chaos.worker_crashes,
            "server_restarts": run.chaos.server_restarts,
            "poll_triggers": observed.poll_triggers,
        },
        "seconds": {"total": round(time.monotonic() - run.started, 1), "settle": round(observed.settle_s, 1)},
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_after": round(os.getloadavg()[0], 2)},
        "problems": run.problems,
    }


def _provisioned(deals: DealCounts) -> set[str]:
    return {
        key for key, detail in deals.detail.items()
        if detail["open_workspaces"] == 1 and detail["active_jobs"] == 1 and not detail["inactive_jobs"]
        and not detail["archived_workspaces"]
    }  # fmt: skip


def field_of(result: Any, name: str) -> Any:
    """A field of a workflow result, decoded as a model or (without a result type) as a dict."""
    return result.get(name) if isinstance(result, dict) else getattr(result, name, None)


def _plain(result: Any) -> Any:
    """A posting's counts."""
    if result is None:
        return None
    data = result if isinstance(result, dict) else result.model_dump(mode="json")
    return {key: data[key] for key in ("posted", "already_posted", "rejected", "failed", "summary") if key in data}


def _outcomes(result: Any) -> dict[str, int]:
    """The monthly invoicing's projects by outcome."""
    projects = field_of(result, "projects") or []
    return dict(Counter(str(field_of(project, "outcome")) for project in projects))
