"""Change orders recorded in HubSpot as a firm records them, read back as contract amendments.

The connector talks to the emulator over a real socket. Change-order deals are created raw, the way
a firm's sales team (or HubSpot's UI) would: a deal in the "Change orders" pipeline, line items
carrying the delta per role, associated with the original deal under the "Change order of" label.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from canonical import Money, RoleRate
from connectors._core import NotFoundError, PermanentError
from connectors.hubspot import HubSpotConnector, HubSpotSettings, deal_ids_moved_into, parse_webhook_events
from connectors.hubspot.amendments import (
    ChangeOrder,
    ChangeOrderError,
    change_order_to_amendment,
    resolve_parent,
    version_key,
)
from connectors.hubspot.models import CrmObject
from sandbox.seed import ROLES
from sandbox.systems.hubspot._seed import CHANGE_ORDER_PIPELINE, CHANGE_ORDER_STAGES, deal_id
from sandbox.testing import serving
from tests.hubspot.conftest import UK_DEALS, auth_headers, make_app, wait_for
from tests.hubspot.test_socket import receiver, subscribe

WON = next(o for o in UK_DEALS if o.stage == "Closed Won")
CONTRACT = deal_id(WON.id)
"""A won deal of the UK practice: the contract the change orders amend."""
OTHER_CONTRACT = next(deal_id(o.id) for o in UK_DEALS if o.stage == "Closed Won" and o.id != WON.id)
OPEN_DEAL = next(deal_id(o.id) for o in UK_DEALS if o.stage not in ("Closed Won", "Closed Lost"))
RATES = {item.role: item.unit_price for item in WON.line_items}
KEPT_ROLE, RAISED_ROLE = sorted(RATES)[:2]
NEW_ROLE = next(role for role in ROLES if role not in RATES)
STAGE = {label: stage_id for stage_id, (label, _, _) in CHANGE_ORDER_STAGES.items()}
SIGNED, DRAFTED, WITHDRAWN = STAGE["Signed"], STAGE["Drafted"], STAGE["Withdrawn"]


def gbp(amount: str | Decimal) -> Money:
    return Money(amount=Decimal(amount), currency="GBP")


@dataclass
class Firm:
    """The firm's HubSpot account, driven raw, and psflow's connector to it."""

    raw: httpx.AsyncClient
    hubspot: HubSpotConnector

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.raw.request(method, f"/hubspot{path}", headers=auth_headers(), **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def label_id(self, label: str = "Change order of") -> int:
        types = await self.call("GET", "/crm/v4/associations/deals/deals/labels")
        return next(t["typeId"] for t in types["results"] if t["label"] == label)

    async def change_order(
        self,
        contract: str | None = CONTRACT,
        *,
        amount: str = "0",
        lines: tuple[tuple[str, str, str], ...] = (),
        stage: str = DRAFTED,
        by_property: bool = True,
        by_label: bool = True,
        **properties: str,
    ) -> str:
        """A change-order deal with line items ``(role, hourly price, hours)``, linked to `contract`."""
        values = {
            "dealname": f"Change order {len(properties)}",
            "pipeline": CHANGE_ORDER_PIPELINE,
            "dealstage": stage,
            "amount": amount,
            "deal_currency_code": "GBP",
            **properties,
        }
        if contract and by_property:
            values["psflow_parent_deal_id"] = contract
        associations = []
        if contract and by_label:
            kind = {"associationCategory": "USER_DEFINED", "associationTypeId": await self.label_id()}
            associations.append({"to": {"id": contract}, "types": [kind]})
        deal = await self.call(
            "POST", "/crm/v3/objects/deals", json={"properties": values, "associations": associations}
        )
        for role, price, hours in lines:
            item = {"name": f"{role} time", "psflow_role": role, "price": price, "quantity": hours}
            to_deal = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}
            await self.call(
                "POST",
                "/crm/v3/objects/line_items",
                json={"properties": item, "associations": [{"to": {"id": deal["id"]}, "types": [to_deal]}]},
            )
        return str(deal["id"])

    async def move(self, deal: str, stage: str, **properties: str) -> None:
        await self.call(
            "PATCH", f"/crm/v3/objects/deals/{deal}", json={"properties": {"dealstage": stage, **properties}}
        )


BEFORE_THIS_SANDBOX = datetime(2000, 1, 1, tzinfo=UTC)
"""A polling start before any record: each test gets a fresh sandbox whose seed has no change orders, so
whatever the poll finds, the test made (and no test depends on the wall clock or the anchor date)."""


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    app = make_app(tmp_path / "s.db")
    with serving(app) as url:
        yield url
    app.state.db.close()


@pytest.fixture
async def firm(base_url: str) -> AsyncIterator[Firm]:
    async with (
        httpx.AsyncClient(base_url=base_url) as raw,
        HubSpotConnector(HubSpotSettings(base_url=f"{base_url}/hubspot")) as hubspot,
    ):
        yield Firm(raw, hubspot)


async def test_the_won_stage_of_the_change_order_pipeline_tells_a_change_order_from_a_new_deal(firm: Firm) -> None:
    assert await firm.hubspot.change_order_won_stages() == {SIGNED}


async def test_two_change_orders_become_versions_carrying_new_values(firm: Firm) -> None:
    raised = str(RATES[RAISED_ROLE] + 25)
    first = await firm.change_order(
        amount="12000",
        lines=((RAISED_ROLE, raised, "40"), (NEW_ROLE, "95", "80"), (KEPT_ROLE, str(RATES[KEPT_ROLE]), "10")),
        psflow_new_end_date="2027-09-30",
        psflow_effective_date="2026-12-01",
        closedate="2026-11-20T10:00:00Z",
        description="Phase 2: a data migration workstream",
    )
    second = await firm.change_order(
        amount="-2000", lines=((NEW_ROLE, "105", "8"),), psflow_effective_date="2027-01-01", closedate="2026-12-15"
    )
    await firm.move(second, SIGNED)
    await firm.move(first, SIGNED)

    v1 = await firm.hubspot.read_amendment(CONTRACT, first)
    assert (v1.id, v1.contract_id, v1.engagement_id, v1.version) == (
        f"hubspot:{first}",
        CONTRACT,
        f"hubspot:{CONTRACT}",
        1,
    )
    assert v1.budget == gbp(WON.amount + 12000)
    assert (v1.end_date, v1.effective_date) == (date(2027, 9, 30), date(2026, 12, 1))
    assert v1.signed_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    # A role at its contract rate only adds hours: it is neither a rate change nor a new role.
    assert v1.rate_changes == (RoleRate(role=RAISED_ROLE, hourly_rate=gbp(raised)),)
    assert v1.added_roles == (RoleRate(role=NEW_ROLE, hourly_rate=gbp("95")),)
    assert v1.reason == "Phase 2: a data migration workstream"
    assert v1.source is not None and v1.source.id == first

    v2 = await firm.hubspot.read_amendment(CONTRACT, second)
    assert (v2.version, v2.budget, v2.end_date) == (2, gbp(WON.amount + 12000 - 2000), None)
    # The role the first change order added now has a rate of its own, which the second one changes.
    assert (v2.rate_changes, v2.added_roles) == ((RoleRate(role=NEW_ROLE, hourly_rate=gbp("105")),), ())
    assert v2.effective_date == date(2027, 1, 1)


async def test_versions_follow_creation_and_a_withdrawn_change_order_takes_no_number(firm: Firm) -> None:
    withdrawn = await firm.change_order(amount="500", stage=WITHDRAWN)
    first = await firm.change_order(amount="1000", closedate="2026-12-01")
    open_one = await firm.change_order(amount="700")
    third = await firm.change_order(amount="300", closedate="2026-12-02")
    await firm.move(third, SIGNED)

    # Won before the one created earlier, it still counts the earlier one (open, not lost) first.
    amendment = await firm.hubspot.read_amendment(CONTRACT, third)
    assert (amendment.version, amendment.budget) == (3, gbp(WON.amount + 1000 + 700 + 300))
    await firm.move(first, SIGNED)
    assert (await firm.hubspot.read_amendment(CONTRACT, first)).version == 1
    for deal in (withdrawn, open_one):
        with pytest.raises(PermanentError) as error:
            await firm.hubspot.read_amendment(CONTRACT, deal)
        assert (error.value.code, error.value.retryable) == ("not_signed", False)


async def test_the_parent_is_found_by_label_or_by_the_back_pointer(firm: Firm) -> None:
    labelled = await firm.change_order(by_property=False, amount="100")
    pointed = await firm.change_order(by_label=False, amount="100")
    assert await firm.hubspot.parent_deal_of(labelled) == CONTRACT
    assert await firm.hubspot.parent_deal_of(pointed) == CONTRACT
    assert await firm.hubspot.parent_deal_of(f"hubspot:{pointed}") == CONTRACT
    assert await firm.hubspot.parent_deal_of(OPEN_DEAL) is None
    with pytest.raises(NotFoundError):
        await firm.hubspot.parent_deal_of("9199999999")

    await firm.move(pointed, SIGNED, closedate="2026-12-03")
    await firm.move(labelled, SIGNED, closedate="2026-12-03")
    versions = [(await firm.hubspot.read_amendment(CONTRACT, deal)).version for deal in (labelled, pointed)]
    assert versions == [1, 2]


async def test_a_label_recreated_with_new_type_ids_is_found_again(firm: Firm) -> None:
    old = await firm.label_id()
    await firm.call("DELETE", f"/crm/v4/associations/deals/deals/labels/{old}")
    created = await firm.call(
        "POST",
        "/crm/v4/associations/deals/deals/labels",
        json={"label": "Change order of", "name": "change_order_of_v2", "inverseLabel": "Has change order"},
    )
    assert old not in {spec["typeId"] for spec in created["results"]}
    deal = await firm.change_order(by_property=False, amount="100", stage=SIGNED, closedate="2026-12-03")
    assert await firm.hubspot.parent_deal_of(deal) == CONTRACT
    assert (await firm.hubspot.read_amendment(CONTRACT, deal)).version == 1


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("default pipeline", "not_a_change_order"),
        ("other contract", "wrong_contract"),
        ("label and property disagree", "conflicting_parent"),
        ("no parent", "no_parent"),
        ("currency", "currency_change"),
        ("end before effective", "invalid_amendment"),
        ("nothing changes", "invalid_amendment"),
        ("two rates for one role", "conflicting_rates"),
    ],
)
async def test_bad_change_orders_are_refused_for_good(firm: Firm, setup: str, code: str) -> None:
    signed: dict[str, Any] = {"stage": SIGNED, "closedate": "2026-12-03"}
    if setup == "default pipeline":
        deal = OPEN_DEAL
    elif setup == "other contract":
        deal = await firm.change_order(OTHER_CONTRACT, amount="100", **signed)
    elif setup == "label and property disagree":
        deal = await firm.change_order(amount="100", by_property=False, psflow_parent_deal_id=OTHER_CONTRACT, **signed)
    elif setup == "no parent":
        deal = await firm.change_order(None, amount="100", **signed)
    elif setup == "currency":
        deal = await firm.change_order(amount="100", deal_currency_code="EUR", **signed)
    elif setup == "end before effective":
        deal = await firm.change_order(
            psflow_new_end_date="2026-11-30", psflow_effective_date="2026-12-01", amount="100", **signed
        )
    elif setup == "nothing changes":
        deal = await firm.change_order(lines=((KEPT_ROLE, str(RATES[KEPT_ROLE]), "4"),), **signed)
    else:
        deal = await firm.change_order(lines=((NEW_ROLE, "95", "4"), (NEW_ROLE, "99", "4")), **signed)
    with pytest.raises(PermanentError) as error:
        await firm.hubspot.read_amendment(CONTRACT, deal)
    assert (error.value.code, error.value.retryable) == (code, False)


async def test_an_unknown_deal_is_not_found(firm: Firm) -> None:
    with pytest.raises(NotFoundError) as error:
        await firm.hubspot.read_amendment(CONTRACT, "9199999999")
    assert not error.value.retryable


async def test_the_polling_fallback_lists_won_change_orders_only(firm: Firm) -> None:
    since = BEFORE_THIS_SANDBOX
    won = await firm.change_order(amount="100", stage=SIGNED, closedate="2026-12-03")
    await firm.change_order(amount="100")
    assert [deal async for deal in firm.hubspot.change_orders_won_since(since)] == [won]


async def test_the_polling_fallback_reads_past_the_search_result_cap(firm: Firm, base_url: str) -> None:
    since = BEFORE_THIS_SANDBOX
    won = [await firm.change_order(amount="100", stage=SIGNED, closedate="2026-12-03") for _ in range(5)]
    (await firm.raw.put("/_admin/hubspot/limits", json={"search_result_cap": 4})).raise_for_status()
    capped = HubSpotSettings(base_url=f"{base_url}/hubspot", search_page_size=2, search_result_cap=4)
    async with HubSpotConnector(capped) as hubspot:
        seen = [deal async for deal in hubspot.change_orders_won_since(since)]
    # A query restarted from the last modification time may repeat the boundary deal, nothing more.
    assert set(seen) == set(won) and len(seen) <= len(won) + 2


async def test_a_signed_change_order_is_told_apart_in_the_webhook_and_leads_to_its_contract(firm: Firm) -> None:
    change_order = await firm.change_order(amount="100")
    with receiver() as hook:
        await subscribe(firm.raw, hook.url)
        await firm.move(change_order, SIGNED)
        await firm.move(OPEN_DEAL, "closedwon")
        assert await wait_for(lambda: len(hook.deliveries) == 2)
    events = [event for delivery in hook.deliveries for event in parse_webhook_events(delivery.body)]
    signed = deal_ids_moved_into(events, await firm.hubspot.change_order_won_stages())
    assert signed == [change_order]
    assert await firm.hubspot.parent_deal_of(signed[0]) == CONTRACT


def _deal(deal_id: str, created: str = "2026-11-02T09:00:00Z", **properties: str) -> CrmObject:
    return CrmObject.model_validate({"id": deal_id, "createdAt": created, "properties": properties})


def test_versions_tie_on_createdate_by_numeric_id() -> None:
    deals = [_deal("9100000100"), _deal("9100000099"), _deal("9100000101", "2026-11-01T09:00:00Z")]
    assert [deal.id for deal in sorted(deals, key=version_key)] == ["9100000101", "9100000099", "9100000100"]


def test_the_label_decides_the_parent_and_the_property_stands_in() -> None:
    assert resolve_parent(_deal("2", psflow_parent_deal_id="1"), []) == "1"
    assert resolve_parent(_deal("2"), ["1"]) == "1"
    assert resolve_parent(_deal("2", psflow_parent_deal_id="1"), ["1", "1"]) == "1"
    assert resolve_parent(_deal("2"), []) is None
    with pytest.raises(ChangeOrderError) as error:
        resolve_parent(_deal("2"), ["1", "3"])
    assert error.value.code == "ambiguous_parent"


def test_a_contract_without_an_amount_is_worth_its_line_items() -> None:
    contract = ChangeOrder(
        _deal("1", deal_currency_code="GBP"),
        (
            CrmObject.model_validate(
                {"id": "11", "properties": {"psflow_role": "Analyst", "price": "100", "quantity": "10"}}
            ),
            CrmObject.model_validate(
                {"id": "12", "properties": {"psflow_role": "Manager", "price": "200", "quantity": "5"}}
            ),
        ),
    )
    change = ChangeOrder(_deal("2", amount="500", closedate="2026-12-01T00:00:00Z"))
    amendment = change_order_to_amendment(contract, [], change, default_currency="GBP")
    assert (amendment.budget, amendment.effective_date) == (gbp("2500"), date(2026, 12, 1))
