"""``psflow dev up | down | status`` with real processes, on ports no other test or dev stack uses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from stack.codec_server import token as codec_token
from stack.local import devstack
from stack.local.devstack import StackError
from stack.settings import Settings, TemporalSettings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        temporal=TemporalSettings(address=f"127.0.0.1:{free_port()}", ui_url=f"http://127.0.0.1:{free_port()}"),
        sandbox_url=f"http://127.0.0.1:{free_port()}",
        gateway_port=free_port(),
        codec_server_port=free_port(),
        data_dir=tmp_path / "data",
        task_queue_prefix="devstack-test-",
    )
    yield settings
    devstack.down(settings)


def test_up_status_second_up_and_down(stack_settings: Settings) -> None:
    messages: list[str] = []
    statuses = devstack.up(stack_settings, progress=messages.append)
    running = {s.name: s.running for s in statuses}
    assert running == {"codec-server": True, "temporal": True, "sandbox": True, "gateway": True, "worker": True}
    pids = {s.name: s.pid for s in statuses}
    # The dev server's Web UI decodes through the codec server, with the stack's token in the path.
    codec_url = f"http://127.0.0.1:{stack_settings.codec_server_port}/t/{codec_token(stack_settings)}"
    ui_settings = httpx.get(f"{stack_settings.temporal.ui_url}/api/v1/settings", timeout=10).json()
    assert codec_url in json.dumps(ui_settings), ui_settings
    preflight = httpx.options(
        f"{codec_url}/decode",
        headers={"Origin": stack_settings.temporal.ui_url, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-namespace"},
        timeout=10,
    )  # fmt: skip
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == stack_settings.temporal.ui_url
    assert httpx.post(f"{codec_url}/decode", json={"payloads": []}, timeout=10).json() == {}

    again: list[str] = []
    assert {s.name: s.pid for s in devstack.up(stack_settings, progress=again.append)} == pids
    assert all("already running" in line for line in again)

    devstack.down(stack_settings)
    assert not any(s.running for s in devstack.status(stack_settings))
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids.values() if pid)


def test_a_stale_record_is_forgotten_and_the_service_started(stack_settings: Settings) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = stack_settings.data_dir / "stack.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"temporal": {"pid": dead.pid, "create_time": 0.0}}))
    messages: list[str] = []
    statuses = devstack.up(stack_settings, progress=messages.append)
    assert any("stale record" in line for line in messages)
    assert all(s.running for s in statuses)


def test_a_port_taken_by_someone_else_is_reported_with_what_to_do(stack_settings: Settings) -> None:
    port = int(stack_settings.sandbox_url.rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(StackError, match=rf"port {port} is already in use .* PSFLOW_SANDBOX_URL"):
            devstack.up(stack_settings)


def test_cli_reports_a_malformed_settings_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("task_queue_prefix = \n")
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "dev", "status"],
        env={**os.environ, "PSFLOW_SETTINGS_FILE": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "is not valid TOML" in completed.stderr and "Traceback" not in completed.stderr
