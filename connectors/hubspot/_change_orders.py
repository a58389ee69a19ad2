"""`ChangeOrderReader`: finds a firm's change-order deals in HubSpot and reads them as amendments.

The I/O half of `connectors.hubspot.amendments`: which pipeline holds change orders (by id or
label, from ``/crm/v3/pipelines/deals``), which deal↔deal association type means "Change order of"
(from ``/crm/v4/associations/deals/deals/labels``: the id differs per account, research note
apis-round2 §3), which deals are change orders of a given deal, and their line items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from canonical import ContractAmendment
from connectors._core import PermanentError
from connectors.hubspot.amendments import (
    CHANGE_ORDER_PROPERTIES,
    PARENT_PROPERTY,
    ChangeOrder,
    ChangeOrderError,
    change_order_to_amendment,
    resolve_parent,
    version_key,
)
from connectors.hubspot.api import BATCH_LIMIT, HubSpotApi
from connectors.hubspot.errors import SYSTEM
from connectors.hubspot.mapping import LINE_ITEM_PROPERTIES, ids_in_order
from connectors.hubspot.models import CrmObject, ObjectPage, Pipeline
from connectors.hubspot.settings import HubSpotSettings

__all__ = ["ChangeOrderReader"]

_DEALS = "deals"
_MODIFIED = "hs_lastmodifieddate"


def _invalid(exc: ChangeOrderError) -> PermanentError:
    return PermanentError(SYSTEM, str(exc), code=exc.code)


class ChangeOrderReader:
    """Change orders of one HubSpot account.

    Args:
        api: The connector's raw endpoints.
        settings: Which pipeline and label the account uses for change orders.
    """

    def __init__(self, api: HubSpotApi, settings: HubSpotSettings) -> None:
        self.api = api
        self.settings = settings

    async def pipeline(self) -> Pipeline:
        """The change-order pipeline, by the configured id or else by its label.

        Raises:
            PermanentError: The account has no such pipeline (code ``no_change_order_pipeline``).
        """
        pipelines = (await self.api.pipelines(_DEALS)).results
        wanted = self.settings.change_order_pipeline
        found = next(
            (
                p
                for p in pipelines
                if (p.id == wanted if wanted else p.label == self.settings.change_order_pipeline_label)
            ),
            None,
        )
        if found is None:
            named = f"id {wanted}" if wanted else f"label {self.settings.change_order_pipeline_label!r}"
            known = ", ".join(f"{p.id} ({p.label})" for p in pipelines)
            raise PermanentError(
                SYSTEM,
                f"HubSpot has no deal pipeline with {named} for change orders (it has {known}): create it, or set "
                "PSFLOW_HUBSPOT_CHANGE_ORDER_PIPELINE to its id",
                code="no_change_order_pipeline",
            )
        return found

    async def won_stages(self) -> set[str]:
        """Ids of the change-order pipeline's won stages (closed, probability 1)."""
        return {stage.id for stage in (await self.pipeline()).stages if stage.is_won and not stage.archived}

    async def label_type_id(self) -> int | None:
        """The account's type id of the "Change order of" deal→deal label, or None without such a label."""
        types = (await self.api.association_types(_DEALS, _DEALS)).results
        return next(
            (t.type_id for t in types if t.category == "USER_DEFINED" and t.label == self.settings.change_order_label),
            None,
        )

    async def parent_of(self, record_id: str) -> str | None:
        """The original deal of a change-order deal; None when the deal is not in the change-order pipeline.

        Raises:
            NotFoundError: No such deal.
            PermanentError: It is a change order of no deal, of several, or the label and the
                property disagree.
        """
        pipeline = await self.pipeline()
        deal = await self.api.read(_DEALS, record_id, CHANGE_ORDER_PROPERTIES)
        if deal.prop("pipeline") != pipeline.id:
            return None
        type_id = await self.label_type_id()
        linked = await self._labelled([deal.id], type_id)
        return self._require_parent(deal, linked.get(deal.id, []))

    async def read(self, contract_id: str, record_id: str) -> ContractAmendment:
        """The amendment change-order deal `record_id` makes to the contract (original deal) `contract_id`.

        Raises:
            NotFoundError: Either deal does not exist.
            PermanentError: The deal is not a signed change order of that contract, or it cannot
                be read as an amendment (the code says which rule it breaks).
        """
        pipeline = await self.pipeline()
        stages = {stage.id: stage for stage in pipeline.stages}
        deal = await self.api.read(_DEALS, record_id, CHANGE_ORDER_PROPERTIES)
        if deal.prop("pipeline") != pipeline.id:
            raise PermanentError(
                SYSTEM,
                f"deal {record_id} is not a change order: it is in pipeline {deal.prop('pipeline')}, change orders "
                f"are in {pipeline.id} ({pipeline.label})",
                code="not_a_change_order",
            )
        contract = await self.api.read(_DEALS, contract_id, CHANGE_ORDER_PROPERTIES)
        if contract.prop("pipeline") == pipeline.id:
            raise PermanentError(
                SYSTEM, f"deal {contract_id} is itself a change order, not a contract", code="not_a_contract"
            )
        stage = stages.get(deal.prop("dealstage") or "")
        if stage is None or not stage.is_won:
            raise PermanentError(
                SYSTEM,
                f"change-order deal {record_id} is in stage {deal.prop('dealstage')!r}, not a won stage of "
                f"{pipeline.label}: it changes the contract once it is won",
                code="not_signed",
            )
        orders = await self._orders_of(contract_id, pipeline, extra=deal)
        position = next((n for n, order in enumerate(orders) if order.id == deal.id), None)
        if position is None:
            parent = await self.parent_of(record_id)
            raise PermanentError(
                SYSTEM,
                f"deal {record_id} is a change order of deal {parent}, not of {contract_id}",
                code="wrong_contract",
            )
        earlier = orders[:position]
        lines = await self._line_items([contract.id, *(order.id for order in earlier), deal.id])
        try:
            return change_order_to_amendment(
                ChangeOrder(contract, lines[contract.id]),
                [ChangeOrder(order, lines[order.id]) for order in earlier],
                ChangeOrder(deal, lines[deal.id]),
                default_currency=self.settings.default_currency,
            )
        except ChangeOrderError as exc:
            raise _invalid(exc) from exc
        except ValidationError as exc:
            problems = "; ".join(error["msg"] for error in exc.errors())
            raise PermanentError(
                SYSTEM, f"change-order deal {record_id} is not a valid amendment: {problems}", code="invalid_amendment"
            ) from exc

    async def won_search(self, lower_ms: str, after: str | None) -> ObjectPage:
        """One search page of change-order deals in a won stage modified at or after `lower_ms`, oldest first."""
        pipeline = await self.pipeline()
        won = sorted(stage.id for stage in pipeline.stages if stage.is_won)
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "pipeline", "operator": "EQ", "value": pipeline.id},
                        {"propertyName": "dealstage", "operator": "IN", "values": won},
                        {"propertyName": _MODIFIED, "operator": "GTE", "value": lower_ms},
                    ]
                }
            ],
            "sorts": [{"propertyName": _MODIFIED, "direction": "ASCENDING"}],
            "properties": ["dealstage", _MODIFIED],
            "limit": self.settings.search_page_size,
        }
        if after:
            body["after"] = after
        return await self.api.search_page(_DEALS, body)

    # -- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _require_parent(deal: CrmObject, linked: Sequence[str]) -> str:
        try:
            parent = resolve_parent(deal, linked)
        except ChangeOrderError as exc:
            raise _invalid(exc) from exc
        if parent is None:
            raise PermanentError(
                SYSTEM,
                f"change-order deal {deal.id} belongs to no deal: associate it with the original deal under the "
                f"label 'Change order of', or set its {PARENT_PROPERTY}",
                code="no_parent",
            )
        return parent

    async def _orders_of(self, contract_id: str, pipeline: Pipeline, *, extra: CrmObject) -> list[CrmObject]:
        """The contract's change orders that were not lost, in version order (`version_key`)."""
        candidates = dict.fromkeys([*await self._associated(contract_id), *await self._named(contract_id)])
        candidates.pop(contract_id, None)
        deals = {extra.id: extra}
        chosen = [deal_id for deal_id in candidates if deal_id not in deals]
        for start in range(0, len(chosen), BATCH_LIMIT):
            body = {
                "inputs": [{"id": i} for i in chosen[start : start + BATCH_LIMIT]],
                "properties": list(CHANGE_ORDER_PROPERTIES),
            }
            deals |= {deal.id: deal for deal in (await self.api.batch(_DEALS, "read", body)).results}
        lost = {stage.id for stage in pipeline.stages if stage.is_lost}
        in_pipeline = [
            deal
            for deal in deals.values()
            if deal.prop("pipeline") == pipeline.id and deal.prop("dealstage") not in lost
        ]
        linked = await self._labelled([deal.id for deal in in_pipeline], await self.label_type_id())
        orders = []
        for deal in in_pipeline:
            try:
                parent = resolve_parent(deal, linked.get(deal.id, []))
            except ChangeOrderError as exc:
                if deal.id == extra.id:
                    raise _invalid(exc) from exc
                continue  # another change order's own mistake must not block this one
            if parent == contract_id:
                orders.append(deal)
        return sorted(orders, key=version_key)

    async def _associated(self, deal_id: str) -> list[str]:
        """Ids of every deal associated with a deal, any type, all pages."""
        ids: list[str] = []
        after = None
        while True:
            page = await self.api.associations_page(_DEALS, deal_id, _DEALS, after=after)
            ids += [record.to_object_id for record in page.results]
            after = page.next_after
            if after is None:
                return ids

    async def _named(self, deal_id: str) -> list[str]:
        """Ids of the deals whose ``psflow_parent_deal_id`` names a deal."""
        ids: list[str] = []
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": [{"filters": [{"propertyName": PARENT_PROPERTY, "operator": "EQ", "value": deal_id}]}],
                "properties": [PARENT_PROPERTY],
                "limit": self.settings.search_page_size,
            }
            if after:
                body["after"] = after
            page = await self.api.search_page(_DEALS, body)
            ids += [deal.id for deal in page.results]
            after = page.next_after
            if after is None:
                return ids

    async def _labelled(self, deal_ids: Sequence[str], type_id: int | None) -> dict[str, list[str]]:
        """For each deal, the deals it is associated with under the change-order label."""
        if type_id is None or not deal_ids:
            return {}
        found: dict[str, list[str]] = {}
        for start in range(0, len(deal_ids), BATCH_LIMIT):
            result = await self.api.batch_associations(_DEALS, _DEALS, deal_ids[start : start + BATCH_LIMIT])
            for row in result.results:
                found[row.from_id] = [
                    record.to_object_id
                    for record in row.to
                    if any(kind.type_id == type_id for kind in record.association_types)
                ]
        return found

    async def _line_items(self, deal_ids: Sequence[str]) -> dict[str, tuple[CrmObject, ...]]:
        """Each deal's line items (with role, price and currency)."""
        item_ids: dict[str, list[str]] = {deal_id: [] for deal_id in deal_ids}
        result = await self.api.batch_associations(_DEALS, "line_items", list(deal_ids))
        for row in result.results:
            item_ids[row.from_id] = [record.to_object_id for record in row.to]
        every = [item for ids in item_ids.values() for item in ids]
        read: list[CrmObject] = []
        for start in range(0, len(every), BATCH_LIMIT):
            body = {
                "inputs": [{"id": i} for i in every[start : start + BATCH_LIMIT]],
                "properties": list(LINE_ITEM_PROPERTIES),
            }
            read += (await self.api.batch("line_items", "read", body)).results
        return {deal_id: tuple(ids_in_order(read, ids)) for deal_id, ids in item_ids.items()}
