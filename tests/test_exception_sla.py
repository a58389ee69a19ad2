"""Exception SLAs: business days in the firm's zone (weekends, clock changes), the settings, the sweep's schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from temporalio.client import ScheduleOverlapPolicy

from canonical.calendar import add_business_days
from stack.schedules import EXCEPTION_SWEEP, SCHEDULES, exception_sweep_schedule
from stack.settings import DEFAULT_EXCEPTION_SLA, Settings
from store._sla import Sla, SlaPolicy

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("start", "days", "zone", "due"),
    [
        # The US clocks go forward on Sunday 8 March 2026: Friday 10:00 EST + 1 is Monday 10:00 EDT (23 h later).
        (datetime(2026, 3, 6, 10, 0, tzinfo=NEW_YORK), 1, NEW_YORK, datetime(2026, 3, 9, 14, 0, tzinfo=UTC)),
        # London's go forward on 29 March; a whole DST-change week counted from the Wednesday before.
        (datetime(2026, 3, 25, 9, 0, tzinfo=LONDON), 5, LONDON, datetime(2026, 4, 1, 8, 0, tzinfo=UTC)),
        # New York's go back on 1 November: Friday 12:00 EDT + 1 is Monday 12:00 EST (25 h later).
        (datetime(2026, 10, 30, 12, 0, tzinfo=NEW_YORK), 1, NEW_YORK, datetime(2026, 11, 2, 17, 0, tzinfo=UTC)),
        # Friday 23:30 in New York is Saturday in UTC: still a Friday for the firm, so Monday 23:30 there.
        (datetime(2026, 11, 21, 4, 30, tzinfo=UTC), 1, NEW_YORK, datetime(2026, 11, 24, 4, 30, tzinfo=UTC)),
        # Monday 08:00 in Sydney is Sunday in UTC: a business day for the firm, so Tuesday 08:00 there.
        (datetime(2026, 11, 22, 21, 0, tzinfo=UTC), 1, SYDNEY, datetime(2026, 11, 23, 21, 0, tzinfo=UTC)),
        # A weekend start counts from Monday 00:00: Saturday noon + 1 business day is Tuesday 00:00.
        (datetime(2026, 11, 21, 12, 0, tzinfo=NEW_YORK), 1, NEW_YORK, datetime(2026, 11, 24, 0, 0, tzinfo=NEW_YORK)),
        (datetime(2026, 11, 22, 23, 59, tzinfo=NEW_YORK), 0, NEW_YORK, datetime(2026, 11, 23, 0, 0, tzinfo=NEW_YORK)),
        # Sunday 20:00 in New York is Monday 01:00 UTC: the firm's weekend, so from Monday 00:00 there.
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), 2, NEW_YORK, datetime(2026, 11, 25, 0, 0, tzinfo=NEW_YORK)),
        (datetime(2026, 11, 20, 16, 30, tzinfo=NEW_YORK), 5, NEW_YORK, datetime(2026, 11, 27, 16, 30, tzinfo=NEW_YORK)),
    ],
)
def test_business_days_are_counted_in_the_firms_zone(start: datetime, days: int, zone: ZoneInfo, due: datetime) -> None:
    assert add_business_days(start, days, str(zone)) == due


def test_negative_days_and_unknown_zones_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        add_business_days(datetime(2026, 11, 23, tzinfo=UTC), -1, "UTC")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        add_business_days(datetime(2026, 11, 23, tzinfo=UTC), 1, "Mars/Olympus")


def test_the_policy_takes_the_kind_then_the_flow_then_the_default_and_stops_after_the_second_level() -> None:
    policy = SlaPolicy(
        time_zone="America/New_York",
        default=Sla(2, 5),
        by_kind={"posting": Sla(1, 3), "posting.rate_change": Sla(3, 4)},
    )
    friday = datetime(2026, 11, 20, 16, 30, tzinfo=NEW_YORK)
    monday, wednesday = friday + timedelta(days=3), friday + timedelta(days=5)
    assert policy.due("posting", "time_entry", friday, 0) == monday
    assert policy.due("posting", "time_entry", friday, 1) == wednesday
    assert policy.due("posting", "time_entry", friday, 2) is None
    assert policy.due("posting", "rate_change", friday, 0) == friday + timedelta(days=5)
    assert policy.due("invoicing", "invoice", friday, 0) == friday + timedelta(days=4)
    with pytest.raises(ValueError, match="0 < first < second"):
        Sla(3, 3)


def test_sla_settings_merge_over_the_defaults_and_build_the_policy_in_the_firms_zone() -> None:
    given = {"posting": (2, 4), "amendment.amendment": (1, 9)}
    settings = Settings(firm_time_zone="Europe/London", exception_sla=given)
    assert settings.exception_sla == {**DEFAULT_EXCEPTION_SLA, **given}
    policy = settings.exception_policy()
    assert policy.time_zone == "Europe/London"
    assert policy.default == Sla(2, 5)
    assert policy.sla("posting", "time_entry") == Sla(2, 4)
    assert policy.sla("reconciliation", "hours_mismatch") == Sla(3, 10)
    assert policy.sla("amendment", "amendment") == Sla(1, 9)
    assert Settings().exception_sla == DEFAULT_EXCEPTION_SLA


@pytest.mark.parametrize(
    ("sla", "says"),
    [
        ({"posting": (3, 3)}, r"'posting' is \(3, 3\) business days"),
        ({"posting": (0, 3)}, r"0 < first < second"),
        ({"payroll": (1, 2)}, r"'payroll' is not 'default', a flow or 'flow.kind'"),
    ],
)
def test_a_bad_sla_setting_says_which_and_why(sla: dict[str, tuple[int, int]], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        Settings(exception_sla=sla)


def test_the_sweep_runs_every_few_minutes_and_skips_while_one_still_runs() -> None:
    settings = Settings(task_queue_prefix="staging-", exception_sweep_minutes=5)
    schedule = exception_sweep_schedule(settings)
    [interval] = schedule.spec.intervals
    assert interval.every == timedelta(minutes=5)
    assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    assert schedule.action.id == "staging-exception-sweep"  # type: ignore[attr-defined]
    assert schedule.action.task_queue == "staging-flows"  # type: ignore[attr-defined]
    assert SCHEDULES[EXCEPTION_SWEEP].runs(Settings()) == "every 15 min: escalate exceptions past their SLA"
