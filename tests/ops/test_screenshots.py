"""scripts/screenshots.py's pure parts: the URLs it opens and the trace waterfall it renders from a fixed
Jaeger ``/api/traces/{id}`` answer (research note temporal-round2 §8.3 for its shape). Taking the
screenshots needs a running stack and Chromium, and is not a test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts.screenshots import (
    HEADER_PX,
    ROW_PX,
    busiest_trace_id,
    chromium_command,
    duration_text,
    jaeger_search_url,
    jaeger_trace_url,
    ordered_spans,
    own_attributes_first,
    render_trace,
    span_attributes,
    trace_height,
    web_ui_workflow_url,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_700_000_000_000_000  # µs: a fixed instant, the document's own


def span(span_id: str, name: str, start: int, duration: int, process: str, parent: str | None = None,
         tags: dict[str, Any] | None = None, ref: str = "CHILD_OF") -> dict[str, Any]:  # fmt: skip
    return {
        "traceID": TRACE,
        "spanID": span_id,
        "operationName": name,
        "references": [{"refType": ref, "traceID": TRACE, "spanID": parent}] if parent else [],
        "startTime": T0 + start,
        "duration": duration,
        "tags": [{"key": k, "type": "string", "value": v} for k, v in (tags or {}).items()],
        "processID": process,
        "warnings": None,
    }


# Listed out of order on purpose: Jaeger does not sort them.
DOCUMENT: dict[str, Any] = {
    "data": [
        {
            "traceID": TRACE,
            "spans": [
                span("a5", "PUT /record/v1/job/{id}", 700_000, 90_000, "p2", "a4",
                     {"http.request.method": "PUT", "psflow.system": "netsuite", "http.response.status_code": 200,
                      "psflow.retry_count": 1, "psflow.engagement_id": "salesforce:006A"}),
                span("a1", "POST /webhooks/salesforce", 0, 40_000, "p1",
                     tags={"psflow.deal_id": "006A<script>", "internal.span.format": "otlp", "span.kind": "server"}),
                span("a3", "RunWorkflow:ProvisionEngagement", 60_000, 900_000, "p2", "a2",
                     {"psflow.engagement_id": "salesforce:006A"}),
                span("a2", "StartWorkflow:ProvisionEngagement", 10_000, 20_000, "p1", "a1"),
                span("a4", "RunActivity:erp.create_job", 650_000, 200_000, "p2", "a3",
                     {"psflow.engagement_id": "salesforce:006A"}),
                span("a6", "HandleSignal:answer", 800_000, 500, "p2", "zz", ref="FOLLOWS_FROM"),
            ],
            "processes": {"p1": {"serviceName": "psflow-gateway", "tags": []},
                          "p2": {"serviceName": "psflow-worker", "tags": []}},
            "warnings": None,
        }
    ],
    "total": 0,
    "limit": 0,
    "offset": 0,
    "errors": None,
}  # fmt: skip


def test_the_web_ui_url_escapes_the_workflow_id_and_names_the_run_history() -> None:
    workflow = "engagement-provisioning:salesforce:0068d0000000001AAA"
    assert web_ui_workflow_url("http://localhost:8233/", "default", workflow) == (
        "http://localhost:8233/namespaces/default/workflows/engagement-provisioning%3Asalesforce%3A0068d0000000001AAA"
    )
    assert web_ui_workflow_url("http://localhost:8233", "default", "a/b", "r-1").endswith(
        "/workflows/a%2Fb/r-1/history"
    )


def test_the_jaeger_query_urls() -> None:
    assert jaeger_trace_url("http://127.0.0.1:16686/", TRACE) == f"http://127.0.0.1:16686/api/traces/{TRACE}"
    assert jaeger_search_url("http://127.0.0.1:16686", "psflow-gateway", 5) == (
        "http://127.0.0.1:16686/api/traces?service=psflow-gateway&limit=5"
    )


def test_spans_are_ordered_as_a_tree_depth_first_and_a_link_only_span_is_a_root() -> None:
    ordered = [(depth, s["spanID"]) for depth, s in ordered_spans(DOCUMENT["data"][0])]
    assert ordered == [(0, "a1"), (1, "a2"), (2, "a3"), (3, "a4"), (4, "a5"), (0, "a6")]


def test_the_waterfall_shows_every_span_in_tree_order_with_service_duration_and_attributes() -> None:
    page = render_trace(DOCUMENT)
    names = ["POST /webhooks/salesforce", "StartWorkflow:ProvisionEngagement", "RunWorkflow:ProvisionEngagement",
             "RunActivity:erp.create_job", "PUT /record/v1/job/{id}", "HandleSignal:answer"]  # fmt: skip
    assert [page.index(f"</span> {name}<div") for name in names] == sorted(
        page.index(f"</span> {n}<div") for n in names
    )
    assert "<h1>POST /webhooks/salesforce</h1>" in page
    assert f"trace {TRACE} · 6 spans · 960.0 ms" in page  # the first start → the last end (a3's)
    assert "<b>psflow.system</b>=netsuite" in page and "<b>psflow.retry_count</b>=1" in page
    assert "<b>http.response.status_code</b>=200" in page
    assert "90.0 ms" in page and "500 µs" in page and "200.0 ms" in page
    assert page.count('class="svc">psflow-worker') == 5  # four spans and the legend
    # The bar of the HTTP span starts 700 ms into the 960 ms trace and lasts 90 ms of it.
    assert 'class="bar" style="left:72.917%;width:9.375%;' in page
    # Attribute values are escaped, Jaeger's bookkeeping tags left out, and the page says what it is.
    assert "<script>" not in page and "006A&lt;script&gt;" in page
    assert "internal.span.format" not in page
    assert "Jaeger built from source has no web UI" in page


def test_attributes_leave_out_jaegers_bookkeeping_and_are_sorted() -> None:
    first = DOCUMENT["data"][0]["spans"][1]
    assert span_attributes(first) == [("psflow.deal_id", "006A<script>"), ("span.kind", "server")]


def test_an_answer_without_a_trace_is_refused() -> None:
    with pytest.raises(ValueError, match="no trace"):
        render_trace({"data": []})
    with pytest.raises(LookupError, match="win a deal first"):
        busiest_trace_id({"data": None})


def test_the_busiest_trace_is_the_business_transaction() -> None:
    small = {"traceID": "0" * 32, "spans": [{}]}
    assert busiest_trace_id({"data": [small, DOCUMENT["data"][0], {"traceID": "1" * 32, "spans": []}]}) == TRACE


def test_durations_read_in_their_unit() -> None:
    assert [duration_text(n) for n in (999, 1000, 15_250, 1_000_000, 61_500_000)] == [
        "999 µs", "1.0 ms", "15.2 ms", "1.00 s", "61.50 s"
    ]  # fmt: skip


def test_the_window_fits_the_waterfall_and_chromium_shoots_headless(tmp_path: Path) -> None:
    assert trace_height(DOCUMENT["data"][0]) == HEADER_PX + 6 * ROW_PX + 40
    command = chromium_command("/usr/bin/chromium", "file:///x.html", tmp_path / "a.png", height=500,
                               budget_ms=2000, profile=tmp_path / "profile")  # fmt: skip
    assert command[0] == "/usr/bin/chromium" and command[-1] == "file:///x.html"
    assert {"--headless", f"--screenshot={tmp_path / 'a.png'}", "--window-size=1440,500"} <= set(command)
    assert "--virtual-time-budget=2000" in command and f"--user-data-dir={tmp_path / 'profile'}" in command


def test_a_duration_label_goes_before_a_bar_that_reaches_the_right_end() -> None:
    page = render_trace(DOCUMENT)
    # a3 runs 60 → 960 ms of 960 ms: its label sits left of its start (6.25 %), the HTTP span's after its end.
    assert 'class="dur" style="right:93.750%;margin-right:6px">900.0 ms' in page
    assert 'class="dur" style="left:82.292%">90.0 ms' in page


def test_a_spans_own_attributes_come_before_the_keys_its_parent_has_too() -> None:
    spans = {s["spanID"]: s for s in DOCUMENT["data"][0]["spans"]}
    assert [key for key, _ in own_attributes_first(spans["a5"], spans["a4"])] == [
        "http.request.method", "http.response.status_code", "psflow.retry_count", "psflow.system",
        "psflow.engagement_id",
    ]  # fmt: skip
    assert own_attributes_first(spans["a1"], None) == span_attributes(spans["a1"])
