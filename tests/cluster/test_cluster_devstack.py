"""``psflow dev up --cluster``: a real cluster (its own PostgreSQL, the server, the UI server) in the dev server's
place, with real processes on ports no other test or dev stack uses."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import GetClusterInfoRequest

from stack.client import connect
from stack.codec_server import token as codec_token
from stack.local import devstack
from stack.local.cluster import free_low_ports
from stack.namespaces import describe_retention
from stack.settings import Settings, TemporalSettings
from workflows.search_attributes import ALL


def _free_block(size: int) -> int:
    """The first of ``size`` consecutive free ports below 32768 (membership ports are stored as smallint)."""
    while True:
        base = random.randint(20000, 32767 - size)
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


def _running(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def cluster_stack() -> Iterator[Settings]:
    # The data directory is not under pytest's: that one is private to root, and PostgreSQL runs as `postgres`.
    data = Path(tempfile.mkdtemp(prefix="psflow-dev-cluster."))
    data.chmod(0o755)
    frontend, ui, sandbox, gateway, codec, postgres = free_low_ports(6)
    settings = Settings(
        temporal=TemporalSettings(address=f"127.0.0.1:{frontend}", ui_url=f"http://127.0.0.1:{ui}"),
        sandbox_url=f"http://127.0.0.1:{sandbox}",
        gateway_port=gateway,
        codec_server_port=codec,
        cluster_postgres_port=postgres,
        cluster_internal_port_base=_free_block(8),
        data_dir=data,
        task_queue_prefix="devstack-cluster-test-",
    )
    try:
        yield settings
    finally:
        devstack.down(settings)
        shutil.rmtree(data, ignore_errors=True)


async def test_dev_up_cluster_runs_a_real_cluster_with_its_ui_and_a_second_up_changes_nothing(
    cluster_stack: Settings,
) -> None:
    settings = cluster_stack
    statuses = await asyncio.to_thread(devstack.up, settings, cluster=True)
    assert {s.name: s.running for s in statuses} == {
        "codec-server": True, "postgres": True, "temporal-server": True, "temporal-ui": True,
        "sandbox": True, "gateway": True, "worker": True,
    }  # fmt: skip
    pids = {s.name: s.pid for s in statuses}

    client = await connect(settings)
    info = await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    assert (info.history_shard_count, info.persistence_store) == (8, "postgres12")
    assert await describe_retention(client, "default") is not None  # created: a cluster has no `default`
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert {key.name for key in ALL} <= set(listed.custom_attributes)
    # The Web UI is the cluster's, decoding through the codec server with the stack's token in the path.
    async with httpx.AsyncClient() as http:
        ui_settings = (await http.get(f"{settings.temporal.ui_url}/api/v1/settings", timeout=10)).json()
    codec_url = f"http://127.0.0.1:{settings.codec_server_port}/t/{codec_token(settings)}"
    assert ui_settings["Codec"]["Endpoint"] == codec_url and ui_settings["DefaultNamespace"] == "default"

    # A later `up` without the flag keeps the cluster, and restarts nothing.
    again: list[str] = []
    assert {s.name: s.pid for s in await asyncio.to_thread(devstack.up, settings, again.append)} == pids
    assert all("already running" in line for line in again), again

    # --no-cluster goes back to the dev server at the same address.
    back = {s.name: s for s in await asyncio.to_thread(devstack.up, settings, cluster=False)}
    assert "temporal-server" not in back and back["temporal"].running
    for name in ("postgres", "temporal-server", "temporal-ui"):
        assert not _running(pids[name]), f"{name} still runs"
