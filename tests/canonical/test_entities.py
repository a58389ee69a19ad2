"""Canonical entities accept good data and reject bad data, naming the field and the value."""

from __future__ import annotations

import copy
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from canonical import Money, TimeEntry, bill_for_minutes, format_minutes
from canonical.schema import ENTITIES, stale
from tests.canonical.examples import EXAMPLES, TIME_ENTRY

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"customer", "engagement", "project", "task", "consultant", "rate_card", "time_entry", "timesheet",
            "expense", "invoice", "contract_amendment"}  # fmt: skip


def test_every_required_entity_exists_and_has_an_example() -> None:
    assert set(ENTITIES) >= REQUIRED
    assert set(EXAMPLES) == set(ENTITIES)


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_example_validates_and_round_trips_through_json(name: str) -> None:
    model = ENTITIES[name].model_validate(EXAMPLES[name])
    assert ENTITIES[name].model_validate_json(model.model_dump_json()) == model


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_models_are_frozen_and_refuse_unknown_fields(name: str) -> None:
    model = ENTITIES[name].model_validate(EXAMPLES[name])
    with pytest.raises(ValidationError):
        setattr(model, next(iter(ENTITIES[name].model_fields)), "changed")
    with pytest.raises(ValidationError, match="surprise"):
        ENTITIES[name].model_validate({**EXAMPLES[name], "surprise": 1})


def with_change(name: str, path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLES[name])
    *parents, leaf = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[leaf] = value
    return data


BAD_INPUT = [
    # entity, field path, bad value, words the error must contain (field and value)
    ("time_entry", "minutes", 1500, ["minutes", "25:00", "1500"]),
    ("time_entry", "minutes", 0, ["minutes", "0:00"]),
    ("time_entry", "minutes", -90, ["minutes", "-1:30"]),
    ("time_entry", "minutes", "7.5", ["minutes", "7.5"]),
    ("time_entry", "id", "", ["id", "empty"]),
    ("time_entry", "approved_at", "2026-11-24T09:00:00", ["approved_at", "timezone"]),
    ("customer", "currency", "XYZ", ["currency", "XYZ"]),
    ("customer", "billing_address.country", "USA", ["country", "USA"]),
    ("consultant", "email", "not-an-email", ["email", "not-an-email"]),
    ("project", "end_date", "2026-01-01", ["end date 2026-01-01", "start date 2026-12-01"]),
    ("engagement", "budget.currency", "EUR", ["budget", "EUR", "USD"]),
    ("opportunity", "amount.amount", "-5", ["amount", "-5"]),
    ("expense", "amount.amount", "0", ["amount", "0"]),
    ("line_item", "quantity", "0", ["quantity", "0"]),
    ("rate_card", "rates.1.role", "Manager", ["Manager", "more than once"]),
    ("timesheet", "week_start", "2026-11-24", ["week_start", "Monday", "2026-11-24"]),
    ("invoice", "due_date", "2026-11-01", ["due_date 2026-11-01", "issue_date 2026-12-01"]),
    ("contract_amendment", "version", 0, ["version", "0"]),
]


@pytest.mark.parametrize(("name", "path", "value", "words"), BAD_INPUT)
def test_bad_input_is_rejected_naming_field_and_value(name: str, path: str, value: Any, words: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ENTITIES[name].model_validate(with_change(name, path, value))
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} not in {message}"


def test_money_refuses_floats_and_mixed_currencies() -> None:
    with pytest.raises(ValidationError, match=r"float 0\.1"):
        Money.model_validate({"amount": 0.1, "currency": "USD"})
    with pytest.raises(ValueError, match="USD and EUR"):
        _ = Money.of("1", "USD") + Money.of("1", "EUR")


def test_money_rounds_half_up_to_the_currency_minor_unit() -> None:
    assert Money.of("10.005", "USD").rounded().amount == Decimal("10.01")
    assert Money.of("1234.5", "JPY").rounded().amount == Decimal("1235")
    assert Money.of("1.0005", "KWD").rounded().amount == Decimal("1.001")


@given(st.integers(min_value=1, max_value=24 * 60))
def test_any_minutes_in_a_day_are_accepted_and_kept_exactly(minutes: int) -> None:
    entry = TimeEntry.model_validate({**TIME_ENTRY, "minutes": minutes})
    assert entry.minutes == minutes and entry.hours * 60 == pytest.approx(minutes)
    assert TimeEntry.model_validate_json(entry.model_dump_json()) == entry


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=24 * 60 + 1)))
def test_minutes_outside_a_day_are_refused(minutes: int) -> None:
    with pytest.raises(ValidationError, match="at most 24:00 hours"):
        TimeEntry.model_validate({**TIME_ENTRY, "minutes": minutes})


@pytest.mark.parametrize(
    ("hours", "minutes"),
    [("7.5", 450), ("0.25", 15), ("1.3333", 80), ("7.3333333333", 440), ("7.4167", 445), ("24", 1440)],
)
def test_a_version_1_payload_with_hours_still_validates_as_minutes(hours: str, minutes: int) -> None:
    """Histories recorded before minutes hold ``hours``: they decode, to the minute NetSuite was sent."""
    legacy = {key: value for key, value in TIME_ENTRY.items() if key != "minutes"} | {"hours": hours}
    assert TimeEntry.model_validate(legacy).minutes == minutes


def test_a_version_1_payload_with_hours_outside_a_day_is_refused_naming_them() -> None:
    legacy = {key: value for key, value in TIME_ENTRY.items() if key != "minutes"} | {"hours": "25"}
    with pytest.raises(ValidationError, match=r"got 25:00 \(1500 minutes\)"):
        TimeEntry.model_validate(legacy)


@pytest.mark.parametrize(
    ("rate", "currency", "minutes", "amount"),
    [
        ("187.50", "USD", 440, "1375.00"),
        ("187.50", "USD", 30, "93.75"),
        ("133.33", "USD", 445, "988.86"),
        ("133.33", "USD", 45, "100.00"),
        ("212.50", "USD", 105, "371.88"),
        ("212.50", "USD", 15, "53.13"),
        ("10000", "JPY", 25, "4167"),
        ("1.234", "KWD", 25, "0.514"),
        ("0.03", "USD", 10, "0.01"),  # exactly half a cent: up
    ],
)
def test_time_bills_minutes_times_rate_rounded_half_up_once_to_the_minor_unit(
    rate: str, currency: str, minutes: int, amount: str
) -> None:
    billed = bill_for_minutes(Money.of(rate, currency), minutes)
    assert billed == Money.of(amount, currency) and str(billed.amount) == amount


@given(
    st.integers(min_value=1, max_value=24 * 60),
    st.integers(min_value=0, max_value=10**9),
    st.sampled_from(["JPY", "USD", "KWD"]),
)
def test_bill_for_minutes_is_the_exact_product_rounded_half_up(minutes: int, minor: int, currency: str) -> None:
    rate = Money(amount=Decimal(minor).scaleb(-Money.of(0, currency).minor_units), currency=currency)
    exact = Fraction(rate.amount) * minutes / 60
    billed = Fraction(bill_for_minutes(rate, minutes).amount)
    quantum = Fraction(1, 10**rate.minor_units)
    assert abs(billed - exact) <= quantum / 2 and (billed - exact != -quantum / 2)
    assert billed / quantum == int(billed / quantum)


def test_formatted_minutes_read_as_a_timesheet_does() -> None:
    assert [format_minutes(m) for m in (0, 5, 60, 440, 1440)] == ["0:00", "0:05", "1:00", "7:20", "24:00"]


@given(st.lists(st.decimals(min_value=-(10**6), max_value=10**6, places=2), min_size=1, max_size=20))
def test_money_sums_are_exact(amounts: list[Decimal]) -> None:
    total = sum((Money.of(a, "EUR") for a in amounts[1:]), Money.of(amounts[0], "EUR"))
    assert total.amount == sum(amounts)


def test_checked_in_schemas_are_current() -> None:
    assert stale(ROOT / "docs" / "schemas") == [], "docs/schemas is stale: run `psflow schema export`"


def test_stale_schema_is_detected(tmp_path: Path) -> None:
    from canonical.schema import export

    export(tmp_path)
    (tmp_path / "invoice.json").write_text("{}\n")
    assert stale(tmp_path) == ["invoice"]


def test_rate_schedule_reads_the_version_in_force_on_a_day() -> None:
    from datetime import date

    from canonical import RateSchedule

    schedule = RateSchedule.model_validate(EXAMPLES["rate_schedule"])
    assert schedule.rate_on("Manager", date(2025, 12, 31)) is None
    assert schedule.rate_on("Manager", date(2026, 11, 15)) == Money.of("250", "USD")
    assert schedule.rate_on("Manager", date(2026, 11, 16)) == Money.of("275", "USD")
    assert schedule.rate_on("Analyst", date(2026, 11, 16)) is None
    with pytest.raises(ValidationError, match="distinct dates in order"):
        RateSchedule.model_validate(
            {**EXAMPLES["rate_schedule"], "versions": EXAMPLES["rate_schedule"]["versions"][::-1]}
        )


def test_an_amendment_in_two_currencies_is_refused() -> None:
    mixed = {
        **EXAMPLES["contract_amendment"],
        "rate_changes": [{"role": "Manager", "hourly_rate": {"amount": "260", "currency": "EUR"}}],
    }
    with pytest.raises(ValidationError, match="mixes currencies"):
        ENTITIES["contract_amendment"].model_validate(mixed)


def test_a_leaver_cannot_leave_before_joining_and_time_off_stays_within_its_days() -> None:
    from pydantic import ValidationError

    from canonical import Consultant, TimeOff

    person = {**EXAMPLES["consultant"], "hire_date": "2026-03-01", "termination_date": "2026-02-27"}
    with pytest.raises(ValidationError, match="before the hire date 2026-03-01"):
        Consultant.model_validate(person)
    with pytest.raises(ValidationError, match="ends 2026-12-20 before it starts"):
        TimeOff.model_validate({**EXAMPLES["time_off"], "end": "2026-12-20", "hours_by_day": {}})
    with pytest.raises(ValidationError, match=r"outside 2026-12-21\.\.2026-12-23"):
        TimeOff.model_validate({**EXAMPLES["time_off"], "hours_by_day": {"2026-12-24": "1"}})
