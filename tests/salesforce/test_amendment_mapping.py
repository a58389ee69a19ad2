"""The pure rules that turn CPQ amendment opportunities (deltas) into new contract values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from canonical import Money, RoleRate
from connectors.salesforce.amendments import amendment_from_records, amendment_version
from connectors.salesforce.models import SfAmendmentOpportunity, SfContract

CONTRACT = SfContract.model_validate(
    {"Id": "8008d0000000001AAA", "StatusCode": "Activated", "StartDate": "2026-07-06", "EndDate": "2027-07-05"}
)


def _line(role: str, quantity: int, price: str) -> dict[str, Any]:
    total = Decimal(price) * quantity
    return {
        "Id": "00k8d0000000001AAA",
        "Quantity": quantity,
        "UnitPrice": price,
        "TotalPrice": str(total),
        "Role__c": role,
    }


def _opportunity(
    number: int, *lines: dict[str, Any], stage: str = "Closed Won", end: str | None = None, close: str = "2026-12-14"
) -> SfAmendmentOpportunity:
    won, closed = stage == "Closed Won", stage.startswith("Closed")
    records = list(lines)
    return SfAmendmentOpportunity.model_validate(
        {
            "Id": f"0068d00000000{number:02d}AAA",
            "StageName": stage,
            "IsWon": won,
            "IsClosed": closed,
            "Amount": str(sum(Decimal(line["TotalPrice"]) for line in records)) if records else None,
            "CloseDate": close,
            "CreatedDate": f"2026-12-{number:02d}T10:00:00.000+0000",
            "CurrencyIsoCode": "USD",
            "SBQQ__AmendedContract__c": CONTRACT.id,
            "SBQQ__PrimaryQuote__r": {"SBQQ__StartDate__c": close, "SBQQ__EndDate__c": end or "2027-07-05"},
            "OpportunityLineItems": {"totalSize": len(records), "done": True, "records": records},
        }
    )


ORIGINAL = _opportunity(1, _line("Consultant", 100, "150"), _line("Manager", 20, "220"))


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def read(amendments: list[SfAmendmentOpportunity], record: SfAmendmentOpportunity) -> Any:
    return amendment_from_records(CONTRACT, ORIGINAL, amendments, record.id, default_currency="USD")


def test_a_lost_amendment_keeps_its_number_but_not_its_delta() -> None:
    lost = _opportunity(2, _line("Consultant", 10, "150"), stage="Closed Lost")
    later = _opportunity(3, _line("Consultant", 8, "150"))
    amendment = read([later, lost], later)
    assert (amendment.version, amendment.budget) == (2, usd("20600"))  # 15000 + 4400 + 1200
    assert amendment_version([lost, later], lost.id) == 1


def test_a_rate_change_is_read_from_the_lines_at_a_new_price_and_kept_for_later_amendments() -> None:
    raise_rate = _opportunity(2, _line("Manager", -20, "220"), _line("Manager", 20, "250"))
    more_hours = _opportunity(3, _line("Manager", 10, "250"))
    first, second = read([raise_rate, more_hours], raise_rate), read([raise_rate, more_hours], more_hours)
    assert first.rate_changes == (RoleRate(role="Manager", hourly_rate=usd("250")),)
    assert first.budget == usd("20000")  # 15000 + 4400 - 4400 + 5000
    assert (second.rate_changes, second.budget) == ((), usd("22500"))  # hours at the rate now in force


def test_the_end_date_counts_only_when_the_quote_moves_it() -> None:
    extend = _opportunity(2, _line("Consultant", 8, "150"), end="2027-09-30")
    same = _opportunity(3, _line("Consultant", 8, "150"), end="2027-09-30")
    assert read([extend, same], extend).end_date == date(2027, 9, 30)
    assert read([extend, same], same).end_date is None  # co-termed with the extended end


def test_two_new_rates_for_one_role_are_refused_and_an_empty_amendment_changes_nothing() -> None:
    twice = _opportunity(2, _line("Analyst", 8, "90"), _line("Analyst", 8, "95"))
    with pytest.raises(ValueError, match="two new rates"):
        read([twice], twice)
    empty = _opportunity(3)
    with pytest.raises(ValueError, match="changes nothing"):
        read([empty], empty)
