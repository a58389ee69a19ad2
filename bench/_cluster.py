"""The real Temporal cluster as a benchmark's server: ``stack.local.cluster`` on free loopback ports.

What ``psflow dev up --cluster`` runs, headless and for one run: PostgreSQL (its own under a temporary
directory, or the one ``PSFLOW_CLUSTER_POSTGRES_URL`` names), the server v1.29.1 with its four services in
one process and ``SHARDS`` history shards, persistence and SQL visibility in two databases named for the
run, namespace ``default`` and psflow's search attributes as ``psflow setup`` registers them. No UI server:
nobody looks at it during a run. The same PostgreSQL holds the run's psflow store (a third database), so
that several worker processes share one store and one set of request budgets (docs/workers.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from stack.client import connect
from stack.local import cluster, temporal_server
from stack.namespaces import ensure_namespace
from stack.search_attributes import ensure_search_attributes
from stack.settings import Settings, TemporalSettings

SHARDS = 8
"""History shards of the benchmark's cluster: the least ``psflow dev up --cluster`` allows."""
NAMESPACE = "default"
POSTGRES_URL_ENV = "PSFLOW_CLUSTER_POSTGRES_URL"

Say = Callable[[str], None]
Launch = Callable[[str, list[str]], "subprocess.Popen[bytes]"]
WaitUntil = Callable[[Callable[[], bool], "subprocess.Popen[bytes]", str, Path], Awaitable[None]]


class ClusterStartError(Exception):
    """The cluster could not start (the stack turns it into its own start error)."""


@dataclass(frozen=True)
class RunningCluster:
    """The cluster's frontend, and the psflow store (PostgreSQL) of the run."""

    address: str
    store_url: str


def _connectable(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=1).close()
    except psycopg.OperationalError:
        return False
    return True


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


def _create_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _drop_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


@dataclass
class ClusterRun:
    """What one run set up, to undo once the stack's processes have stopped (`cleanup`)."""

    databases: cluster.Databases
    store_database: str
    given_url: str | None
    sql_tool: Path | None = None
    postgres_dir: Path | None = None

    def cleanup(self) -> None:
        """Drop the run's databases on a given PostgreSQL; remove the own PostgreSQL's directory."""
        if self.given_url is not None and self.sql_tool is not None:
            with suppress(Exception):
                cluster.drop_databases(self.sql_tool, cluster.Postgres.from_url(self.given_url), self.databases)
            with suppress(Exception):
                _drop_database(self.given_url, self.store_database)
        if self.postgres_dir is not None:
            shutil.rmtree(self.postgres_dir, ignore_errors=True)


def new_run() -> ClusterRun:
    run = uuid.uuid4().hex[:8]
    databases = cluster.Databases(temporal=f"psflow_bench_{run}_temporal", visibility=f"psflow_bench_{run}_visibility")
    return ClusterRun(databases, f"psflow_bench_{run}_store", os.environ.get(POSTGRES_URL_ENV))


async def start_cluster(
    run: ClusterRun, workdir: Path, say: Say, launch: Launch, wait_until: WaitUntil
) -> RunningCluster:
    """PostgreSQL (unless given), the schemas, the server SERVING with the namespace and search attributes.

    ``launch(name, command)`` starts a process of the stack (the stack stops it when it closes, then calls
    ``run.cleanup()``); ``wait_until(ready, popen, name, log)`` waits for it as the stack waits for the others.
    """
    server_bin = await asyncio.to_thread(temporal_server.ensure, temporal_server.SERVER, say)
    run.sql_tool = await asyncio.to_thread(temporal_server.ensure, temporal_server.SQL_TOOL, say)
    admin_url = run.given_url
    if admin_url is None:
        # Not under workdir: as root PostgreSQL runs as `postgres`, and a mkdtemp directory is private.
        run.postgres_dir = Path(tempfile.mkdtemp(prefix="psflow-bench-pg."))
        try:
            await asyncio.to_thread(cluster.init_local_postgres, run.postgres_dir, say)
        except cluster.ClusterError as exc:
            raise ClusterStartError(str(exc)) from None
        port = cluster.free_low_ports(1)[0]
        admin_url = cluster.local_postgres_url(port)
        say(f"starting PostgreSQL on 127.0.0.1:{port} (log {workdir / 'postgres.log'})")
        postgres = launch("postgres", cluster.local_postgres_command(run.postgres_dir, port))
        url = admin_url
        await wait_until(lambda: _connectable(url), postgres, "PostgreSQL", workdir / "postgres.log")
    pg = cluster.Postgres.from_url(admin_url)
    try:
        await asyncio.to_thread(cluster.setup_schemas, run.sql_tool, pg, run.databases, say)
    except cluster.ClusterError as exc:
        raise ClusterStartError(str(exc)) from None
    await asyncio.to_thread(_create_database, admin_url, run.store_database)
    ports = cluster.ClusterPorts.free()
    root = workdir / "cluster"
    cluster.write_server_files(root, pg, run.databases, ports, shards=SHARDS)
    address = f"127.0.0.1:{ports.frontend}"
    log = workdir / "temporal.log"
    say(
        f"starting the Temporal server {temporal_server.TEMPORAL_SERVER_VERSION} on {address} "
        f"({SHARDS} history shards; log {log})"
    )
    server = launch("temporal", cluster.server_command(server_bin, root))
    started = time.monotonic()
    try:
        await cluster.wait_serving(address, alive=lambda: server.poll() is None)
    except cluster.ClusterError as exc:
        raise ClusterStartError(f"{exc}: {log}") from None
    client = await connect(Settings(temporal=TemporalSettings(address=address, namespace=NAMESPACE)))
    await ensure_namespace(client, NAMESPACE, timedelta(hours=24))
    await ensure_search_attributes(client)
    say(f"the cluster serves (namespace {NAMESPACE}, search attributes) after {time.monotonic() - started:.1f}s")
    store_url = _with_database(admin_url, run.store_database).replace("postgresql://", "postgresql+psycopg://", 1)
    return RunningCluster(address=address, store_url=store_url)
