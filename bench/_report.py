"""The provisioning benchmark's report: the JSON object it ends with, the target verdict, the summary table."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from bench._load import Arrivals, BenchOptions, Phase

TARGET_P95_MS = 300.0
TARGET_THROUGHPUT_PER_S = 20.0
PHASES = ("orchestrated", "baseline")


def _ratio(orchestrated_value: float | None, baseline_value: float | None) -> float | None:
    if not orchestrated_value or not baseline_value:
        return None
    return round(orchestrated_value / baseline_value, 2)


def judge(figures: dict[str, Any], arrivals: Arrivals) -> bool:
    """Whether the orchestrated phase meets the target: p95, no failure, and throughput.

    An open loop cannot complete faster than it offers, so at a rate the throughput half is "at
    least the target rate was offered" (a stack that cannot keep up queues, and its p95 shows it);
    a closed loop is judged on its measured throughput.
    """
    p95 = figures["p95_ms"]
    if p95 is None or p95 > TARGET_P95_MS or figures["failed"]:
        return False
    if arrivals.concurrency:
        return bool(figures["throughput_per_s"] >= TARGET_THROUGHPUT_PER_S)
    return (arrivals.rate or 0) >= TARGET_THROUGHPUT_PER_S


def report(
    options: BenchOptions,
    phases: dict[str, Phase],
    machine: dict[str, Any],
    failures: dict[str, list[str]],
    stack: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON object the run ends with."""
    figures = {name: phase.figures() for name, phase in phases.items()}
    orchestrated_figures, baseline_figures = figures["orchestrated"], figures["baseline"]
    return {
        "deals": options.deals,
        "mode": options.arrivals.mode,
        "warmup": options.warmup,
        "orchestrated": orchestrated_figures,
        "baseline": baseline_figures,
        "ratio": {
            "p50": _ratio(orchestrated_figures["p50_ms"], baseline_figures["p50_ms"]),
            "p95": _ratio(orchestrated_figures["p95_ms"], baseline_figures["p95_ms"]),
            "throughput": _ratio(orchestrated_figures["throughput_per_s"], baseline_figures["throughput_per_s"]),
        },
        "target": {"p95_ms": TARGET_P95_MS, "throughput_per_s": TARGET_THROUGHPUT_PER_S},
        "meets_target": judge(orchestrated_figures, options.arrivals),
        "machine": machine,
        "stack": stack or {},
        "first_failures": {name: found[:3] for name, found in failures.items() if found},
    }


def summary_table(result: dict[str, Any]) -> Table:
    """Both phases side by side, with the ratio and the target."""
    stack = result.get("stack", {})
    where = (
        f" ({stack['server']}, {stack['workers']} worker{'s' if stack['workers'] > 1 else ''})"
        if stack.get("server")
        else ""
    )
    table = Table(title=f"Provisioning: {result['deals']} deals, {result['mode']}{where}")
    for header in ("", "orchestrated", "baseline (direct)", "ratio", "target"):
        table.add_column(header, justify="right" if header else "left")
    rows = (
        ("p50 ms", "p50_ms", "p50", None),
        ("p95 ms", "p95_ms", "p95", f"<= {TARGET_P95_MS:g}"),
        ("p99 ms", "p99_ms", None, None),
        ("max ms", "max_ms", None, None),
        ("throughput /s", "throughput_per_s", "throughput", f">= {TARGET_THROUGHPUT_PER_S:g}"),
        ("failed", "failed", None, "0"),
    )
    for label, key, ratio_key, target in rows:
        ratio = result["ratio"].get(ratio_key) if ratio_key else None
        table.add_row(
            label,
            str(result["orchestrated"][key]),
            str(result["baseline"][key]),
            "" if ratio is None else f"{ratio:g}x",
            target or "",
        )
    cpu = {phase: result[phase].get("cpu_ms_per_deal", {}) for phase in PHASES}
    for process in sorted(set(cpu["orchestrated"]) | set(cpu["baseline"])):
        used = [cpu[phase].get(process) for phase in PHASES]
        table.add_row(f"CPU ms/deal: {process}", *("" if value is None else f"{value:g}" for value in used), "", "")
    calls = {phase: result[phase].get("requests_per_deal", {}) for phase in PHASES}
    for system in sorted(set(calls["orchestrated"]) | set(calls["baseline"]), key=lambda name: (name == "total", name)):
        used = [calls[phase].get(system) for phase in PHASES]
        table.add_row(f"calls/deal: {system}", *("" if value is None else f"{value:g}" for value in used), "", "")
    machine = result["machine"]
    verdict = "[green]meets the target[/green]" if result["meets_target"] else "[red]misses the target[/red]"
    table.caption = (
        f"{verdict} · {machine['cpus']} CPUs · load {machine['load_avg_1m_before']} before, "
        f"{machine['load_avg_1m_after']} after · Python {machine['python']} · Temporal CLI "
        f"{machine['temporal_cli_version']}"
    )
    return table
