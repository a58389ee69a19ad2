"""What psflow puts on spans, without a collector: business keys read from workflow ids, and the
connector's request span (method, system, host, status, retries) around a request retried once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from connectors._core import NotFoundError, RestClient, _observe
from connectors._core._retry import RetryConfig
from stack.telemetry import BusinessKeys, RequestSpans, business_keys, run_trace_parent


@pytest.mark.parametrize(
    ("workflow_id", "keys"),
    [
        (
            "engagement-provisioning:hubspot:8123",
            {"psflow.crm": "hubspot", "psflow.deal_id": "8123", "psflow.engagement_id": "hubspot:8123"},
        ),
        ("t-1a2b-te-posting:netsuite:2026-11-30", {"psflow.erp": "netsuite", "psflow.work_date": "2026-11-30"}),
        ("invoice:kantata:42:2026-11.2", {"psflow.project_id": "kantata:42", "psflow.period": "2026-11"}),
        ("monthly-invoicing:2026-11", {"psflow.period": "2026-11"}),
        ("reconcile:2026-11:kantata:42", {"psflow.period": "2026-11", "psflow.project_id": "kantata:42"}),
        ("reconcile:2026-11", {"psflow.period": "2026-11"}),
        (
            "contract:salesforce:800000000000001AAA",
            {"psflow.crm": "salesforce", "psflow.contract_id": "800000000000001AAA"},
        ),
        ("amendment-intake:hubspot:77", {"psflow.crm": "hubspot", "psflow.deal_id": "77"}),
        ("exception-retry:12:3", {"psflow.exception_id": "12"}),
        ("stack-check-1234", {}),
    ],
)
def test_business_keys_are_read_from_each_flows_workflow_id(workflow_id: str, keys: dict[str, str]) -> None:
    assert business_keys(workflow_id) == keys


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    """A provider of its own (the process's global one is left alone), traced into memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BusinessKeys())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = _observe.trace_requests(RequestSpans(provider.get_tracer("test")))
    try:
        yield provider, exporter
    finally:
        _observe.trace_requests(previous)


async def test_a_request_retried_once_is_one_client_span_with_retry_count_1_and_the_activitys_keys(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json={"ok": True})])
    transport = httpx.MockTransport(lambda _request: next(answers))
    retry = RetryConfig(base_delay_s=0, max_delay_s=0)
    async with RestClient("netsuite", base_url="https://erp.example", transport=transport, retry=retry) as client:
        activity = {"temporalWorkflowID": "te-posting:netsuite:2026-11-30", "temporalActivityID": "1"}
        with provider.get_tracer("test").start_as_current_span("RunActivity:post", attributes=activity):
            await client.get_json("/record/v1/customer/7", params={"q": "secret"})
    request, _activity = exporter.get_finished_spans()
    assert request.name == "GET netsuite"
    assert dict(request.attributes or {}) == {
        "http.request.method": "GET",
        "server.address": "erp.example",
        "psflow.system": "netsuite",
        "psflow.retry_count": 1,
        "http.response.status_code": 200,
        "psflow.erp": "netsuite",
        "psflow.work_date": "2026-11-30",
    }


async def test_a_failed_request_marks_its_span_an_error_with_the_status(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    _provider, exporter = exported
    transport = httpx.MockTransport(lambda _request: httpx.Response(404, json={"message": "no such customer"}))
    async with RestClient("hubspot", base_url="https://api.example", transport=transport) as client:
        with pytest.raises(NotFoundError):
            await client.get_json("/crm/v3/objects/companies/7")
    (request,) = exporter.get_finished_spans()
    assert (request.attributes or {})["error.type"] == "404"
    assert (request.attributes or {})["psflow.retry_count"] == 0
    assert not request.status.is_ok


def test_a_run_without_a_client_span_hangs_under_a_parent_whose_trace_id_is_its_run_id() -> None:
    run_id = "2504c04f-7840-4ea0-938c-f61a5a09d002"
    assert run_trace_parent(run_id) == "00-2504c04f78404ea0938cf61a5a09d002-2504c04f78404ea0-01"
