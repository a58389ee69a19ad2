"""The flows' exception activities: the pydantic mirror of the store's occurrence, and the calls it makes."""

from __future__ import annotations

import dataclasses
from datetime import date

from temporalio.testing import ActivityEnvironment

from activities.exceptions import ExceptionActivities, ExceptionOccurrence, RecordExceptions, ResolveExceptions
from store import Store
from store import exceptions as exc


def test_the_activity_input_mirrors_every_field_of_the_stores_occurrence() -> None:
    """A field the store's occurrence gains must reach the activity's input too, or flows could not set it."""
    assert set(ExceptionOccurrence.model_fields) == {field.name for field in dataclasses.fields(exc.Occurrence)}


async def test_record_then_resolve_goes_through_the_store(store: Store) -> None:
    activities = ExceptionActivities(store)
    occurrence = ExceptionOccurrence(
        flow="invoicing",
        system="netsuite",
        kind="invoice",
        business_key="PRJ-0001:2026-10",
        reason="NotFound",
        message="no job",
        values={"project_id": "PRJ-0001", "period": "2026-10"},
        records=[{"system": "psflow", "type": "project", "id": "PRJ-0001"}],
        business_date=date(2026, 10, 31),
    )
    env = ActivityEnvironment()
    [opened] = await env.run(activities.record, RecordExceptions(occurrences=[occurrence], run_id="invoice:a/1"))
    [again] = await env.run(activities.record, RecordExceptions(occurrences=[occurrence], run_id="invoice:a/2"))
    row = exc.get(store, opened)
    assert again == opened and (row.state, row.occurrences, row.last_run_id) == ("open", 2, "invoice:a/2")
    assert (row.values, row.records, row.business_date) == (occurrence.values, occurrence.records, date(2026, 10, 31))

    resolve = ResolveExceptions(
        flow="invoicing", system="netsuite", kind="invoice", business_keys=["PRJ-0001:2026-10"], run_id="invoice:a/3"
    )
    assert await env.run(activities.resolve, resolve) == 1
    assert await env.run(activities.resolve, resolve) == 0  # nothing active is left: a later success costs nothing
    assert (exc.get(store, opened).state, exc.get(store, opened).resolved_by) == ("resolved", "invoice:a/3")
