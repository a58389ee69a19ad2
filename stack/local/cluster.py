"""A real Temporal cluster on PostgreSQL, on loopback: what ``psflow dev up --cluster`` and tests/cluster run.

Not the CLI's dev server (one history shard, SQLite): the server v1.29.1 (``stack.local.temporal_server``) with
its frontend, history, matching and worker services in one process, ``numHistoryShards`` from settings (8 or
more), persistence and SQL visibility in two PostgreSQL databases whose schemas the server's own SQL tool
applies from the schemas embedded in it, and the Web UI as the ui-server pointed at it with psflow's codec
endpoint (research: temporal-round2 §6.1-6.4). Config files are written as JSON, which YAML reads as is.

PostgreSQL is any server given by URL (``cluster_postgres_url``; CI's) or one started here under the data
directory with Debian's ``initdb``/``postgres`` (as the ``postgres`` user when running as root: PostgreSQL
refuses to run as root).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from temporalio.client import Client

Progress = Callable[[str], None]

TEMPORAL_SCHEMA = "postgresql/v12/temporal"
VISIBILITY_SCHEMA = "postgresql/v12/visibility"
CONFIG_ENV = "psflow"
"""The server's and the UI server's ``--env``: they read ``config/psflow.yaml``."""

DYNAMIC_CONFIG: dict[str, Any] = {
    # A search attribute registered a moment ago is usable at once (the dev server does the same); on a
    # real server it otherwise lags until the cache refreshes (research §6.3).
    "system.forceSearchAttributesCacheRefreshOnRead": True,
    "system.enableEagerWorkflowStart": True,
    "system.enableActivityEagerExecution": True,
    "frontend.enableUpdateWorkflowExecution": True,
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted": True,
}
"""Dynamic config of the local cluster; the file is re-read every ``pollInterval`` (at least 5 s)."""


class ClusterError(Exception):
    """The cluster could not be set up or started; the message says what failed and where its output is."""


@dataclass(frozen=True)
class Postgres:
    """Where the cluster's databases live, from a ``postgresql://user:password@host:port/db`` URL."""

    host: str
    port: int
    user: str
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> Postgres:
        parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
        )

    def sql_tool_args(self, database: str) -> list[str]:
        """The SQL tool's connection flags (its defaults are MySQL's: always name the plugin and port). The
        password goes in ``sql_tool_env`` rather than on a command line others can read."""
        return ["--ep", self.host, "-p", str(self.port), "-u", self.user, "--pl", "postgres12", "--db", database]

    def sql_tool_env(self) -> dict[str, str]:
        return {**os.environ, **({"SQL_PASSWORD": self.password} if self.password else {})}


@dataclass(frozen=True)
class Databases:
    """The two databases of one cluster: persistence and visibility."""

    temporal: str = "temporal"
    visibility: str = "temporal_visibility"


@dataclass(frozen=True)
class ClusterPorts:
    """Every port the one server process listens on (loopback), and the UI server's.

    Membership ports must be below 32768: the server records them in ``cluster_membership.rpc_port``, a
    PostgreSQL ``smallint`` (a higher one stops the server at start: "out of range for type smallint").
    """

    frontend: int
    frontend_http: int
    history: int
    matching: int
    worker: int
    frontend_membership: int
    history_membership: int
    matching_membership: int
    worker_membership: int
    ui: int

    @classmethod
    def from_base(cls, frontend: int, ui: int, base: int) -> ClusterPorts:
        """The frontend's and UI's ports as given; the eight others ``base`` to ``base + 7``."""
        return cls(frontend, base + 7, base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, ui)

    def internal(self) -> tuple[int, ...]:
        """Every port but the frontend's and the UI's."""
        return (
            self.frontend_http, self.history, self.matching, self.worker,
            self.frontend_membership, self.history_membership, self.matching_membership, self.worker_membership,
        )  # fmt: skip

    @classmethod
    def free(cls) -> ClusterPorts:
        """Ten free loopback ports below 32768 (``free_low_ports``)."""
        return cls(*free_low_ports(10))


def free_low_ports(count: int) -> list[int]:
    """``count`` free loopback ports below 32768 (membership ports are a ``smallint``: ``ClusterPorts``), picked
    at random so that two clusters on one machine (tests, benchmarks) rarely try the same; each was free when
    checked."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 32767)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise ClusterError(f"{what} failed (exit {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout + result.stderr


def setup_schemas(sql_tool: Path, postgres: Postgres, databases: Databases, progress: Progress) -> None:
    """Create both databases if missing and bring their schemas to the server's versions (idempotent).

    ``setup-schema -v 0.0`` creates the version table (a no-op when it exists); ``update-schema`` applies
    only the versions a database lacks, from the schemas embedded in the tool.
    """
    env = postgres.sql_tool_env()
    for database, schema in ((databases.temporal, TEMPORAL_SCHEMA), (databases.visibility, VISIBILITY_SCHEMA)):
        base = [str(sql_tool), *postgres.sql_tool_args(database)]
        created = subprocess.run([*base, "create-database"], capture_output=True, text=True, check=False, env=env)
        if created.returncode != 0 and "already exists" not in created.stdout + created.stderr:
            raise ClusterError(
                f"creating database {database} failed:\n{created.stdout[-2000:]}{created.stderr[-2000:]}"
            )
        _run([*base, "setup-schema", "-v", "0.0"], f"setting up the schema of {database}", env)
        _run([*base, "update-schema", "-s", schema], f"updating the schema of {database} to {schema}", env)
        progress(f"database {database}: schema {schema} up to date")


def drop_databases(sql_tool: Path, postgres: Postgres, databases: Databases) -> None:
    """Drop both databases (tests' teardown)."""
    for database in (databases.temporal, databases.visibility):
        command = [str(sql_tool), *postgres.sql_tool_args(database), "drop-database", "-f"]
        _run(command, f"dropping {database}", postgres.sql_tool_env())


def server_config(
    postgres: Postgres, databases: Databases, ports: ClusterPorts, *, shards: int, dynamic_config: Path
) -> dict[str, Any]:
    """The server's config (``config/psflow.yaml``): four services on loopback, PostgreSQL persistence and
    visibility, ``shards`` history shards (fixed once the database is created)."""

    def datastore(database: str, conns: int) -> dict[str, Any]:
        return {
            "sql": {
                "pluginName": "postgres12",
                "databaseName": database,
                "connectAddr": f"{postgres.host}:{postgres.port}",
                "connectProtocol": "tcp",
                "user": postgres.user,
                "password": postgres.password or "",
                "maxConns": conns,
                "maxIdleConns": conns,
                "maxConnLifetime": "1h",
            }
        }

    def rpc(grpc: int, membership: int, **extra: int) -> dict[str, Any]:
        return {"rpc": {"grpcPort": grpc, "membershipPort": membership, "bindOnLocalHost": True, **extra}}

    return {
        "log": {"stdout": True, "level": "warn"},
        "persistence": {
            "defaultStore": "postgres-default",
            "visibilityStore": "postgres-visibility",
            "numHistoryShards": shards,
            "datastores": {
                "postgres-default": datastore(databases.temporal, 20),
                "postgres-visibility": datastore(databases.visibility, 5),
            },
        },
        "global": {"membership": {"maxJoinDuration": "30s", "broadcastAddress": "127.0.0.1"}},
        "services": {
            "frontend": rpc(ports.frontend, ports.frontend_membership, httpPort=ports.frontend_http),
            "history": rpc(ports.history, ports.history_membership),
            "matching": rpc(ports.matching, ports.matching_membership),
            "worker": rpc(ports.worker, ports.worker_membership),
        },
        "clusterMetadata": {
            "enableGlobalNamespace": False,
            "failoverVersionIncrement": 10,
            "masterClusterName": "active",
            "currentClusterName": "active",
            "clusterInformation": {
                "active": {
                    "enabled": True,
                    "initialFailoverVersion": 1,
                    "rpcName": "frontend",
                    "rpcAddress": f"127.0.0.1:{ports.frontend}",
                }
            },
        },
        "dcRedirectionPolicy": {"policy": "noop"},
        "dynamicConfigClient": {"filepath": str(dynamic_config), "pollInterval": "10s"},
    }


def dynamic_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The dynamic-config file's shape: each key → a list of values (here without constraints)."""
    return {key: [{"value": value}] for key, value in values.items()}


def ui_config(ports: ClusterPorts, *, namespace: str, codec_endpoint: str | None, origin: str) -> dict[str, Any]:
    """The UI server's config (``config/psflow.yaml``): on loopback, this cluster's frontend, the codec
    endpoint; CORS limited to its own origin (its ``development`` env allows every origin)."""
    return {
        "temporalGrpcAddress": f"127.0.0.1:{ports.frontend}",
        "host": "127.0.0.1",
        "port": ports.ui,
        "publicPath": "",
        "enableUi": True,
        "defaultNamespace": namespace,
        "showTemporalSystemNamespace": False,
        "notifyOnNewVersion": False,
        "cors": {"allowOrigins": [origin], "cookieInsecure": True},
        "codec": {"endpoint": codec_endpoint or "", "passAccessToken": False, "includeCredentials": False},
        "auth": {"enabled": False},
    }


def write_server_files(
    root: Path,
    postgres: Postgres,
    databases: Databases,
    ports: ClusterPorts,
    *,
    shards: int,
    extra_dynamic_config: Mapping[str, Any] | None = None,
) -> None:
    """Write ``root/config/psflow.yaml`` and ``root/config/dynamicconfig.yaml``."""
    config_dir = root / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    dynamic = config_dir / "dynamicconfig.yaml"
    dynamic.write_text(json.dumps(dynamic_config({**DYNAMIC_CONFIG, **(extra_dynamic_config or {})}), indent=2))
    config = server_config(postgres, databases, ports, shards=shards, dynamic_config=dynamic.resolve())
    target = config_dir / f"{CONFIG_ENV}.yaml"
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
    target.chmod(0o600)  # it holds the database password


def server_command(server: Path, root: Path) -> list[str]:
    """Run all four services in one process with the config under ``root``."""
    return [str(server), "--root", str(root), "--config", "config", "--env", CONFIG_ENV, "--allow-no-auth", "start"]


def write_ui_files(root: Path, config: Mapping[str, Any]) -> None:
    """Write the UI server's ``root/config/psflow.yaml``."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / f"{CONFIG_ENV}.yaml").write_text(json.dumps(config, indent=2), encoding="utf-8")


def ui_command(ui_server: Path, root: Path) -> list[str]:
    return [str(ui_server), "--root", str(root), "--config", "config", "--env", CONFIG_ENV, "start"]


async def wait_serving(address: str, alive: Callable[[], bool] = lambda: True, timeout_s: float = 60.0) -> None:
    """Wait until the frontend at ``address`` answers its gRPC health check as SERVING (``alive``: whether
    the server process still runs; its exit ends the wait at once)."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise ClusterError(f"the Temporal server for {address} exited before serving; see its log")
        try:
            client = await Client.connect(address, namespace="temporal-system")
            if await client.service_client.check_health():
                return
        except Exception as exc:  # not listening yet, or its services still joining
            last = exc
        await asyncio.sleep(0.5)
    raise ClusterError(f"the Temporal frontend at {address} was not SERVING after {timeout_s:.0f}s ({last})")


# --- A PostgreSQL of the cluster's own (dev up --cluster, tests without PSFLOW_TEST_POSTGRES_URL) ---


def postgres_bin_dir() -> Path | None:
    """Debian's newest ``/usr/lib/postgresql/<major>/bin``, or the directory of ``initdb`` on PATH."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if candidates:
        return candidates[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


POSTGRES_MISSING = (
    "PostgreSQL is not installed: install it (Debian: `apt-get install postgresql`) or set "
    "PSFLOW_CLUSTER_POSTGRES_URL to a server the cluster may create its databases in"
)


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user (Debian's package makes it)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def init_local_postgres(directory: Path, progress: Progress) -> None:
    """``initdb`` a trust-authenticated cluster in ``directory/data`` unless one is there."""
    data = directory / "data"
    if (data / "PG_VERSION").exists():
        return
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise ClusterError(POSTGRES_MISSING)
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        if subprocess.run(_as_postgres_user(["test", "-w", str(directory)]), check=False).returncode != 0:
            raise ClusterError(
                f"the postgres user cannot reach {directory} (as root, PostgreSQL runs as `postgres`, and a parent "
                "directory is private): set PSFLOW_DATA_DIR to a directory every parent of which others may "
                "search, or PSFLOW_CLUSTER_POSTGRES_URL to a PostgreSQL the cluster may use"
            )
    progress(f"initialising PostgreSQL in {data}")
    _run(_as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]), "initdb")


MAX_CONNECTIONS = 300
"""``max_connections`` of a PostgreSQL psflow starts for a cluster (dev stack, tests, benchmarks)."""


def local_postgres_command(directory: Path, port: int) -> list[str]:
    """The ``postgres`` server in the foreground on 127.0.0.1:``port``, its socket in ``directory``."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise ClusterError(POSTGRES_MISSING)
    return _as_postgres_user([
        str(bin_dir / "postgres"), "-D", str(directory / "data"),
        "-c", "listen_addresses=127.0.0.1", "-p", str(port), "-k", str(directory),
        # The server takes up to 25 connections, and every worker process a store pool plus its budget slots'
        # sessions (docs/workers.md): PostgreSQL's default of 100 runs out with a few workers.
        "-c", f"max_connections={MAX_CONNECTIONS}",
    ])  # fmt: skip


def local_postgres_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"
