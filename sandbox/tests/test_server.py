"""The sandbox over a real socket: what a client really sees from uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from sandbox.testing import serving

from .conftest import make_app

REPO = Path(__file__).resolve().parents[2]


async def test_drop_mode_closes_the_connection_after_committing(app: FastAPI) -> None:
    with serving(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            token = (await client.post("/fake/token")).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            put = await client.put(
                "/_admin/faults/fake", json={"commit_then_fail": 1.0, "commit_then_fail_mode": "drop"}
            )
            assert put.status_code == 200

            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await client.post("/fake/items", json={"ref": "TE-42"}, headers=headers)

            assert [item["ref"] for item in (await client.get("/fake/items")).json()] == ["TE-42"]
            assert (await client.get("/_admin/faults")).json()["counters"]["fake"]["commit_then_fail"] == 1


async def test_a_client_timeout_meets_a_hanging_request(app: FastAPI) -> None:
    with serving(app) as url:
        # Only the faulted request has the short timeout: on a loaded machine the set-up call itself
        # (a fresh server's first write) can take longer than 0.3 s.
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.put("/_admin/faults/fake", json={"timeout": 1.0, "timeout_s": 30, "times": 1})
            started = time.perf_counter()
            with pytest.raises(httpx.ReadTimeout):
                await client.get("/fake/items", timeout=0.3)
            assert time.perf_counter() - started < 5
            assert (await client.get("/fake/items")).status_code == 200


async def test_restart_over_a_socket_keeps_data(tmp_path: Path) -> None:
    with serving(make_app(tmp_path / "s.db")) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            event = {"specversion": "1.0", "id": "1", "source": "/t", "type": "t"}
            await client.post("/sink/events", json=event, headers={"content-type": "application/cloudevents+json"})

    with serving(make_app(tmp_path / "s.db")) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/sink/events")).json()["total"] == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_busy_port_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(tmp_path / "s.db")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == f"port {port} is in use: stop what holds it or pass --port"


def test_python_m_sandbox_serves_every_system(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PSFLOW_SANDBOX_FAULTS": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--db", str(tmp_path / "s.db"), "--seed", "demo"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 20
        while status is None and time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/_admin/status", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert status is not None, process.stderr.read() if process.poll() is not None else "no answer"
        assert status["systems"]["sink"]["base_url"] == f"http://127.0.0.1:{port}/sink"
        assert status["seed"]["name"] == "demo"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode in (0, -15)
