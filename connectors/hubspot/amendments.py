"""Pure rules that turn HubSpot change-order deals into canonical contract amendments.

A firm records a change to a signed deal (the contract) as a deal in its change-order pipeline,
associated with the original deal by the USER_DEFINED label "Change order of" and carrying the
original deal's id in ``psflow_parent_deal_id`` (research note apis-round2 §3, §7.3). Change orders
hold deltas; the canonical amendment holds new values:

- budget: the original deal's ``amount`` (without one, the sum of its line items, as provisioning
  reads it) plus the ``amount`` of every earlier change order plus this one's (None when this change
  order's amount is empty or zero);
- rates: each line item names a role (``psflow_role``) and its hourly ``price``; a role the
  contract already has at another rate is a rate change, a role it does not have is an added role,
  a role at the rate it already has only adds hours (its value is in the amount);
- ``psflow_new_end_date`` is the new end date; ``psflow_effective_date`` the date the change takes
  effect (else the day it was signed).

The version is the change order's place among the original deal's change orders that were not lost,
ordered by ``createdate`` then id (see `version_key`). See docs/amendment-sources-hubspot.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from canonical import ContractAmendment, Money, RoleRate, SystemName, SystemRef
from connectors.hubspot.mapping import canonical_id, parse_hubspot_date
from connectors.hubspot.models import CrmObject

__all__ = [
    "CHANGE_ORDER_PROPERTIES",
    "EFFECTIVE_DATE_PROPERTY",
    "END_DATE_PROPERTY",
    "PARENT_PROPERTY",
    "ChangeOrder",
    "ChangeOrderError",
    "change_order_to_amendment",
    "resolve_parent",
    "version_key",
]

PARENT_PROPERTY = "psflow_parent_deal_id"
"""The custom deal property holding a change order's original deal id."""
END_DATE_PROPERTY = "psflow_new_end_date"
EFFECTIVE_DATE_PROPERTY = "psflow_effective_date"
CHANGE_ORDER_PROPERTIES = (
    "dealname",
    "description",
    "amount",
    "deal_currency_code",
    "pipeline",
    "dealstage",
    "closedate",
    PARENT_PROPERTY,
    END_DATE_PROPERTY,
    EFFECTIVE_DATE_PROPERTY,
)


class ChangeOrderError(ValueError):
    """A change order psflow cannot read as an amendment; `code` says which rule it breaks."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ChangeOrder:
    """A deal with its line items: the original deal or one of its change orders."""

    deal: CrmObject
    line_items: tuple[CrmObject, ...] = ()


def version_key(deal: CrmObject) -> tuple[datetime, int]:
    """How change orders are numbered: by ``createdate``, then by id (ids grow with creation)."""
    created = deal.created_at or datetime.min.replace(tzinfo=UTC)
    return (created if created.tzinfo else created.replace(tzinfo=UTC), int(deal.id))


def resolve_parent(deal: CrmObject, labelled: Iterable[str]) -> str | None:
    """The original deal of a change-order deal: by its "Change order of" association, else its property.

    Args:
        deal: The change-order deal (with ``psflow_parent_deal_id`` read).
        labelled: Ids of the deals it is associated with under the change-order label.

    Raises:
        ChangeOrderError: It is a change order of several deals, or the label and the property disagree.
    """
    linked = sorted(set(labelled))
    named = deal.prop(PARENT_PROPERTY)
    if len(linked) > 1:
        raise ChangeOrderError(
            "ambiguous_parent",
            f"change-order deal {deal.id} is a change order of several deals ({', '.join(linked)}): keep one",
        )
    if linked and named and named != linked[0]:
        raise ChangeOrderError(
            "conflicting_parent",
            f"change-order deal {deal.id} is associated as a change order of deal {linked[0]} but its "
            f"{PARENT_PROPERTY} is {named}: correct one of them",
        )
    return linked[0] if linked else named


def _amount(deal: CrmObject) -> Decimal:
    text = deal.prop("amount")
    try:
        return Decimal(text) if text is not None else Decimal(0)
    except InvalidOperation:
        raise ChangeOrderError("unmappable_record", f"deal {deal.id} amount {text!r} is not a number") from None


def _contract_value(contract: ChangeOrder) -> Decimal:
    """The original deal's value: its ``amount``, else the sum of its line items (as `deal_to_opportunity` reads it)."""
    if contract.deal.prop("amount") is not None:
        return _amount(contract.deal)
    total = Decimal(0)
    for item in contract.line_items:
        try:
            total += Decimal(item.prop("quantity") or 0) * Decimal(item.prop("price") or 0)
        except InvalidOperation:
            raise ChangeOrderError(
                "unmappable_record", f"line item {item.id} has an unreadable quantity or price"
            ) from None
    return total


def _currency(deal: CrmObject, default: str) -> str:
    return deal.prop("deal_currency_code") or default


def _roles(order: ChangeOrder, currency: str) -> dict[str, Decimal]:
    """Role → hourly price of a deal's line items (items without a role carry no rate)."""
    priced: dict[str, Decimal] = {}
    for item in order.line_items:
        role = item.prop("psflow_role")
        if role is None:
            continue
        item_currency = item.prop("hs_line_item_currency_code") or currency
        if item_currency != currency:
            raise ChangeOrderError(
                "currency_change",
                f"line item {item.id} of deal {order.deal.id} is in {item_currency}, the contract in {currency}",
            )
        price_text = item.prop("price")
        try:
            price = Decimal(price_text or "")
        except InvalidOperation:
            raise ChangeOrderError(
                "unmappable_record", f"line item {item.id} price {price_text!r} is not a number"
            ) from None
        if priced.get(role, price) != price:
            raise ChangeOrderError(
                "conflicting_rates",
                f"deal {order.deal.id} prices role {role!r} at both {priced[role]} and {price}: keep one rate",
            )
        priced[role] = price
    return priced


def change_order_to_amendment(
    contract: ChangeOrder,
    earlier: Sequence[ChangeOrder],
    change_order: ChangeOrder,
    *,
    default_currency: str,
) -> ContractAmendment:
    """The amendment a change order makes, given the original deal and the change orders before it.

    Args:
        contract: The original deal (amount, currency) and its line items.
        earlier: The change orders numbered before this one, in version order.
        change_order: The change order to read (its version is ``len(earlier) + 1``).
        default_currency: The account's currency, for deals that carry none.

    Raises:
        ChangeOrderError: A currency differs from the contract's, a value is unreadable, or a role
            is priced twice.
        pydantic.ValidationError: The result breaks a canonical rule (e.g. nothing changes, an end
            date before the effective date, a rate that is not positive).
    """
    currency = _currency(contract.deal, default_currency)
    for order in (*earlier, change_order):
        if _currency(order.deal, default_currency) != currency:
            raise ChangeOrderError(
                "currency_change",
                f"change-order deal {order.deal.id} is in {_currency(order.deal, default_currency)}, "
                f"the contract (deal {contract.deal.id}) in {currency}: a change order cannot change the currency",
            )
    rates = _roles(contract, currency)
    for order in earlier:
        rates |= _roles(order, currency)
    rate_changes, added_roles = [], []
    for role, price in _roles(change_order, currency).items():
        rate = RoleRate(role=role, hourly_rate=Money(amount=price, currency=currency))
        if role not in rates:
            added_roles.append(rate)
        elif rates[role] != price:
            rate_changes.append(rate)
    delta = _amount(change_order.deal)
    budget = None
    if delta != 0:
        total = _contract_value(contract) + sum((_amount(order.deal) for order in earlier), Decimal(0)) + delta
        budget = Money(amount=total, currency=currency)
    deal = change_order.deal
    try:
        closed = deal.prop("closedate")
        signed_at = datetime.fromisoformat(closed.replace("Z", "+00:00")) if closed else deal.created_at
        end_date = parse_hubspot_date(deal.prop(END_DATE_PROPERTY))
        effective = parse_hubspot_date(deal.prop(EFFECTIVE_DATE_PROPERTY))
    except ValueError as exc:
        raise ChangeOrderError("unmappable_record", f"change-order deal {deal.id}: {exc}") from None
    if signed_at is None:
        raise ChangeOrderError("unmappable_record", f"change-order deal {deal.id} has no close date")
    return ContractAmendment(
        id=canonical_id(deal.id),
        contract_id=contract.deal.id,
        engagement_id=canonical_id(contract.deal.id),
        version=len(earlier) + 1,
        effective_date=effective or signed_at.astimezone(UTC).date(),
        signed_at=signed_at,
        budget=budget,
        end_date=end_date,
        rate_changes=tuple(rate_changes),
        added_roles=tuple(added_roles),
        reason=deal.prop("description") or deal.prop("dealname"),
        source=SystemRef(system=SystemName.HUBSPOT, id=deal.id),
    )
