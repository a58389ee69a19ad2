"""Take docs/operations.md's screenshots with headless Chromium, from a running local stack.

1. ``web-ui-decoded.png``: the Temporal Web UI (the dev server's embedded UI) on a provisioning run, its
   payloads decoded through the codec server — ``psflow dev up`` points the UI at it.
2. ``jaeger-trace.png``: one trace from Jaeger. A Jaeger built from source (``stack/local/jaeger.py``)
   has no UI, so the trace is read from Jaeger's query API (``GET /api/traces/{id}``), rendered here as a
   small HTML waterfall (spans, durations, attributes), and that page is what Chromium shoots.

Run it after ``psflow dev up --telemetry`` and ``psflow demo`` (or any won deal), with the same
``PSFLOW_*`` settings as the stack::

    python scripts/screenshots.py                      # both, into docs/img/
    python scripts/screenshots.py --only web-ui --workflow-id engagement-provisioning:salesforce:0068...
    python scripts/screenshots.py --only trace --jaeger http://127.0.0.1:16686 --trace-id 4bf92f...

Chromium is Debian's ``chromium`` (or ``$CHROMIUM``); no browser is downloaded. The URL building and
the HTML rendering are pure functions (``tests/ops/test_screenshots.py``); the shooting is not tested.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
WEB_UI_PNG = "web-ui-decoded.png"
TRACE_PNG = "jaeger-trace.png"
WIDTH = 1440
WEB_UI_HEIGHT = 1000
PROVISIONING_TYPE = "ProvisionEngagement"
TRACE_SERVICE = "psflow-gateway"
"""Where a business transaction's trace starts (a deal-won webhook)."""

HIDDEN_TAGS = frozenset({"internal.span.format", "otel.scope.name", "otel.scope.version", "otel.status_code"})
"""Jaeger's own bookkeeping tags: not the span's attributes."""
ROW_PX = 60
HEADER_PX = 150


# --- URLs -------------------------------------------------------------------------------------------------


def web_ui_workflow_url(ui_url: str, namespace: str, workflow_id: str, run_id: str | None = None) -> str:
    """The Web UI's page of one workflow run (its latest run without ``run_id``); ids are path-escaped."""
    base = f"{ui_url.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
    return f"{base}/{quote(run_id, safe='')}/history" if run_id else base


def jaeger_trace_url(query_url: str, trace_id: str) -> str:
    """Jaeger's query API for one trace (research note temporal-round2 §8)."""
    return f"{query_url.rstrip('/')}/api/traces/{quote(trace_id, safe='')}"


def jaeger_search_url(query_url: str, service: str, limit: int = 20) -> str:
    """Jaeger's query API for a service's recent traces."""
    return f"{query_url.rstrip('/')}/api/traces?{urlencode({'service': service, 'limit': limit})}"


# --- the trace waterfall ----------------------------------------------------------------------------------


def _parent(span: Mapping[str, Any]) -> str | None:
    for reference in span.get("references") or []:
        if reference.get("refType") == "CHILD_OF":
            return str(reference["spanID"])
    return None


def ordered_spans(trace: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """The trace's spans depth-first, children by start time, each with its depth.

    A span whose parent is not in the trace (a FOLLOWS_FROM link only, or a parent not exported) is a root.
    """
    spans = list(trace.get("spans") or [])
    ids = {str(span["spanID"]) for span in spans}
    children: dict[str | None, list[Mapping[str, Any]]] = {}
    for span in spans:
        parent = _parent(span)
        children.setdefault(parent if parent in ids else None, []).append(span)

    def walk(parent: str | None, depth: int) -> Iterator[tuple[int, Mapping[str, Any]]]:
        for span in sorted(children.get(parent, []), key=lambda s: (int(s["startTime"]), str(s["spanID"]))):
            yield depth, span
            yield from walk(str(span["spanID"]), depth + 1)

    return list(walk(None, 0))


def span_attributes(span: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The span's attributes as Jaeger shows them (its bookkeeping tags left out), sorted by key."""
    shown = [(str(t["key"]), str(t["value"])) for t in span.get("tags") or [] if t["key"] not in HIDDEN_TAGS]
    return sorted(shown)


def own_attributes_first(span: Mapping[str, Any], parent: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The span's attributes, those its parent has too (the business keys every span repeats) last."""
    attributes = span_attributes(span)
    inherited = set(span_attributes(parent)) if parent is not None else set()
    return [kv for kv in attributes if kv not in inherited] + [kv for kv in attributes if kv in inherited]


def duration_text(microseconds: int) -> str:
    if microseconds < 1000:
        return f"{microseconds} µs"
    if microseconds < 1_000_000:
        return f"{microseconds / 1000:.1f} ms"
    return f"{microseconds / 1_000_000:.2f} s"


_COLOURS = ("#3b82f6", "#10b981", "#f59e0b", "#8b5cf6", "#ef4444", "#14b8a6")


def _label_position(left: float, width: float) -> str:
    """A bar's duration label: after the bar, or before it when the bar reaches the lane's right end."""
    if left + width <= 85:
        return f"left:{left + width:.3f}%"
    return f"right:{100 - left:.3f}%;margin-right:6px"


def trace_height(trace: Mapping[str, Any]) -> int:
    """The window height that shows the whole waterfall."""
    return HEADER_PX + ROW_PX * len(trace.get("spans") or []) + 40


def render_trace(document: Mapping[str, Any]) -> str:
    """A self-contained HTML waterfall of the first trace in a ``/api/traces/{id}`` answer.

    Raises:
        ValueError: The document holds no trace.
    """
    traces = document.get("data") or []
    if not traces:
        raise ValueError("the Jaeger answer holds no trace")
    trace = traces[0]
    processes: Mapping[str, Any] = trace.get("processes") or {}
    rows = ordered_spans(trace)
    start = min(int(span["startTime"]) for _, span in rows)
    end = max(int(span["startTime"]) + int(span["duration"]) for _, span in rows)
    total = max(end - start, 1)
    services = sorted({str(processes.get(span["processID"], {}).get("serviceName", "?")) for _, span in rows})
    colour = {service: _COLOURS[n % len(_COLOURS)] for n, service in enumerate(services)}
    root = rows[0][1]
    by_id = {str(span["spanID"]): span for _, span in rows}
    e = html.escape
    lines = []
    for depth, span in rows:
        service = str(processes.get(span["processID"], {}).get("serviceName", "?"))
        left = (int(span["startTime"]) - start) / total * 100
        width = max(int(span["duration"]) / total * 100, 0.25)
        parent = by_id.get(_parent(span) or "")
        attributes = " ".join(
            f'<span class="kv"><b>{e(key)}</b>={e(value)}</span>' for key, value in own_attributes_first(span, parent)
        )
        lines.append(
            f'<tr><td class="name" style="padding-left:{8 + depth * 16}px">'
            f'<span class="chip" style="background:{colour[service]}"></span>'
            f'<span class="svc">{e(service)}</span> {e(str(span["operationName"]))}'
            f'<div class="attrs">{attributes}</div></td>'
            f'<td class="lane"><div class="bar" style="left:{left:.3f}%;width:{width:.3f}%;'
            f'background:{colour[service]}"></div>'
            f'<span class="dur" style="{_label_position(left, width)}">{e(duration_text(int(span["duration"])))}'
            "</span></td></tr>"
        )
    legend = " ".join(
        f'<span class="chip" style="background:{colour[s]}"></span><span class="svc">{e(s)}</span>' for s in services
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>trace {e(str(trace["traceID"]))}</title>
<style>
body {{ font: 13px system-ui, sans-serif; margin: 16px 20px; color: #111827; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
.meta {{ color: #4b5563; margin-bottom: 10px; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
td {{ border-top: 1px solid #e5e7eb; vertical-align: top; height: {ROW_PX - 1}px; }}
td.name {{ width: 50%; overflow: hidden; white-space: nowrap; }}
td.lane {{ position: relative; background: repeating-linear-gradient(90deg, #fff 0 9.9%, #f3f4f6 9.9% 10%); }}
.bar {{ position: absolute; top: 9px; height: 14px; border-radius: 3px; }}
.dur {{ position: absolute; top: 8px; margin-left: 6px; white-space: nowrap; color: #374151; font-size: 12px; }}
.chip {{ display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }}
.svc {{ color: #6b7280; margin-right: 4px; }}
.attrs {{ color: #374151; font: 11px ui-monospace, monospace; white-space: normal; line-height: 14px; max-height: 28px;
  overflow: hidden; }}
.kv {{ margin-right: 8px; }}
.note {{ color: #6b7280; margin-top: 10px; font-size: 12px; }}
</style></head><body>
<h1>{e(str(root["operationName"]))}</h1>
<div class="meta">trace {e(str(trace["traceID"]))} · {len(rows)} spans · {e(duration_text(total))} · {legend}</div>
<table>{"".join(lines)}</table>
<div class="note">Rendered by scripts/screenshots.py from Jaeger's query API (GET /api/traces/{{id}}):
a Jaeger built from source has no web UI.</div>
</body></html>
"""


# --- finding what to shoot --------------------------------------------------------------------------------


def busiest_trace_id(search: Mapping[str, Any]) -> str:
    """The trace with the most spans in a ``/api/traces?service=`` answer (a whole business transaction).

    Raises:
        LookupError: The answer holds no trace.
    """
    traces = search.get("data") or []
    if not traces:
        raise LookupError("Jaeger holds no trace for the service yet: win a deal first (psflow demo)")
    return str(max(traces, key=lambda t: (len(t.get("spans") or []), str(t["traceID"])))["traceID"])


async def newest_provisioning(settings: Any) -> tuple[str, str]:
    """The workflow id and run id of the newest completed provisioning run."""
    from stack.client import connect

    client = await connect(settings)
    query = f'WorkflowType="{PROVISIONING_TYPE}" AND ExecutionStatus="Completed"'
    async for execution in client.list_workflows(query, limit=1):
        return execution.id, execution.run_id
    raise LookupError("no completed provisioning run yet: win a deal first (psflow demo)")


# --- shooting ---------------------------------------------------------------------------------------------


def chromium() -> str:
    """Debian's chromium (or ``$CHROMIUM``)."""
    found = os.environ.get("CHROMIUM") or next(
        (path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))), None
    )
    if found is None:
        raise LookupError("no chromium on PATH: apt-get install chromium (or set CHROMIUM)")
    return found


def chromium_command(binary: str, url: str, png: Path, *, height: int, budget_ms: int, profile: Path) -> list[str]:
    """Headless Chromium shooting ``url`` into ``png`` once the page settled (``--virtual-time-budget``)."""
    return [
        binary,
        "--headless",
        *(["--no-sandbox"] if os.geteuid() == 0 else []),  # Chromium's sandbox refuses to run as root
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{height}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={png}",
        url,
    ]


def shoot(url: str, png: Path, *, height: int, budget_ms: int = 15000) -> None:
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="psflow-chromium-") as profile:
        command = chromium_command(chromium(), url, png, height=height, budget_ms=budget_ms, profile=Path(profile))
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium could not shoot {url}: {done.stderr.strip()[-400:]}")
    print(f"{png} <- {url.split('?')[0]}")


def web_ui(settings: Any, out: Path, workflow_id: str | None) -> None:
    run_id = None
    if workflow_id is None:
        workflow_id, run_id = asyncio.run(newest_provisioning(settings))
    url = web_ui_workflow_url(settings.temporal.ui_url, settings.temporal.namespace, workflow_id, run_id)
    shoot(url, out / WEB_UI_PNG, height=WEB_UI_HEIGHT)


def trace(query_url: str, out: Path, trace_id: str | None) -> None:
    with httpx.Client(timeout=10) as http:
        if trace_id is None:
            found = http.get(jaeger_search_url(query_url, TRACE_SERVICE))
            found.raise_for_status()
            trace_id = busiest_trace_id(found.json())
        answer = http.get(jaeger_trace_url(query_url, trace_id))
        answer.raise_for_status()
    document = answer.json()
    with tempfile.TemporaryDirectory(prefix="psflow-trace-") as directory:
        page = Path(directory) / "trace.html"
        page.write_text(render_trace(document), encoding="utf-8")
        shoot(page.as_uri(), out / TRACE_PNG, height=trace_height(document["data"][0]), budget_ms=2000)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNGs go (default docs/img)")
    parser.add_argument("--only", choices=("web-ui", "trace"), help="take one screenshot only")
    parser.add_argument("--workflow-id", help="the run to show (default: the newest completed provisioning)")
    parser.add_argument("--jaeger", default="http://127.0.0.1:16686", help="Jaeger's query URL")
    parser.add_argument("--trace-id", help=f"the trace to show (default: {TRACE_SERVICE}'s with the most spans)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from stack.settings import Settings

    try:
        if args.only in (None, "web-ui"):
            web_ui(Settings(), args.out, args.workflow_id)
        if args.only in (None, "trace"):
            trace(args.jaeger, args.out, args.trace_id)
    except (LookupError, RuntimeError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
