"""Invoices tie out to the cent with what was posted, both ways, for any minutes, rates and currencies.

For random posted time (whole minutes at rates in 0-, 2- and 3-decimal currencies, products that
fall between minor units) and expenses: the invoice's lines add up to the posted amounts; every
line prices, as the ERP computes it, to exactly the posted amounts of the entries it bills; and the
``invoice.posted`` and ``revenue.recognized`` events and analytics rows repeat the invoice's total.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.invoicing.invoice import build_invoice, posted_invoice
from activities.invoicing.lines import (
    QUANTITY_PLACES,
    PostedExpense,
    PostedTime,
    erp_line_amount,
    invoice_lines,
    line_quantity,
)
from canonical import DateRange, Invoice, Money, bill_for_minutes
from store import LedgerEntry
from workflows.invoice_project import InvoiceProjectResult, analytics_rows, invoice_events

DAYS = DateRange(start=date(2026, 10, 1), end=date(2026, 10, 31))
CURRENCIES = ["JPY", "USD", "EUR", "GBP", "KWD", "BHD", "CLP"]


@st.composite
def posted_work(draw: st.DrawFn) -> tuple[str, list[LedgerEntry], dict[str, Decimal]]:
    """A project's posted, billable month in one currency: ledger rows and the rate of each time row."""
    currency = draw(st.sampled_from(CURRENCIES))
    places = Money.of(0, currency).minor_units
    # Rates in the currency's minor units, a few of them shared; some with sub-minor-unit products.
    rates = draw(st.lists(st.integers(min_value=1, max_value=5 * 10**6), min_size=1, max_size=4))
    rows: list[LedgerEntry] = []
    by_source: dict[str, Decimal] = {}
    for n, (minutes, pick) in enumerate(
        draw(st.lists(st.tuples(st.integers(1, 24 * 60), st.integers(0, 3)), min_size=0, max_size=12))
    ):
        rate = Money(amount=Decimal(rates[pick % len(rates)]).scaleb(-places), currency=currency)
        source = f"kantata:t{n}"
        by_source[source] = rate.amount
        rows.append(_row("time_entry", source, bill_for_minutes(rate, minutes), minutes=minutes, day=n % 28 + 1))
    for n, minor in enumerate(draw(st.lists(st.integers(1, 10**7), max_size=4))):
        amount = Money(amount=Decimal(minor).scaleb(-places), currency=currency)
        rows.append(_row("expense", f"kantata:e{n}", amount, day=n % 28 + 1))
    if not rows:
        rows.append(_row("expense", "kantata:e-only", Money(amount=Decimal(1), currency=currency), day=1))
    return currency, rows, by_source


def _row(kind: str, source_id: str, amount: Money, *, day: int, minutes: int | None = None) -> LedgerEntry:
    return LedgerEntry(
        kind=kind,
        source_system="kantata",
        source_id=source_id,
        target_system="netsuite",
        target_id=f"tb-{source_id}",
        project_id="PRJ-0001",
        business_date=date(2026, 10, day),
        amount=amount.amount,
        currency=amount.currency,
        minutes=minutes,
        run_id="run-1",
        invoice_id="inv:PRJ-0001:2026-10",
    )


def _invoice(rows: list[LedgerEntry], rates: dict[str, Decimal], grouping: str) -> Invoice:
    return build_invoice(
        "inv:PRJ-0001:2026-10",
        rows,
        rates,
        project_id="PRJ-0001",
        customer_id="C-0001",
        period=DAYS,
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        grouping=grouping,  # type: ignore[arg-type]
    )


@settings(max_examples=300, deadline=None)
@given(posted_work(), st.sampled_from(["entry", "rate"]))
def test_an_invoice_ties_out_to_its_posted_entries_line_by_line_and_in_total(
    work: tuple[str, list[LedgerEntry], dict[str, Decimal]], grouping: str
) -> None:
    currency, rows, rates = work
    invoice = _invoice(rows, rates, grouping)
    posted = {row.source_id: row.amount for row in rows}

    assert sum(line.amount.amount for line in invoice.lines) == sum(posted.values())
    assert invoice.total.amount == sum(posted.values())
    billed = [source for line in invoice.lines for source in line.source_entry_ids]
    assert sorted(billed) == sorted(posted)  # every entry on exactly one line
    for line in invoice.lines:
        # What the ERP computes from the line is exactly what was posted for the entries it bills.
        assert erp_line_amount(line.quantity, line.unit_price) == line.amount
        assert line.amount.amount == sum(posted[source] for source in line.source_entry_ids)
        assert line.amount.currency == currency
        assert 0 <= -line.quantity.as_tuple().exponent <= QUANTITY_PLACES  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(posted_work(), st.sampled_from(["entry", "rate"]))
def test_the_revenue_event_and_analytics_rows_equal_the_invoice(
    work: tuple[str, list[LedgerEntry], dict[str, Decimal]], grouping: str
) -> None:
    currency, rows, rates = work
    invoice = _invoice(rows, rates, grouping)
    posted = posted_invoice(invoice, rows, "1001", created=True, updated=False)
    result = InvoiceProjectResult(
        project_id="PRJ-0001",
        period="2026-10",
        status="invoiced",
        customer_id="C-0001",
        invoices=[posted],
        totals={currency: posted.total},
    )
    now = datetime(2026, 11, 1, 3, tzinfo=UTC)
    invoice_posted, revenue = invoice_events(result, posted, DAYS, now)
    rows_out = analytics_rows(result, DAYS, date(2026, 11, 1), now)

    total = str(invoice.total.amount)
    assert posted.total == invoice.total.amount == sum(row.amount for row in rows)
    assert invoice_posted.data["total"] == revenue.data["amount"] == total
    assert Decimal(revenue.data["fees"]) + Decimal(revenue.data["expenses"]) == invoice.total.amount
    assert Decimal(revenue.data["fees"]) == sum(row.amount for row in rows if row.kind == "time_entry")
    assert revenue.data["minutes"] == sum(row.minutes or 0 for row in rows)
    assert rows_out["invoices"][0]["total"] == rows_out["revenue"][0]["revenue"] == total


@pytest.mark.parametrize(
    ("entries", "rate", "total"),
    [
        ([440, 30], "187.50", "1468.75"),  # 7:20 + 0:30: 1375.00 + 93.75
        ([445, 45], "133.33", "1088.86"),  # 7:25 + 0:45: 988.86 + 100.00
        ([105, 15], "212.50", "425.01"),  # 1:45 + 0:15: 371.88 + 53.13
    ],
)
@pytest.mark.parametrize("grouping", ["entry", "rate"])
def test_the_issues_examples_invoice_at_the_sum_of_their_time_bills(
    entries: list[int], rate: str, total: str, grouping: str
) -> None:
    price = Money.of(rate, "USD")
    time = [PostedTime(f"kantata:{m}", DAYS.start, m, price, bill_for_minutes(price, m)) for m in entries]
    lines = invoice_lines(time, [], grouping)  # type: ignore[arg-type]
    assert sum(line.amount.amount for line in lines) == Decimal(total)


def test_entries_rounded_at_posting_keep_their_own_lines_when_grouped_by_rate() -> None:
    price = Money.of("212.50", "USD")
    exact = [PostedTime(f"kantata:{m}", DAYS.start, m, price, bill_for_minutes(price, m)) for m in (120, 60)]
    rounded = [PostedTime(f"kantata:{m}", DAYS.end, m, price, bill_for_minutes(price, m)) for m in (105, 15)]
    lines = invoice_lines([*exact, *rounded], [], "rate")
    assert [(line.quantity, line.amount.amount) for line in lines] == [
        (Decimal(3), Decimal("637.50")),
        (Decimal("1.75"), Decimal("371.88")),
        (Decimal("0.25"), Decimal("53.13")),
    ]
    assert lines[0].description == "Professional services: 3:00 h at 212.50 USD/h"
    assert lines[1].description == "Professional services 2026-10-31: 1:45 h at 212.50 USD/h (kantata:105)"


def test_a_duration_without_a_finite_decimal_gets_the_shortest_quantity_that_prices_right() -> None:
    price = Money.of("187.50", "USD")
    assert line_quantity(440, price, Money.of("1375.00", "USD")) == Decimal("7.33333")
    assert line_quantity(450, price, Money.of("1406.25", "USD")) == Decimal("7.5")
    assert line_quantity(445, Money.of("133.33", "USD"), Money.of("988.86", "USD")) == Decimal("7.41667")


def test_a_line_no_quantity_can_price_bills_one_unit_at_the_posted_amount() -> None:
    """A rate changed in the ERP after posting: the posted amount still stands, as one unit."""
    price = Money.of("150.00", "USD")
    posted = Money.of("1100.00", "USD")  # 7:20 was posted at 150.00 as 1100.00; the time bill now says 187.50
    changed = Money.of("187.50", "USD")
    [line] = invoice_lines([PostedTime("kantata:1", DAYS.start, 440, changed, posted)], [])
    assert (line.quantity, line.unit_price, line.amount) == (Decimal(1), posted, posted)
    assert "7:20 h at 187.50 USD/h" in line.description
    assert line_quantity(440, price, posted) == Decimal("7.3333")


def test_expenses_are_passed_through_one_line_each() -> None:
    expense = PostedExpense("kantata:9", DAYS.end, Money.of("0.514", "KWD"))
    [line] = invoice_lines([], [expense])
    assert (line.quantity, line.amount, line.description) == (
        Decimal(1),
        Money.of("0.514", "KWD"),
        "Expense of 2026-10-31 (kantata:9)",
    )


def test_exact_means_no_rounding_happened_when_posting() -> None:
    price = Money.of("212.50", "USD")
    assert PostedTime("a", DAYS.start, 120, price, bill_for_minutes(price, 120)).exact
    assert not PostedTime("b", DAYS.start, 105, price, bill_for_minutes(price, 105)).exact
    assert Fraction(bill_for_minutes(price, 105).amount) - Fraction(21250, 100) * 105 / 60 == Fraction(1, 200)
