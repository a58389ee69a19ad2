"""The resource sync's store (store.resources) on SQLite, and on Postgres when PSFLOW_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from alembic import command
from sqlalchemy import inspect

from store import Store, alembic_config
from store import resources as res

MONDAY = date(2026, 11, 23)
"""A Monday: the week of 23-27 November 2026 has five business days."""


@dataclass(frozen=True)
class Source:
    legal_entity: str
    hr_system: str


UK = Source("uk", "bamboohr")
US = Source("us", "workday")


def worker(store: Store, worker_id: str, **values: object) -> res.ResourceRow:
    defaults: dict[str, object] = {
        "legal_entity": "uk",
        "hr_system": "bamboohr",
        "email": f"{worker_id.replace(':', '-')}@firm.example",
        "name": worker_id,
        "psa_user_id": f"u-{worker_id}",
        "standard_hours_per_week": Decimal(40),
    }
    return res.save_resource(store, worker_id, **(defaults | values))


def test_the_migration_creates_the_tables_and_goes_back(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"resource", "resource_sync_state", "resource_time_off", "resource_time_off_staging"} <= tables
    config = alembic_config(store.url)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    assert "resource" not in set(inspect(store.engine).get_table_names())
    store.upgrade()
    assert "resource_time_off_staging" in set(inspect(store.engine).get_table_names())


def test_a_new_source_has_no_mark_and_the_mark_only_moves_forward(store: Store) -> None:
    assert res.sync_state(store, UK) == res.SyncState()
    first = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    res.save_mark(store, UK, first, None)
    res.save_mark(store, UK, first - timedelta(hours=1), None)  # an older mark: ignored
    res.save_mark(store, UK, None, None)  # none learnt: ignored
    assert res.sync_state(store, UK) == res.SyncState(first, None)
    swept = datetime(2026, 11, 21, tzinfo=UTC)
    res.save_mark(store, UK, first + timedelta(minutes=5), swept)
    res.save_mark(store, UK, first, swept - timedelta(days=1))
    assert res.sync_state(store, UK) == res.SyncState(first + timedelta(minutes=5), swept)
    assert res.sync_state(store, US) == res.SyncState()  # per legal entity and HR system


def test_resources_are_found_by_worker_and_by_user_with_email_lower_case(store: Store) -> None:
    worker(store, "bamboohr:1", email="Ada.Okafor@Firm.Example", skills=("Python", "SQL"), psa_user_id="77")
    row = res.resource(store, "bamboohr:1")
    assert row is not None and row.email == "ada.okafor@firm.example" and row.skills == ["Python", "SQL"]
    by_user = res.resource_by_user(store, "77")
    assert by_user is not None and by_user.worker_id == "bamboohr:1"
    assert res.resource(store, "bamboohr:2") is None and res.resource_by_user(store, "78") is None
    res.save_resource(store, "bamboohr:1", title="Lead", applied_fingerprint="abc")
    again = res.resource(store, "bamboohr:1")
    assert again is not None and (again.title, again.applied_fingerprint, again.psa_user_id) == ("Lead", "abc", "77")
    assert set(res.resources(store, ["bamboohr:1", "bamboohr:9"])) == {"bamboohr:1"}


def test_due_disable_lists_linked_leavers_past_their_last_day_not_yet_disabled(store: Store) -> None:
    worker(store, "bamboohr:1", termination_date=MONDAY - timedelta(days=1))
    worker(store, "bamboohr:2", termination_date=MONDAY)  # last day is today: not yet
    worker(
        store, "bamboohr:3", termination_date=MONDAY - timedelta(days=9), disabled_at=datetime(2026, 11, 15, tzinfo=UTC)
    )
    worker(store, "bamboohr:4", termination_date=MONDAY - timedelta(days=2), psa_user_id=None)
    worker(store, "bamboohr:5", termination_date=MONDAY - timedelta(days=3))
    worker(store, "workday:6", legal_entity="us", hr_system="workday", termination_date=date(2026, 1, 1))
    due = res.due_disable(store, UK, MONDAY)
    assert [r.worker_id for r in due] == ["bamboohr:1", "bamboohr:5"]
    assert [r.worker_id for r in res.due_disable(store, UK, MONDAY, after="bamboohr:1", limit=1)] == ["bamboohr:5"]


def test_staging_is_idempotent_and_an_overlap_keeps_the_larger_hours(store: Store) -> None:
    rows = [
        ("bamboohr:1", MONDAY, Decimal(8), "r1"),
        ("bamboohr:1", MONDAY + timedelta(days=1), Decimal(4), "r1"),
        ("bamboohr:2", MONDAY, Decimal(8), "r2"),
    ]
    assert res.stage_time_off(store, "run-1", rows) == 3
    assert res.stage_time_off(store, "run-1", rows) == 3  # a retried page
    # A second request on the same day (reported as an overlap by the HR side): the larger hours stay.
    res.stage_time_off(store, "run-1", [("bamboohr:1", MONDAY + timedelta(days=1), Decimal(6), "r9")])
    res.stage_time_off(store, "run-1", [("bamboohr:1", MONDAY, Decimal(2), "r8")])
    # A request re-staged with new hours replaces its own hours.
    res.stage_time_off(store, "run-1", [("bamboohr:2", MONDAY, Decimal(3), "r2")])
    res.stage_time_off(store, "run-2", [("bamboohr:1", MONDAY, Decimal(1), "r1")])
    worker(store, "bamboohr:1")
    worker(store, "bamboohr:2")
    diffs = res.time_off_diffs(store, "run-1", ["bamboohr:1", "bamboohr:2"], MONDAY, MONDAY + timedelta(days=4))
    assert diffs[0].staged == {MONDAY: Decimal(8), MONDAY + timedelta(days=1): Decimal(6)}
    assert diffs[1].staged == {MONDAY: Decimal(3)}
    assert diffs[0].psa_user_id == "u-bamboohr:1"
    assert res.clear_staging(store, "run-1") == 3
    assert res.time_off_diffs(store, "run-1", ["bamboohr:1"], MONDAY, MONDAY)[0].staged == {}
    assert res.time_off_diffs(store, "run-2", ["bamboohr:1"], MONDAY, MONDAY)[0].staged == {MONDAY: Decimal(1)}


def test_time_off_workers_pages_the_sources_workers_with_staged_or_applied_days(store: Store) -> None:
    for n in (1, 2, 3, 4):
        worker(store, f"bamboohr:{n}")
    worker(store, "workday:9", legal_entity="us", hr_system="workday")
    friday = MONDAY + timedelta(days=4)
    res.stage_time_off(store, "run", [("bamboohr:1", MONDAY, Decimal(8), "a"), ("workday:9", MONDAY, Decimal(8), "b")])
    res.stage_time_off(store, "run", [("bamboohr:4", friday + timedelta(days=30), Decimal(8), "c")])  # outside
    res.stage_time_off(store, "other-run", [("bamboohr:2", MONDAY, Decimal(8), "d")])
    res.record_time_off(store, "bamboohr:3", set_days={friday: Decimal(4)})
    assert res.time_off_workers(store, UK, "run", MONDAY, friday, after=None, limit=10) == ["bamboohr:1", "bamboohr:3"]
    assert res.time_off_workers(store, UK, "run", MONDAY, friday, after=None, limit=1) == ["bamboohr:1"]
    assert res.time_off_workers(store, UK, "run", MONDAY, friday, after="bamboohr:1", limit=1) == ["bamboohr:3"]
    assert res.time_off_workers(store, US, "run", MONDAY, friday, after=None, limit=10) == ["workday:9"]


def test_recorded_time_off_is_set_overwritten_and_cleared(store: Store) -> None:
    res.record_time_off(store, "bamboohr:1", set_days={MONDAY: Decimal(8), MONDAY + timedelta(days=1): Decimal(8)})
    res.record_time_off(store, "bamboohr:1", set_days={MONDAY: Decimal("3.5")}, cleared=[MONDAY + timedelta(days=1)])
    assert res.applied_time_off(store, "bamboohr:1", MONDAY, MONDAY + timedelta(days=6)) == {MONDAY: Decimal("3.5")}


def test_availability_is_capacity_within_employment_less_applied_time_off(store: Store) -> None:
    friday, next_friday = MONDAY + timedelta(days=4), MONDAY + timedelta(days=11)
    worker(store, "bamboohr:1", cost_centre="CC-1", skills=["Python"])  # full two weeks
    worker(store, "bamboohr:2", standard_hours_per_week=Decimal(20), hire_date=MONDAY + timedelta(days=9))  # Wed
    worker(store, "bamboohr:3", termination_date=MONDAY + timedelta(days=1), active=True)  # leaves Tuesday
    worker(store, "bamboohr:4", termination_date=MONDAY - timedelta(days=1), active=False)  # gone before
    worker(store, "bamboohr:5", hire_date=next_friday + timedelta(days=3))  # starts after
    worker(store, "bamboohr:6", standard_hours_per_week=None, cost_centre="CC-1", skills=["python", "Go"])
    worker(store, "workday:7", legal_entity="us", hr_system="workday", standard_hours_per_week=Decimal("37.5"))
    res.record_time_off(store, "bamboohr:1", set_days={MONDAY: Decimal(8), friday: Decimal(4)})
    res.record_time_off(store, "bamboohr:1", set_days={next_friday + timedelta(days=3): Decimal(8)})  # outside
    res.record_time_off(store, "bamboohr:3", set_days={MONDAY: Decimal(8), MONDAY + timedelta(days=1): Decimal(8)})

    found = {a.worker_id: a for a in res.availability(store, MONDAY, next_friday)}
    assert sorted(found) == ["bamboohr:1", "bamboohr:2", "bamboohr:3", "bamboohr:6", "workday:7"]
    one = found["bamboohr:1"]
    assert (one.capacity_hours, one.time_off_hours, one.free_hours) == (Decimal(80), Decimal(12), Decimal(68))
    assert one.skills == ("Python",) and one.psa_user_id == "u-bamboohr:1" and one.active
    assert found["bamboohr:2"].capacity_hours == Decimal(12)  # Wed, Thu, Fri at 4 hours
    three = found["bamboohr:3"]
    assert (three.capacity_hours, three.time_off_hours, three.free_hours) == (Decimal(16), Decimal(16), Decimal(0))
    assert found["bamboohr:6"].capacity_hours == Decimal(80)  # no hours from HR: 40 a week
    assert found["workday:7"].capacity_hours == Decimal(75)

    assert [a.worker_id for a in res.availability(store, MONDAY, next_friday, skill="PYTHON")] == [
        "bamboohr:1",
        "bamboohr:6",
    ]
    assert [a.worker_id for a in res.availability(store, MONDAY, next_friday, skill="go", cost_centre="CC-1")] == [
        "bamboohr:6"
    ]
    assert [a.worker_id for a in res.availability(store, MONDAY, next_friday, legal_entity="us")] == ["workday:7"]
    weekend = res.availability(store, friday + timedelta(days=1), friday + timedelta(days=2), legal_entity="us")
    assert weekend[0].capacity_hours == Decimal(0)


def test_availability_pages_through_more_workers_than_a_page(store: Store) -> None:
    count = 1005  # more than one page of 1000
    with store.session() as session:
        session.add_all(
            res.ResourceRow(
                worker_id=f"bamboohr:{n:05d}", legal_entity="uk", hr_system="bamboohr", standard_hours_per_week=40
            )
            for n in range(count)
        )
    res.record_time_off(store, "bamboohr:01004", set_days={MONDAY: Decimal(8)})
    found = res.availability(store, MONDAY, MONDAY + timedelta(days=4))
    assert len(found) == count and len({a.worker_id for a in found}) == count
    assert found[-1].worker_id == "bamboohr:01004" and found[-1].free_hours == Decimal(32)


def test_weekdays_counts_monday_to_friday_inclusive() -> None:
    assert res.weekdays(MONDAY, MONDAY + timedelta(days=6)) == 5
    assert res.weekdays(MONDAY + timedelta(days=5), MONDAY + timedelta(days=6)) == 0
    assert res.weekdays(MONDAY + timedelta(days=4), MONDAY + timedelta(days=7)) == 2
    assert res.weekdays(MONDAY, MONDAY - timedelta(days=1)) == 0
    for span in range(0, 30):
        for shift in range(7):
            start = MONDAY + timedelta(days=shift)
            assert res.weekdays(start, start + timedelta(days=span)) == len(
                list(res.business_days(start, start + timedelta(days=span)))
            )
