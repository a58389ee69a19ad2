"""psflow's inbound HTTP gateway: CRM webhooks in, engagement provisioning or contract amendments started.

Every webhook goes through the same steps, in this order, and nothing reaches Temporal before the
signature is verified:

1. signature headers present (401), body no larger than ``gateway_max_body_bytes`` (413);
2. signature fresh and matching over the raw body, its timestamp strictly parsed (401);
3. body parsed and validated, record ids included (400);
4. for each won deal's event not recorded yet, signal-with-start on
   ``engagement-provisioning:{crm}:{opportunity_id}``, recording the event in the same store
   transaction, committed only once the signal succeeded (a redelivery counts as a duplicate and
   signals nothing; if Temporal or the store fails, nothing is recorded and the answer is 503 with
   ``Retry-After``, so the sender's retry is acted on). A won amendment goes to its contract instead,
   with the same recording and 503s: a Salesforce CPQ amendment opportunity (its event names the
   contract) is submitted to ``contract:salesforce:{contract_id}`` (`stack.flows.submit_amendment`,
   update-with-start, answered once accepted); a HubSpot change order (a deal moved to a won stage
   of the change-order pipeline, `gateway._change_orders`) starts
   ``amendment-intake:hubspot:{deal_id}``, which finds the contract and delivers it there;
5. 202 ``{"accepted": [workflow ids], "duplicates": n, "ignored": n}``.

Steps 1-3 read only the request: anything they raise is the request's fault and a 400, never a 5xx.
Each decision is logged on ``psflow.gateway`` with its reason; secrets and bodies never are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client
from temporalio.common import MetricMeter

from canonical import OpportunityStage
from connectors.hubspot import HubSpotSettings
from connectors.hubspot.webhooks import SIGNATURE_HEADER as HUBSPOT_SIGNATURE
from connectors.hubspot.webhooks import TIMESTAMP_HEADER as HUBSPOT_TIMESTAMP
from connectors.salesforce import SalesforceSettings
from connectors.salesforce.notifications import SIGNATURE_HEADER as RELAY_SIGNATURE
from connectors.salesforce.notifications import TIMESTAMP_HEADER as RELAY_TIMESTAMP
from gateway._arrivals import Arrival, Delivery, hubspot_delivery, moves_to_other_stage, salesforce_delivery
from gateway._change_orders import ChangeOrderStages, StageLookup, hubspot_lookup
from gateway._dedupe import InboundEvents
from gateway._intake import Refusal, read_body, reading, required_header, shown
from gateway._metrics import RequestMetrics
from gateway._routing import route, run_id_of
from gateway._tracing import RequestSpans, arrival_keys, request_span
from gateway._verify import verify_hubspot, verify_relay
from stack.client import connect
from stack.settings import Settings
from stack.webhooks import HUBSPOT_PATH, SALESFORCE_PATH
from store import Store

__all__ = ["ClientFactory", "create_app"]

log = logging.getLogger("psflow.gateway")

ClientFactory = Callable[[Settings], Awaitable[Client]]

START_TIMEOUT_S = 3.0
"""How long signal-with-start may take before the sender gets 503: HubSpot wants an answer within 5 s,
and with Temporal down the client would otherwise retry for about 10 s."""
RETRY_AFTER_S = 10
"""``Retry-After`` on a 503: long enough for a Temporal restart."""


@dataclass
class _Gateway:
    """What the routes share once the app has started."""

    settings: Settings
    client: Client
    events: InboundEvents
    hubspot_won_stage: str
    hubspot_change_order_stages: ChangeOrderStages
    salesforce_stages: dict[str, OpportunityStage]


def _decision(outcome: str, source: str, request: Request, **fields: Any) -> None:
    """One log line per decision, with the same fields under ``extra["gateway"]`` for JSON formatters."""
    remote = request.client.host if request.client else "-"
    detail = {"decision": outcome, "source": source, "remote": remote, **fields}
    text = " ".join(f"{key}={value}" for key, value in detail.items())
    level = logging.WARNING if outcome == "rejected" else logging.INFO
    log.log(level, "gateway %s", text, extra={"gateway": detail})


def _signed_uri(settings: Settings, request: Request) -> str:
    """The URL the sender called: the public base URL when one is set (behind a proxy), else the request's own."""
    if settings.gateway_public_url:
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{settings.gateway_public_url.rstrip('/')}{request.url.path}{query}"
    return str(request.url)


def create_app(
    settings: Settings,
    client_factory: ClientFactory = connect,
    change_order_stages: StageLookup | None = None,
    meter: MetricMeter | None = None,
) -> FastAPI:
    """The gateway's ASGI app.

    Args:
        settings: psflow's settings (``gateway_*`` for secrets and limits, ``temporal``, the store URL).
        client_factory: Makes the Temporal client, once, when the app starts (tests pass their own).
        change_order_stages: Looks up the HubSpot change-order pipeline's won stage ids, once, when a
            delivery first needs them; HubSpot's by default (`gateway._change_orders`).
        meter: Where request counts and latencies go (`gateway._metrics`); None: not measured.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await client_factory(settings)
        store = Store(settings.store_url)
        try:
            await asyncio.to_thread(store.upgrade)
            app.state.gateway = _Gateway(
                settings=settings,
                client=client,
                events=InboundEvents(store),
                hubspot_won_stage=HubSpotSettings().won_stage,
                hubspot_change_order_stages=ChangeOrderStages(change_order_stages or hubspot_lookup(settings)),
                salesforce_stages=dict(SalesforceSettings().stage_map),
            )
            log.info(
                "gateway ready: Temporal %s, store %s", settings.temporal.address, store.engine.url.render_as_string()
            )
            yield
        finally:
            store.engine.dispose()

    app = FastAPI(title="psflow gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(_LastResort)
    if meter is not None:
        # Outermost, so the 500s _LastResort answers are counted too.
        app.add_middleware(RequestMetrics, meter=meter)
    # Outermost: the trace's root span covers everything the request does (`gateway._tracing`).
    app.add_middleware(RequestSpans)

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal) -> JSONResponse:
        source = request.url.path.rsplit("/", 1)[-1]
        _decision("rejected", source, request, status=refusal.status, reason=repr(refusal.message))
        return JSONResponse(
            {"error": refusal.error, "message": refusal.message}, status_code=refusal.status, headers=refusal.headers
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @app.post(HUBSPOT_PATH, status_code=202)
    async def hubspot(request: Request) -> JSONResponse:
        """HubSpot webhooks (signature v3): won deals are provisioned, won change orders go to their contract."""
        gateway: _Gateway = request.app.state.gateway
        with reading("hubspot"):
            signature = required_header(request, HUBSPOT_SIGNATURE)
            timestamp = required_header(request, HUBSPOT_TIMESTAMP)
            body = await read_body(request, settings.gateway_max_body_bytes)
            verify_hubspot(
                uri=_signed_uri(settings, request),
                body=body,
                timestamp_ms=timestamp,
                signature=signature,
                client_secret=settings.gateway_hubspot_client_secret.get_secret_value(),
                now=datetime.now(UTC),
            )
            stages = await _change_order_stages(gateway, body)
            delivery = hubspot_delivery(body, gateway.hubspot_won_stage, stages)
        return await _accept(gateway, "hubspot", request, delivery)

    @app.post(SALESFORCE_PATH, status_code=202)
    async def salesforce(request: Request) -> JSONResponse:
        """Opportunity change events from the Salesforce CDC relay (HMAC-SHA256): won deals are provisioned,
        won CPQ amendment opportunities go to their contract."""
        gateway: _Gateway = request.app.state.gateway
        with reading("salesforce"):
            signature = required_header(request, RELAY_SIGNATURE)
            timestamp = required_header(request, RELAY_TIMESTAMP)
            body = await read_body(request, settings.gateway_max_body_bytes)
            verify_relay(
                body=body,
                timestamp=timestamp,
                signature=signature,
                secret=settings.gateway_salesforce_relay_secret.get_secret_value(),
                now=datetime.now(UTC),
            )
            delivery = salesforce_delivery(body, gateway.salesforce_stages)
        return await _accept(gateway, "salesforce", request, delivery)

    return app


async def _change_order_stages(gateway: _Gateway, body: bytes) -> frozenset[str]:
    """The change-order won stages, looked up only when a deal moved to another stage than won.

    Deliveries of won deals (and of nothing) never wait on the lookup, so HubSpot being unreachable
    never slows them down.
    """
    if not moves_to_other_stage(body, gateway.hubspot_won_stage):
        return frozenset()
    return await gateway.hubspot_change_order_stages.get()


async def _start(gateway: _Gateway, arrival: Arrival) -> tuple[str, bool]:
    """Start, signal or update the arrival's run within `START_TIMEOUT_S`; its id, and whether it was already done."""
    async with asyncio.timeout(START_TIMEOUT_S):
        return await route(gateway.client, gateway.settings, arrival)


async def _accept(gateway: _Gateway, source: str, request: Request, delivery: Delivery) -> JSONResponse:
    """Signal-with-start each new arrival's workflow and record its event; 202 with what happened."""
    loop = asyncio.get_running_loop()
    accepted: list[str] = []
    duplicates = 0
    span = request_span(request.scope)
    span.set_attributes({"psflow.source": source, "psflow.arrivals": len(delivery.arrivals)})
    if len(delivery.arrivals) == 1:
        # Several arrivals in one delivery: each one's keys are on its own StartWorkflow/signal span.
        (only,) = delivery.arrivals
        span.set_attributes(
            arrival_keys(only.crm, only.opportunity_id, contract_id=only.contract_id, amendment=only.amendment)
        )
    for arrival in delivery.arrivals:
        run_id = run_id_of(arrival)
        fields = {"event_id": arrival.event_id, "workflow_id": run_id, **arrival.detail}

        def start(arrival: Arrival = arrival) -> tuple[str, bool]:
            # Runs in the store's thread; the event is recorded only once this returned.
            return asyncio.run_coroutine_threadsafe(_start(gateway, arrival), loop).result()

        try:
            acted, outcome = await asyncio.to_thread(gateway.events.act_once, source, arrival.dedupe_key, run_id, start)
        except Exception as exc:
            # Nothing was recorded, whatever failed (Temporal, the store): the sender must retry this event.
            log.exception("gateway could not signal %s for %s event %s", run_id, source, arrival.event_id)
            cause = f"no answer within {START_TIMEOUT_S:g} s" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise Refusal(
                503,
                "unavailable",
                f"could not start or signal {run_id} ({cause}); nothing was recorded, retry the delivery",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from None
        if not acted or outcome is None:
            duplicates += 1
            _decision("duplicate", source, request, **fields)
            continue
        started_id, already = outcome
        accepted.append(started_id)
        _decision("accepted", source, request, already_provisioned=already, amendment=arrival.amendment, **fields)
    if delivery.ignored:
        _decision("ignored", source, request, events=delivery.ignored, reason="'no deal moved to the won stage'")
    return JSONResponse({"accepted": accepted, "duplicates": duplicates, "ignored": delivery.ignored}, status_code=202)


class _LastResort:
    """Answer 500 to what nothing else caught, instead of letting the server drop the connection.

    Starlette's own handler answers 500 and then re-raises, so uvicorn closes the keep-alive
    connection and the sender's next request fails too. Malformed requests never get here (they
    are 4xx); this is for the gateway's own faults.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.exception("gateway failed on %s %s", scope.get("method"), shown(scope.get("path", ""), 80))
            if started:
                raise
            message = f"the gateway failed ({type(exc).__name__}); nothing was recorded, retry the delivery"
            response = JSONResponse({"error": "internal", "message": message}, status_code=500)
            await response(scope, receive, send)
