"""Shared fixtures: ONE real Temporal dev server for the whole session, a fresh task queue prefix per test.

The demo firm in every sandbox a test builds is anchored on ``TEST_TODAY``: ``PSFLOW_TEST_TODAY`` or the fixed
date below, exported as ``PSFLOW_SANDBOX_TODAY`` so in-process apps and sandbox subprocesses agree. A run is
then the same on any day; tests that need "recent" or "yesterday" derive it from ``TEST_TODAY``.

The server comes from the project's bootstrap (``stack.local.temporal_cli``): when no CLI can be found,
built or downloaded the fixture raises, so workflow tests fail loudly instead of skipping.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from stack.client import connect
from stack.codec import data_converter
from stack.local.temporal_cli import dev_server_tuning_flags, ensure_temporal_cli
from stack.settings import Settings, TemporalSettings
from store import Store
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

POSTGRES_URL = os.environ.get("PSFLOW_TEST_POSTGRES_URL")

PINNED_TODAY = "2026-11-26"
"""The anchor of every test run unless ``PSFLOW_TEST_TODAY`` names another (``.ci/run`` adds a year end)."""
TEST_TODAY = date.fromisoformat(os.environ.get("PSFLOW_TEST_TODAY") or PINNED_TODAY)
os.environ["PSFLOW_SANDBOX_TODAY"] = TEST_TODAY.isoformat()

TEST_KEY_ID = "test-1"
TEST_KEY = "cHNmbG93LXRlc3Qta2V5LWFlcy0yNTYtZ2NtLTMyYnk="
"""Every client, worker and replayer of a test run shares this key (``PSFLOW_ENCRYPTION_KEYS``), as the
processes of one deployment do; histories in tests/histories recorded before encryption still decode."""
os.environ.setdefault("PSFLOW_ENCRYPTION_KEYS", json.dumps({TEST_KEY_ID: TEST_KEY}))
DATA_CONVERTER = data_converter(Settings())
"""The converter of psflow's clients (encrypting), for replayers and the session server's own client."""


def anchor_month_day(months: int, day: int) -> date:
    """Day ``day`` of the month ``months`` after the anchor's.

    The sandbox's NetSuite has a period for each month from 12 before the anchor's to 3 after it,
    open from the month before the anchor's on: ``anchor_month_day(2, 16)`` is an open day with no
    demo time on it, ``anchor_month_day(-10, 14)`` a day in a closed period.
    """
    index = TEST_TODAY.year * 12 + TEST_TODAY.month - 1 + months
    return date(index // 12, index % 12 + 1, day)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real ``temporal server start-dev`` for the session, with psflow's search attributes."""
    cli = ensure_temporal_cli(progress=lambda line: print(f"[temporal-cli] {line}", flush=True))
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(cli),
        data_converter=DATA_CONVERTER,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_startup_timeout=timedelta(seconds=60),
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=200",
            *dev_server_tuning_flags(),
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client of the session server, connected the one way psflow connects (`stack.client.connect`)."""
    address = temporal_env.client.service_client.config.target_host
    return await connect(Settings(temporal=TemporalSettings(address=address)))


@pytest.fixture
def settings(temporal_env: WorkflowEnvironment, tmp_path: Path) -> Settings:
    """Settings pointing at the session server, with task queues no other test uses."""
    return Settings(
        temporal=TemporalSettings(address=temporal_env.client.service_client.config.target_host),
        task_queue_prefix=f"t-{uuid.uuid4().hex[:10]}-",
        data_dir=tmp_path / "psflow-data",
    )


def store_urls(tmp_path: Path) -> list[str]:
    """SQLite always; Postgres too when PSFLOW_TEST_POSTGRES_URL is set (CI sets it)."""
    urls = [f"sqlite:///{tmp_path / 'store.db'}"]
    if POSTGRES_URL:
        urls.append(POSTGRES_URL)
    return urls


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SaaS sandbox as a real process on a free port, seeded with the demo firm, for the session.

    Tests that change shared state (faults, stages) undo it; each flow test uses its own deals.
    """
    yield from running_sandbox(tmp_path_factory.mktemp("sandbox"))


def running_sandbox(directory: Path) -> Iterator[str]:
    """Run a seeded sandbox with its database in ``directory`` until the generator is closed; yields its URL."""
    import subprocess
    import sys
    import time

    import httpx

    port = _free_port()
    db = directory / "sandbox.db"
    log = db.with_suffix(".log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--db",
            str(db),
            "--seed",
            "demo",
            "--today",
            TEST_TODAY.isoformat(),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/_admin/status", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the sandbox did not start; see {db.with_suffix('.log')}")
        time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture
def flow_settings(settings: Settings, sandbox_url: str) -> Settings:
    """Settings for end-to-end flow tests: the session's Temporal server and sandbox, fresh queues and store."""
    return settings.model_copy(update={"sandbox_url": sandbox_url})


@pytest.fixture
def clear_faults(sandbox_url: str) -> Iterator[None]:
    """Remove every injected fault after the test, whatever happened in it."""
    import httpx

    yield
    httpx.delete(f"{sandbox_url}/_admin/faults", timeout=10)


@pytest.fixture(params=["sqlite", *(["postgres"] if POSTGRES_URL else [])])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on SQLite, and on Postgres (in a schema of its own) when PSFLOW_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        sqlite = Store(f"sqlite:///{tmp_path / 'psflow.db'}")
        sqlite.upgrade()
        yield sqlite
        sqlite.engine.dispose()
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = Store(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    postgres = Store(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}")
    postgres.upgrade()
    yield postgres
    postgres.engine.dispose()
    with admin.engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.engine.dispose()
