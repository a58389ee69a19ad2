"""Claims on inbound events in the store: on SQLite, and on Postgres when PSFLOW_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from gateway._dedupe import InboundEvents
from store import Store
from tests.conftest import POSTGRES_URL

BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'psflow.db'}")
        store.upgrade()
        yield store
        store.engine.dispose()
        return
    assert POSTGRES_URL is not None
    schema = f"g_{uuid.uuid4().hex[:10]}"
    admin = Store(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    store = Store(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    store.upgrade()
    yield store
    store.engine.dispose()
    with admin.engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.engine.dispose()


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
