"""Pure translation of a Salesforce CPQ contract amendment into a canonical `ContractAmendment`.

Salesforce CPQ records an amendment as an **amendment opportunity** (``SBQQ__AmendedContract__c`` =
the contract) whose lines are **deltas** against the contract, and a primary Amendment quote whose
start is the opportunity's close date and whose end is co-termed with the contract (research
apis-round2.md §2, "Amendments"). psflow's amendments carry **new values**, so the contract's state
is rebuilt from the original deal and every earlier amendment:

- ``budget``: the original deal's amount plus the deltas (``Amount``) of every earlier amendment
  opportunity that was not lost, plus this one's; None when this one's delta is zero.
- rates: each role's rate is the unit price of the original deal's line for it; a later line for
  the role at another price, with a positive quantity, changes it (``rate_changes``), and a line for
  a role the contract did not have adds it (``added_roles``). A line at the current rate only
  changes hours. Two different new prices for one role in one amendment are refused.
- ``end_date``: the quote's end date when it differs from the contract's current end (the
  Contract's ``EndDate``, or the last earlier amendment quote's end); None otherwise.
- ``effective_date``: the quote's start date (= the opportunity's close date).
- ``version``: the 1-based position of the opportunity among the contract's amendment opportunities
  ordered by ``CreatedDate``, then ``Id``. Creation order never changes, so re-reading an amendment
  gives the same version; an amendment opportunity that is lost leaves its number unused (the
  contract workflow waits for it, then opens an exception: submit a replacement with
  ``psflow amendment submit``).
- ``signed_at``: midnight UTC of the close date (Salesforce records no signing instant on the
  opportunity; the date keeps re-reads equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from canonical import ContractAmendment, Money, RoleRate, SystemName, SystemRef
from connectors.salesforce.mapping import canonical_id
from connectors.salesforce.models import SfAmendmentOpportunity, SfContract, SfLineItem

__all__ = ["amendment_from_records", "amendment_version"]


def _unit_price(line: SfLineItem) -> Decimal | None:
    if line.unit_price is not None:
        return line.unit_price
    return line.total_price / line.quantity if line.total_price is not None and line.quantity else None


def _lines(opportunity: SfAmendmentOpportunity) -> list[SfLineItem]:
    return list(opportunity.line_items.records) if opportunity.line_items else []


def _delta(opportunity: SfAmendmentOpportunity) -> Decimal:
    if opportunity.amount is not None:
        return opportunity.amount
    return sum((line.total_price or Decimal(0) for line in _lines(opportunity)), Decimal(0))


def _new_rates(opportunity: SfAmendmentOpportunity, rates: dict[str, Decimal]) -> dict[str, Decimal]:
    """The roles whose rate this opportunity's lines set to something other than ``rates`` says."""
    changed: dict[str, Decimal] = {}
    for line in _lines(opportunity):
        price = _unit_price(line)
        if line.role is None or price is None or line.quantity <= 0 or rates.get(line.role) == price:
            continue
        if changed.get(line.role, price) != price:
            raise ValueError(
                f"Opportunity {opportunity.id} sells role {line.role!r} at two new rates "
                f"({changed[line.role]} and {price}): one rate per role and amendment"
            )
        changed[line.role] = price
    return changed


def _lost(opportunity: SfAmendmentOpportunity) -> bool:
    return bool(opportunity.is_closed) and not opportunity.is_won


def amendment_version(amendments: Sequence[SfAmendmentOpportunity], record_id: str) -> int:
    """The 1-based position of ``record_id`` among the contract's amendments, ordered by CreatedDate, Id.

    Raises:
        ValueError: The opportunity is not among them.
    """
    ordered = sorted(amendments, key=lambda o: (o.created_date, o.id))
    for position, opportunity in enumerate(ordered, start=1):
        if opportunity.id == record_id:
            return position
    raise ValueError(f"Opportunity {record_id} is not among the contract's amendment opportunities")


def amendment_from_records(
    contract: SfContract,
    original: SfAmendmentOpportunity,
    amendments: Sequence[SfAmendmentOpportunity],
    record_id: str,
    *,
    default_currency: str,
) -> ContractAmendment:
    """The canonical amendment that opportunity ``record_id`` makes to ``contract``.

    Args:
        contract: The amended contract.
        original: The deal the contract was made from, with its lines.
        amendments: Every amendment opportunity of the contract, with lines and quote dates.
        record_id: The amendment opportunity to read.
        default_currency: For orgs without multi-currency.

    Raises:
        ValueError: The amendment is not among ``amendments``, changes nothing, or breaks a
            canonical rule (two new rates for a role, an end date before its start ...).
    """
    version = amendment_version(amendments, record_id)
    ordered = sorted(amendments, key=lambda o: (o.created_date, o.id))
    currency = original.currency or default_currency
    budget = _delta(original)
    rates: dict[str, Decimal] = {}
    for line in _lines(original):
        price = _unit_price(line)
        if line.role is not None and price is not None and line.role not in rates:
            rates[line.role] = price
    end: date | None = contract.end_date
    for earlier in ordered[: version - 1]:
        if _lost(earlier):
            continue
        budget += _delta(earlier)
        rates.update(_new_rates(earlier, rates))
        if earlier.quote is not None and earlier.quote.end_date is not None:
            end = earlier.quote.end_date
    this = ordered[version - 1]
    delta = _delta(this)
    changes = _new_rates(this, rates)
    quote_end = this.quote.end_date if this.quote is not None else None
    effective = (this.quote.start_date if this.quote is not None else None) or this.close_date
    # Currency fields arrive as JSON numbers (84080.0); they hold the currency's decimal places, so the
    # amounts are stated in its minor unit like every other amount psflow carries.
    return ContractAmendment(
        id=canonical_id(this.id),
        contract_id=contract.id,
        engagement_id=canonical_id(original.id),
        version=version,
        effective_date=effective,
        signed_at=datetime.combine(this.close_date, time(0), UTC),
        budget=Money(amount=budget + delta, currency=currency).rounded() if delta else None,
        end_date=quote_end if quote_end is not None and quote_end != end else None,
        rate_changes=tuple(
            RoleRate(role=role, hourly_rate=Money(amount=price, currency=currency).rounded())
            for role, price in changes.items()
            if role in rates
        ),
        added_roles=tuple(
            RoleRate(role=role, hourly_rate=Money(amount=price, currency=currency).rounded())
            for role, price in changes.items()
            if role not in rates
        ),
        reason=f"Salesforce CPQ amendment opportunity {this.id}",
        source=SystemRef(system=SystemName.SALESFORCE, id=this.id),
    )
