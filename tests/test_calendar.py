"""The firm's calendar at its edges: month end, year end, a leap day and both DST changes.

Posting runs at 02:00 in the firm's zone and posts the previous local day; invoicing bills whole
``YYYY-MM`` months. Both must hold on the days a calendar is most likely to be got wrong, and the
same functions give the same days inside the workflow sandbox, where workflows call them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from canonical.calendar import billing_period, firm_day, firm_midnight, period_of, previous_period
    from workflows.scheduled_posting import business_date_for

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
SANTIAGO = "America/Santiago"  # clocks go back at midnight: 23:00-24:00 on the 4 April 2026 happens twice


def at_local(day: date, hour: int, zone: str) -> datetime:
    """``hour``:00 on ``day`` in ``zone``, as the UTC instant a Schedule reports."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize(
    ("run_day", "zone", "posts"),
    [
        (date(2026, 12, 1), LONDON, date(2026, 11, 30)),  # month end
        (date(2028, 1, 1), LONDON, date(2027, 12, 31)),  # year end
        (date(2028, 3, 1), LONDON, date(2028, 2, 29)),  # leap day
        (date(2028, 2, 29), NEW_YORK, date(2028, 2, 28)),
        (date(2026, 3, 29), LONDON, date(2026, 3, 28)),  # clocks go forward at 01:00 UTC
        (date(2026, 3, 30), LONDON, date(2026, 3, 29)),
        (date(2026, 10, 25), LONDON, date(2026, 10, 24)),  # clocks go back at 01:00 UTC
        (date(2026, 10, 26), LONDON, date(2026, 10, 25)),
        (date(2026, 3, 8), NEW_YORK, date(2026, 3, 7)),  # US spring forward
        (date(2026, 11, 1), NEW_YORK, date(2026, 10, 31)),  # US fall back
        (date(2027, 1, 1), NEW_YORK, date(2026, 12, 31)),
    ],
)
@pytest.mark.parametrize("hour", [0, 2, 3, 23])
def test_a_scheduled_run_posts_the_previous_local_day(run_day: date, zone: str, posts: date, hour: int) -> None:
    # 02:00 on a spring-forward day does not exist locally; zoneinfo reads it as 03:00, which is
    # what a Schedule in that zone fires at too. Either way the run belongs to ``run_day``.
    assert business_date_for(at_local(run_day, hour, zone), zone) == posts


@pytest.mark.parametrize(
    ("instant", "zone", "day"),
    [
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), LONDON, date(2026, 12, 31)),
        (datetime(2027, 1, 1, 4, 59, tzinfo=UTC), NEW_YORK, date(2026, 12, 31)),
        (datetime(2027, 1, 1, 5, 0, tzinfo=UTC), NEW_YORK, date(2027, 1, 1)),
        (datetime(2026, 3, 28, 23, 59, tzinfo=UTC), LONDON, date(2026, 3, 28)),  # GMT still
        (datetime(2026, 3, 29, 23, 30, tzinfo=UTC), LONDON, date(2026, 3, 30)),  # BST now
        (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), LONDON, date(2026, 10, 25)),  # BST
        (datetime(2026, 10, 25, 23, 30, tzinfo=UTC), LONDON, date(2026, 10, 25)),  # GMT again
        (datetime(2026, 4, 5, 2, 30, tzinfo=UTC), SANTIAGO, date(2026, 4, 4)),  # 23:30 -03, the first time
        (datetime(2026, 4, 5, 3, 30, tzinfo=UTC), SANTIAGO, date(2026, 4, 4)),  # 23:30 -04, the second time
        (datetime(2026, 4, 5, 4, 0, tzinfo=UTC), SANTIAGO, date(2026, 4, 5)),
    ],
)
def test_the_firm_day_of_an_instant_follows_the_zone(instant: datetime, zone: str, day: date) -> None:
    assert firm_day(instant, zone) == day


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2027-02", date(2027, 2, 1), date(2027, 2, 28)),
        ("2027-12", date(2027, 12, 1), date(2027, 12, 31)),
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
    ],
)
def test_billing_periods_are_whole_months(label: str, start: date, end: date) -> None:
    days = billing_period(label)
    assert (days.start, days.end) == (start, end)
    assert period_of(end) == label and period_of(end + timedelta(days=1)) != label


@pytest.mark.parametrize(
    ("day", "previous"),
    [(date(2028, 1, 1), "2027-12"), (date(2028, 3, 1), "2028-02"), (date(2028, 2, 29), "2028-01")],
)
def test_the_previous_period_crosses_year_ends(day: date, previous: str) -> None:
    assert previous_period(day) == previous


def test_a_period_starts_at_local_midnight_on_both_sides_of_a_clock_change() -> None:
    assert firm_midnight(date(2026, 4, 1), LONDON) == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    assert firm_midnight(date(2026, 3, 1), LONDON) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert firm_midnight(date(2026, 11, 1), NEW_YORK) == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def test_a_run_in_an_hour_repeated_at_midnight_posts_the_day_before_the_one_it_is_in() -> None:
    # The second 23:30 of 4 April in Santiago is still the 4th: the run posts the 3rd.
    assert business_date_for(datetime(2026, 4, 5, 3, 30, tzinfo=UTC), SANTIAGO) == date(2026, 4, 3)
    assert business_date_for(datetime(2026, 4, 5, 4, 30, tzinfo=UTC), SANTIAGO) == date(2026, 4, 4)


EDGES = [
    (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), LONDON),
    (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), LONDON),
    (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), LONDON),
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), LONDON),
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), LONDON),
    (datetime(2026, 11, 1, 4, 30, tzinfo=UTC), NEW_YORK),
    (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NEW_YORK),
    (datetime(2026, 4, 5, 2, 30, tzinfo=UTC), SANTIAGO),
    (datetime(2026, 4, 5, 3, 30, tzinfo=UTC), SANTIAGO),
    (datetime(2028, 2, 29, 23, 59, tzinfo=UTC), NEW_YORK),
]


@workflow.defn(sandboxed=True)
class FirmDays:
    """Works out firm days in the workflow sandbox, as the posting and invoicing workflows do."""

    @workflow.run
    async def run(self, instants: list[tuple[datetime, str]]) -> list[tuple[date, date]]:
        return [(firm_day(at, zone), business_date_for(at, zone)) for at, zone in instants]


async def test_the_sandbox_gives_the_same_days(temporal_client: Client) -> None:
    queue = f"calendar-{uuid.uuid4()}"
    async with Worker(temporal_client, task_queue=queue, workflows=[FirmDays]):
        found = await temporal_client.execute_workflow(
            FirmDays.run, EDGES, id=queue, task_queue=queue, result_type=list[tuple[date, date]]
        )
    assert [tuple(days) for days in found] == [(firm_day(at, zone), business_date_for(at, zone)) for at, zone in EDGES]
