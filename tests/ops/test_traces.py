"""Traces through real processes into a real Jaeger: ``python -m gateway`` and ``worker.py`` export over OTLP,
and Jaeger's query API shows one trace per business transaction.

The trace of a won deal: the gateway's request span → the client's SignalWithStartWorkflow span →
RunWorkflow → StartActivity / RunActivity → one span per HTTP request a connector sent, with the
business keys on them and nothing of the client's (name, address, deal name) anywhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowFailureError

from canonical import OpportunityStage
from stack.codec import data_converter
from stack.connectors import Connectors
from stack.flows import start_posting
from stack.local.jaeger import JaegerPorts
from stack.settings import Settings
from tests.gateway.conftest import ROOT, encode, gateway_environment, gateway_process, hubspot_event, hubspot_headers
from tests.gateway.test_end_to_end import connectors, move, open_deal  # noqa: F401 (connectors: a fixture)
from tests.ops.conftest import jaeger_traces, poll
from workflows.provision_engagement import ProvisionEngagementResult, workflow_id

POSTED_DAY = date(2020, 1, 6)
"""A Monday long before the sandbox's seeded work: nothing to post, but the run's spans are the same."""


def traced_environment(settings: Settings, jaeger: JaegerPorts) -> dict[str, str]:
    """The gateway's environment for ``settings``, exporting spans to ``jaeger`` every 100 ms."""
    env = {k: v for k, v in gateway_environment(settings).items() if not k.startswith("OTEL_")}
    return env | {"PSFLOW_OTLP_ENDPOINT": jaeger.otlp_endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}


@contextmanager
def worker_process(env: dict[str, str], log_path: Path) -> Iterator[None]:
    """``worker.py`` as a real process with ``env``, once it polls."""
    with log_path.open("wb") as log:
        command = [sys.executable, str(ROOT / "worker.py")]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while b"psflow worker polling" not in log_path.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def service_of(trace: dict[str, Any], span: dict[str, Any]) -> str:
    return str(trace["processes"][span["processID"]]["serviceName"])


def named(trace: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [span for span in trace["spans"] if span["operationName"].startswith(prefix)]


def http_spans(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [span for span in trace["spans"] if "psflow.system" in tags(span)]


async def deal_trace(jaeger: JaegerPorts, deal: str) -> dict[str, Any] | None:
    """The gateway's trace of ``deal``, once it holds the run's last span.

    The worker exports its spans in the order they ended, so once the run's CompleteWorkflow span
    (made as the run completes) is in, every activity's and request's span is in too.
    """
    for trace in await jaeger_traces(jaeger, "psflow-gateway", tags=json.dumps({"psflow.deal_id": deal})):
        if named(trace, "CompleteWorkflow:ProvisionEngagement") and named(trace, "POST /webhooks/hubspot"):
            return trace
    return None


async def test_a_webhook_is_one_trace_from_the_gateway_through_the_workflow_to_each_http_request(
    flow_settings: Settings,
    connectors: Connectors,  # noqa: F811 (the fixture)
    temporal_client: Client,
    jaeger: JaegerPorts,
    tmp_path: Path,
) -> None:
    env = traced_environment(flow_settings, jaeger)
    with worker_process(env, tmp_path / "worker.log"), gateway_process(flow_settings, tmp_path / "gw.log", env) as url:
        deal = await open_deal(connectors, "hubspot")
        await move(connectors, "hubspot", deal, OpportunityStage.CLOSED_WON)
        body = encode([hubspot_event(deal)])
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            answer = await http.post(
                "/webhooks/hubspot", content=body, headers=hubspot_headers(body, url=f"{url}/webhooks/hubspot")
            )
        assert answer.status_code == 202, answer.text
        run = temporal_client.get_workflow_handle(workflow_id("hubspot", deal), result_type=ProvisionEngagementResult)
        assert (await run.result()).state == "provisioned"
        trace = await poll(0.5, lambda: deal_trace(jaeger, deal), timeout_s=60)

    assert {span["traceID"] for span in trace["spans"]} == {trace["traceID"]}
    (gateway,) = named(trace, "POST /webhooks/hubspot")
    assert service_of(trace, gateway) == "psflow-gateway"
    assert gateway["references"] == []  # the root: the sender's context is not continued
    assert tags(gateway)["psflow.deal_id"] == deal
    assert {k: tags(gateway)[k] for k in ("http.route", "http.response.status_code", "span.kind")} == {
        "http.route": "/webhooks/hubspot",
        "http.response.status_code": 202,
        "span.kind": "server",
    }
    assert tags(gateway)["psflow.engagement_id"] == f"hubspot:{deal}"
    (start,) = named(trace, "SignalWithStartWorkflow:ProvisionEngagement")
    # Under the gateway's span, through FastAPI's own endpoint span.
    (endpoint,) = named(trace, "fastapi.endpoint")
    assert {ref["spanID"] for ref in endpoint["references"]} == {gateway["spanID"]}
    assert {ref["spanID"] for ref in start["references"]} == {endpoint["spanID"]}
    (run_span,) = named(trace, "RunWorkflow:ProvisionEngagement")
    assert service_of(trace, run_span) == "psflow-worker"
    parent = {ref["spanID"] for ref in run_span["references"] if ref["refType"] == "CHILD_OF"}
    assert parent == {start["spanID"]}
    activities = named(trace, "RunActivity:")
    assert activities
    for span in [start, run_span, *activities]:
        assert tags(span)["psflow.deal_id"] == deal, span["operationName"]
        assert tags(span)["psflow.engagement_id"] == f"hubspot:{deal}", span["operationName"]

    requests = http_spans(trace)
    assert {tags(span)["psflow.system"] for span in requests} >= {"hubspot", "kantata", "netsuite"}
    activity_ids = {span["spanID"] for span in activities}
    for span in requests:
        span_tags = tags(span)
        assert span_tags["span.kind"] == "client"
        assert span_tags["http.request.method"] in {"GET", "POST", "PATCH", "PUT", "DELETE"}
        assert isinstance(span_tags["http.response.status_code"], int)
        assert span_tags["psflow.retry_count"] >= 0
        assert span_tags["psflow.deal_id"] == deal
        assert "/" not in span_tags["server.address"] and "?" not in span_tags["server.address"]
        # Each request hangs under the activity that sent it.
        assert {ref["spanID"] for ref in span["references"]} <= activity_ids

    opportunity = await connectors.hubspot.get_deal(deal)
    customer = await connectors.hubspot.get_company(opportunity.account_id)
    document = json.dumps(trace)
    forbidden = [customer.name, opportunity.name]
    if customer.billing_address is not None:
        forbidden += [customer.billing_address.line1]
    assert [value for value in forbidden if value in document] == []
    assert "?" not in "".join(str(v) for span in trace["spans"] for v in tags(span).values())


async def post_day_trace(jaeger: JaegerPorts, day: date) -> dict[str, Any] | None:
    for trace in await jaeger_traces(jaeger, "psflow-worker", tags=json.dumps({"psflow.work_date": day.isoformat()})):
        if named(trace, "CompleteWorkflow:PostTimeExpenses"):
            return trace
    return None


async def test_a_run_started_without_a_client_span_like_a_schedules_still_has_workflow_and_activity_spans(
    flow_settings: Settings, jaeger: JaegerPorts, tmp_path: Path
) -> None:
    # A client without psflow's interceptors, as a Schedule (or `temporal workflow start`) starts runs.
    untraced = await Client.connect(flow_settings.temporal.address, data_converter=data_converter(flow_settings))
    with worker_process(traced_environment(flow_settings, jaeger), tmp_path / "worker.log"):
        handle = await start_posting(untraced, flow_settings, POSTED_DAY)
        with suppress(WorkflowFailureError):  # the spans are what this test is about
            await handle.result()
        trace = await poll(0.5, lambda: post_day_trace(jaeger, POSTED_DAY), timeout_s=60)

    assert named(trace, "StartWorkflow") == []
    (run_span,) = named(trace, "RunWorkflow:PostTimeExpenses")
    # One trace for the whole run, its id the run's: findable from the Web UI's run id.
    assert trace["traceID"] == uuid.UUID(handle.result_run_id or "").hex
    assert tags(run_span)["psflow.erp"] == "netsuite"
    assert tags(run_span)["psflow.work_date"] == POSTED_DAY.isoformat()
    activities = named(trace, "RunActivity:")
    assert activities
    for span in activities:
        assert tags(span)["psflow.work_date"] == POSTED_DAY.isoformat()
    assert http_spans(trace)
