"""A PostgreSQL store for the budget tests: they test what only a shared database can do, so they never skip.

$PSFLOW_TEST_POSTGRES_URL when set (CI's); otherwise a PostgreSQL of their own from the Debian binaries
(``/usr/lib/postgresql/*/bin``), started once for the session in a temporary directory and stopped after.
Without either the tests fail and say what to install or set.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from stack.local import cluster
from store import Store
from tests.conftest import POSTGRES_URL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL database the tests may create schemas in."""
    if POSTGRES_URL:
        yield POSTGRES_URL
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "the budget tests need PostgreSQL: set PSFLOW_TEST_POSTGRES_URL=postgresql://user@host:port/db, "
            "or install Debian's postgresql package so they can start one (.ci/run does both)",
            pytrace=False,
        )
    bin_dir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="psflow-budgets-pg-"))
    # initdb refuses to run as root: as root, run the server as the postgres user, as .ci/run does.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, user="postgres")
    port = _free_port()
    data, log = root / "data", root / "log"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections={cluster.MAX_CONNECTIONS}"
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run([*pg_ctl, "-l", str(log), "-w", "-o", options, "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A migrated store in a schema of its own on the test PostgreSQL (dropped after)."""
    schema = f"b_{uuid.uuid4().hex[:10]}"
    admin = Store(postgres_server)
    with admin.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in postgres_server else "?"
    url = f"{postgres_server}{separator}options=-csearch_path%3D{schema}"
    store = Store(url)
    store.upgrade()
    store.engine.dispose()
    try:
        yield url
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.engine.dispose()
