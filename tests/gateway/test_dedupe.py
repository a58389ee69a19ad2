"""Claims on inbound events in the store: on SQLite, and on Postgres when PSFLOW_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import inspect

from gateway._dedupe import InboundEvents
from store import Store


def test_the_migration_creates_the_table_with_its_unique_key(store: Store) -> None:
    inspector = inspect(store.engine)
    assert "inbound_events" in inspector.get_table_names()
    [unique] = inspector.get_unique_constraints("inbound_events")
    assert unique["column_names"] == ["source", "event_id"]


def test_an_event_is_claimed_once_per_source(store: Store) -> None:
    events = InboundEvents(store)
    assert events.claim("hubspot", "62515:1:1700000000000", "engagement-provisioning:hubspot:1")
    assert not events.claim("hubspot", "62515:1:1700000000000", "engagement-provisioning:hubspot:1")
    assert events.claim("salesforce", "62515:1:1700000000000", "engagement-provisioning:salesforce:1")


def test_a_released_claim_can_be_claimed_again(store: Store) -> None:
    events = InboundEvents(store)
    assert events.claim("salesforce", "tx:1:006A", "engagement-provisioning:salesforce:006A")
    events.release("salesforce", "tx:1:006A")
    events.release("salesforce", "never-claimed")
    assert events.claim("salesforce", "tx:1:006A", "engagement-provisioning:salesforce:006A")


def test_concurrent_deliveries_of_one_event_let_exactly_one_through(store: Store) -> None:
    events = InboundEvents(store)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: events.claim("hubspot", "race", "wf"), range(16)))
    assert results.count(True) == 1
