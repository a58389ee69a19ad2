"""A real Temporal cluster for the session: server v1.29.1 on PostgreSQL, 8 history shards, four services.

``temporal_cluster`` is session-scoped and reusable by any test directory that imports it (tests/cluster's
own tests, the multi-worker tests): its databases are named per session, so two runs on one PostgreSQL
(CI's ``PSFLOW_TEST_POSTGRES_URL``) never collide, and they are dropped at the end. Without that variable
the fixture starts a PostgreSQL of its own from Debian's binaries in a temporary directory.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from temporalio.client import Client

from connectors._core import RateBudget
from stack.client import connect
from stack.local import cluster, temporal_server
from stack.namespaces import ensure_namespace
from stack.search_attributes import ensure_search_attributes
from stack.settings import Settings, TemporalSettings
from tests.conftest import POSTGRES_URL, _free_port, running_sandbox
from tests.flows.conftest import connectors, kantata, win_deal  # noqa: F401  (the flows' fixtures, here too)

SHARDS = 8
NAMESPACE = "default"


@dataclass(frozen=True)
class TemporalCluster:
    """Where the session's cluster is: its frontend, the namespace psflow uses, its PostgreSQL databases."""

    address: str
    namespace: str
    postgres_url: str
    databases: cluster.Databases
    shards: int
    log: Path


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_postgres(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url, connect_timeout=1).close()
            return
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {log}") from None
            time.sleep(0.2)


@pytest.fixture(scope="session")
def cluster_postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """CI's PostgreSQL, or one of the session's own."""
    if POSTGRES_URL:
        yield POSTGRES_URL
        return
    # Not under pytest's temporary directory: it is private to root, and PostgreSQL runs as `postgres`.
    directory = Path(tempfile.mkdtemp(prefix="psflow-cluster-pg."))
    cluster.init_local_postgres(directory, progress=lambda line: print(f"[postgres] {line}", flush=True))
    port = _free_port()
    log = directory / "postgres.log"
    with log.open("w") as out:
        process = subprocess.Popen(cluster.local_postgres_command(directory, port), stdout=out, stderr=out)
    url = cluster.local_postgres_url(port)
    try:
        _wait_postgres(url, process, log)
        yield url
    finally:
        _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_cluster(
    cluster_postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TemporalCluster]:
    """The cluster, SERVING, with namespace ``default`` (72 h retention) and psflow's search attributes."""
    progress = lambda line: print(f"[temporal-cluster] {line}", flush=True)  # noqa: E731
    server = temporal_server.ensure(temporal_server.SERVER, progress)
    sql_tool = temporal_server.ensure(temporal_server.SQL_TOOL, progress)
    postgres = cluster.Postgres.from_url(cluster_postgres_url)
    session = uuid.uuid4().hex[:8]
    databases = cluster.Databases(temporal=f"psflow_{session}_temporal", visibility=f"psflow_{session}_visibility")
    cluster.setup_schemas(sql_tool, postgres, databases, progress)
    root = tmp_path_factory.mktemp("temporal-cluster")
    ports = cluster.ClusterPorts.free()
    cluster.write_server_files(
        root, postgres, databases, ports, shards=SHARDS,
        extra_dynamic_config={"limit.historyCount.suggestContinueAsNew": 200},
    )  # fmt: skip
    log = root / "server.log"
    process = _spawn(cluster.server_command(server, root), log)
    address = f"127.0.0.1:{ports.frontend}"
    try:
        await cluster.wait_serving(address, alive=lambda: process.poll() is None)
        client = await connect(Settings(temporal=TemporalSettings(address=address, namespace=NAMESPACE)))
        await ensure_namespace(client, NAMESPACE, timedelta(hours=72))
        await ensure_search_attributes(client)
        yield TemporalCluster(address, NAMESPACE, cluster_postgres_url, databases, SHARDS, log)
    finally:
        _stop(process)
        cluster.drop_databases(sql_tool, postgres, databases)


@pytest.fixture(autouse=True)
def _fresh_budget_registry() -> Iterator[None]:
    # RateBudget.shared is process-wide: each test gets the limits its own settings ask for, not those of a
    # test before it in the session (tests/bench leaves NetSuite's at 3; the posting test asks for 5).
    RateBudget.reset_registry()
    yield
    RateBudget.reset_registry()


# --- The flows' fixtures, pointed at the cluster (tests/cluster/test_cluster_flows.py runs tests/flows' tests) ---


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sandbox of the cluster tests' own: tests/flows' session sandbox already holds what the same tests
    posted and invoiced on the dev server when both directories run in one session."""
    yield from running_sandbox(tmp_path_factory.mktemp("cluster-sandbox"))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(temporal_cluster: TemporalCluster) -> Client:
    """A client of the cluster's namespace, connected the one way psflow connects."""
    return await connect(
        Settings(temporal=TemporalSettings(address=temporal_cluster.address, namespace=temporal_cluster.namespace))
    )


@pytest.fixture
def settings(temporal_cluster: TemporalCluster, tmp_path: Path) -> Settings:
    """Settings pointing at the cluster, with task queues no other test uses."""
    return Settings(
        temporal=TemporalSettings(address=temporal_cluster.address, namespace=temporal_cluster.namespace),
        task_queue_prefix=f"t-{uuid.uuid4().hex[:10]}-",
        data_dir=tmp_path / "psflow-data",
    )
