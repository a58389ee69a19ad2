"""Reading a verified delivery: which won deals and amendments it announces, and what identifies each.

A won deal is a new engagement unless it records a contract amendment: a Salesforce CPQ amendment
opportunity (the event names its contract, ``SBQQ__AmendedContract__c``) or a HubSpot deal moved to
a won stage of the change-order pipeline (the webhook names only the deal; its contract is looked up
later, by `workflows.amendment_intake`).

Each arrival carries two identities. ``event_id`` is the sender's own id, recorded on the workflow's
trigger so a person can match a run to the CRM's delivery log. ``dedupe_key`` is what the gateway
remembers: it is stable across redeliveries of the same event but also unique across sandbox resets
and portals, where bare ids start again from 1 (HubSpot: portal, event id and occurrence time;
Salesforce: transaction key, sequence number and record).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import ValidationError

from canonical import OpportunityStage
from canonical.record_ids import InvalidRecordId, opportunity_id
from connectors.hubspot.webhooks import deal_ids_moved_into, parse_webhook_events, won_deal_ids
from connectors.salesforce.mapping import salesforce_id
from connectors.salesforce.notifications import ChangeEvent, opportunity_ids_won
from gateway._intake import Refusal

__all__ = ["Arrival", "Delivery", "hubspot_delivery", "moves_to_other_stage", "salesforce_delivery"]

Crm = Literal["salesforce", "hubspot"]
CONTRACT_PREFIX = "800"


@dataclass(frozen=True)
class Arrival:
    """One event announcing that one deal (or one amendment) was won."""

    crm: Crm
    opportunity_id: str
    event_id: str
    dedupe_key: str
    detail: dict[str, str | int] = field(default_factory=dict)
    """Sender metadata worth logging (attempt number, replay id); never body content."""
    amendment: bool = False
    """The deal records an amendment of a contract, not a new engagement."""
    contract_id: str | None = None
    """The amended contract, when the delivery names it (Salesforce)."""


@dataclass(frozen=True)
class Delivery:
    """What one request announced: won deals, and how many events announced nothing the gateway acts on."""

    arrivals: list[Arrival]
    ignored: int


def _problems(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors(include_input=False, include_url=False)
    parts = []
    for error in errors[:limit]:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
        parts.append(f"{where or 'body'}: {error['msg']}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)


def _deal(crm: Crm, value: str, where: str) -> str:
    """The deal's canonical id; 400 naming the field when the value is no id of the CRM (nothing is started)."""
    try:
        return opportunity_id(crm, value)
    except InvalidRecordId as exc:
        raise Refusal(400, "bad_request", f"{where}: {exc.reason}; nothing was started") from None


def moves_to_other_stage(body: bytes, won_stage: str) -> bool:
    """Whether a HubSpot delivery moves a deal to a stage other than ``won_stage`` (False if it is no delivery)."""
    try:
        events = parse_webhook_events(body)
    except ValidationError:
        return False
    return any(
        event.subscription_type == "deal.propertyChange"
        and event.property_name == "dealstage"
        and event.property_value != won_stage
        for event in events
    )


def hubspot_delivery(body: bytes, won_stage: str, change_order_stages: frozenset[str] = frozenset()) -> Delivery:
    """The won deals and change orders in a HubSpot webhook body (a JSON array of events); 400 if it is not one.

    Args:
        won_stage: The stage id of a won deal (a new engagement).
        change_order_stages: The stage ids of a won change order (an amendment).
    """
    try:
        events = parse_webhook_events(body)
    except ValidationError as exc:
        raise Refusal(
            400, "bad_request", f"body is not a HubSpot webhook delivery (a JSON array of events): {_problems(exc)}"
        ) from None
    arrivals = [
        Arrival(
            crm="hubspot",
            opportunity_id=_deal("hubspot", deal_id, f"[{index}].objectId"),
            event_id=str(event.event_id),
            dedupe_key=f"{event.portal_id}:{event.event_id}:{event.occurred_at}",
            detail={"attempt": event.attempt_number, "portal": event.portal_id},
            amendment=amendment,
        )
        for index, event in enumerate(events)
        for amendment, deal_ids in (
            (False, won_deal_ids([event], won_stage)),
            (True, deal_ids_moved_into([event], change_order_stages - {won_stage})),
        )
        for deal_id in deal_ids
    ]
    return Delivery(arrivals, ignored=len(events) - len(arrivals))


def salesforce_delivery(body: bytes, stage_map: Mapping[str, OpportunityStage] | None = None) -> Delivery:
    """The won opportunities in one relayed change event; 400 if the body is not a change event."""
    try:
        event = ChangeEvent.model_validate_json(body)
    except ValidationError as exc:
        raise Refusal(
            400, "bad_request", f"body is not an Opportunity change event from the relay: {_problems(exc)}"
        ) from None
    header = event.payload.header
    won = [
        _deal("salesforce", record_id, f"payload.ChangeEventHeader.recordIds[{index}]")
        for index, record_id in enumerate(opportunity_ids_won(event, stage_map=stage_map))
    ]
    contract = _contract(event.payload.amended_contract) if won else None
    arrivals = [
        Arrival(
            crm="salesforce",
            opportunity_id=record_id,
            event_id=header.transaction_key,
            dedupe_key=f"{header.transaction_key}:{header.sequence_number or 0}:{record_id}",
            detail={"replay_id": event.event.replay_id},
            amendment=contract is not None,
            contract_id=contract,
        )
        for record_id in won
    ]
    return Delivery(arrivals, ignored=0 if arrivals else 1)


def _contract(value: str | None) -> str | None:
    """The amended Contract's id; 400 when the field holds no Contract id."""
    if not value:
        return None
    try:
        contract = salesforce_id(value)
    except ValueError as exc:
        raise Refusal(400, "bad_request", f"payload.SBQQ__AmendedContract__c: {exc}; nothing was started") from None
    if not contract.startswith(CONTRACT_PREFIX):
        raise Refusal(
            400,
            "bad_request",
            f"payload.SBQQ__AmendedContract__c: {value!r} is no Contract id (they start with {CONTRACT_PREFIX}); "
            "nothing was started",
        )
    return contract
