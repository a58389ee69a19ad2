"""Recorded inbound events in the store: on SQLite, and on Postgres when PSFLOW_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect

from gateway._dedupe import InboundEvents
from store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_the_migration_creates_the_table_with_its_unique_key(store: Store) -> None:
    inspector = inspect(store.engine)
    assert "inbound_events" in inspector.get_table_names()
    [unique] = inspector.get_unique_constraints("inbound_events")
    assert unique["column_names"] == ["source", "event_id"]


def test_an_event_is_acted_on_once_per_source(store: Store) -> None:
    events = InboundEvents(store)
    calls: list[str] = []

    def act(name: str) -> str:
        calls.append(name)
        return name

    assert events.act_once("hubspot", "62515:1:1700000000000", "wf-1", lambda: act("first")) == (True, "first")
    assert events.act_once("hubspot", "62515:1:1700000000000", "wf-1", lambda: act("again")) == (False, None)
    assert events.act_once("salesforce", "62515:1:1700000000000", "wf-2", lambda: act("other")) == (True, "other")
    assert calls == ["first", "other"]


def test_an_event_whose_action_failed_is_not_recorded(store: Store) -> None:
    events = InboundEvents(store)

    def unavailable() -> None:
        raise ConnectionError("Temporal is down")

    with pytest.raises(ConnectionError):
        events.act_once("salesforce", "tx:1:006A", "wf", unavailable)
    assert events.act_once("salesforce", "tx:1:006A", "wf", lambda: "retried") == (True, "retried")


def test_a_concurrent_delivery_waits_for_the_first_and_is_then_a_duplicate(store: Store) -> None:
    events = InboundEvents(store)
    acting = threading.Event()
    release = threading.Event()

    def slow() -> str:
        acting.set()
        assert release.wait(10)
        return "first"

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(events.act_once, "hubspot", "race", "wf", slow)
        assert acting.wait(10)
        second = pool.submit(events.act_once, "hubspot", "race", "wf", lambda: "second")
        release.set()
        assert (first.result(), second.result()) == ((True, "first"), (False, None))


def test_a_concurrent_delivery_acts_when_the_first_one_failed(store: Store) -> None:
    events = InboundEvents(store)
    acting = threading.Event()
    release = threading.Event()

    def failing() -> str:
        acting.set()
        assert release.wait(10)
        raise ConnectionError("Temporal is down")

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(events.act_once, "hubspot", "race", "wf", failing)
        assert acting.wait(10)
        second = pool.submit(events.act_once, "hubspot", "race", "wf", lambda: "second")
        release.set()
        with pytest.raises(ConnectionError):
            first.result()
        assert second.result() == (True, "second")


def test_many_concurrent_deliveries_of_one_event_act_exactly_once(store: Store) -> None:
    events = InboundEvents(store)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: events.act_once("hubspot", "race", "wf", lambda: "acted")[0], range(16)))
    assert results.count(True) == 1


def test_a_gateway_that_dies_while_signalling_leaves_the_event_unrecorded(store: Store) -> None:
    dies_in_act = (
        "import os; from store import Store; from gateway._dedupe import InboundEvents; "
        f"InboundEvents(Store({store.url!r})).act_once('hubspot', 'died', 'wf', lambda: os._exit(3))"
    )
    finished = subprocess.run([sys.executable, "-c", dies_in_act], cwd=ROOT, timeout=60, check=False)
    assert finished.returncode == 3
    assert InboundEvents(store).act_once("hubspot", "died", "wf", lambda: "redelivered") == (True, "redelivered")


def test_a_delivery_waiting_on_temporal_holds_up_no_other_event(store: Store) -> None:
    # While Temporal is slow or down, one event's signal may wait seconds; another event's delivery
    # must not queue behind it in the store (SQLite has one writer: a transaction held open across
    # the signal made every other delivery wait, then fail with "database is locked").
    events = InboundEvents(store)
    acting = threading.Event()
    release = threading.Event()

    def slow() -> str:
        acting.set()
        assert release.wait(30)
        return "slow"

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(events.act_once, "hubspot", "waiting-on-temporal", "wf-a", slow)
        assert acting.wait(10)
        other = pool.submit(events.act_once, "hubspot", "another-event", "wf-b", lambda: "quick")
        try:
            assert other.result(timeout=3) == (True, "quick")
        finally:
            release.set()
        assert first.result() == (True, "slow")
    assert events.act_once("hubspot", "waiting-on-temporal", "wf-a", lambda: "again") == (False, None)
