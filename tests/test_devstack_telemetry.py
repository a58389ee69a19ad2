"""``psflow dev up --telemetry``: a real Jaeger and a real Prometheus beside the local stack, on free ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from stack.local import devstack
from stack.local.devstack import StackError
from stack.local.telemetry import ALERT_RULES, LocalTelemetry
from stack.settings import Settings, TemporalSettings
from tests.test_devstack import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRAPED_WITHIN_S = 30.0
"""The local Prometheus scrapes every 5 s; a target not up after this long is not coming up."""
TELEMETRY_ENV = ("PSFLOW_METRICS_ADDRESS", "PSFLOW_GATEWAY_METRICS_ADDRESS", "PSFLOW_OTLP_ENDPOINT")
POINTED = ("codec-server", "gateway", "worker")
"""The processes ``--telemetry`` points at Jaeger and Prometheus."""


@pytest.fixture
def stack_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        temporal=TemporalSettings(address=f"127.0.0.1:{free_port()}", ui_url=f"http://127.0.0.1:{free_port()}"),
        sandbox_url=f"http://127.0.0.1:{free_port()}",
        gateway_port=free_port(),
        codec_server_port=free_port(),
        data_dir=tmp_path / "data",
        task_queue_prefix="devstack-telemetry-test-",
        metrics_address=f"127.0.0.1:{free_port()}",
        gateway_metrics_address=f"127.0.0.1:{free_port()}",
        dev_jaeger_otlp_port=free_port(),
        dev_jaeger_otlp_http_port=free_port(),
        dev_jaeger_query_port=free_port(),
        dev_jaeger_query_grpc_port=free_port(),
        dev_jaeger_health_port=free_port(),
        dev_prometheus_port=free_port(),
    )
    yield settings
    devstack.down(settings)


def _pids(statuses: list[devstack.ServiceStatus]) -> dict[str, int | None]:
    return {s.name: s.pid for s in statuses}


def _environ(pid: int | None) -> dict[str, str]:
    assert pid is not None
    return dict(psutil.Process(pid).environ())


def _gone(pid: int | None) -> bool:
    return pid is None or not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def _targets_up(prometheus: str) -> dict[str, str]:
    """Each scrape job's health once both are up, or as they are after SCRAPED_WITHIN_S."""
    deadline = time.monotonic() + SCRAPED_WITHIN_S
    while True:
        active = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        health = {target["labels"]["job"]: target["health"] for target in active}
        if set(health.values()) == {"up"} or time.monotonic() > deadline:
            return health
        time.sleep(0.5)


def _alert_names(prometheus: str) -> set[str]:
    groups: list[dict[str, Any]] = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    return {rule["name"] for group in groups for rule in group["rules"]}


def test_up_with_telemetry_runs_jaeger_and_prometheus_scraping_the_stack_and_down_stops_them(
    stack_settings: Settings,
) -> None:
    local = LocalTelemetry.from_settings(stack_settings)
    statuses = devstack.up(stack_settings, telemetry=True)
    assert {s.name: s.running for s in statuses} == {
        "jaeger": True, "prometheus": True,
        "codec-server": True, "temporal": True, "sandbox": True, "gateway": True, "worker": True,
    }  # fmt: skip
    pids = _pids(statuses)

    assert httpx.get(local.jaeger_health_url, timeout=5).status_code == 200
    assert httpx.get(f"{local.jaeger.query_url}/api/services", timeout=5).status_code == 200
    assert _targets_up(local.prometheus_url) == {"psflow-worker": "up", "psflow-gateway": "up"}
    # The production rule file itself is loaded: every alert it names is there.
    written = {line.split(":", 1)[1].strip() for line in ALERT_RULES.read_text().splitlines() if "- alert:" in line}
    assert written and _alert_names(local.prometheus_url) == written
    for name in POINTED:
        environ = _environ(pids[name])
        assert environ["PSFLOW_OTLP_ENDPOINT"] == local.jaeger.otlp_endpoint, name
        assert environ["PSFLOW_METRICS_ADDRESS"] == stack_settings.metrics_address, name
        assert environ["PSFLOW_GATEWAY_METRICS_ADDRESS"] == stack_settings.gateway_metrics_address, name

    # The choice is in the state file: a plain `up` keeps it, without restarting anything.
    again: list[str] = []
    assert _pids(devstack.up(stack_settings, progress=again.append)) == pids
    assert again and all("already running" in line for line in again), again
    assert _pids(devstack.up(stack_settings, progress=again.append, telemetry=True)) == pids

    listed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "dev", "status"],
        env={**os.environ, "PSFLOW_DATA_DIR": str(stack_settings.data_dir), "COLUMNS": "400"},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    for name in ("jaeger", "prometheus"):
        row = next(line for line in listed.splitlines() if f" {name} " in line)
        assert "running" in row and str(pids[name]) in row, listed

    devstack.down(stack_settings)
    assert all(_gone(pid) for pid in pids.values()), pids
    assert [s.name for s in devstack.status(stack_settings)] == [
        "codec-server", "temporal", "sandbox", "gateway", "worker"
    ]  # fmt: skip


def test_telemetry_switched_on_and_off_restarts_only_the_processes_pointed_at_it(stack_settings: Settings) -> None:
    plain = _pids(devstack.up(stack_settings))
    assert not any(key in _environ(plain["worker"]) for key in TELEMETRY_ENV)

    messages: list[str] = []
    on = _pids(devstack.up(stack_settings, progress=messages.append, telemetry=True))
    assert {name for name in plain if on[name] != plain[name]} == set(POINTED), messages
    jaeger = LocalTelemetry.from_settings(stack_settings).jaeger
    assert _environ(on["worker"])["PSFLOW_OTLP_ENDPOINT"] == jaeger.otlp_endpoint
    assert _gone(plain["worker"])

    off_statuses = devstack.up(stack_settings, telemetry=False)
    off = _pids(off_statuses)
    assert [s.name for s in off_statuses] == ["codec-server", "temporal", "sandbox", "gateway", "worker"]
    assert _gone(on["jaeger"]) and _gone(on["prometheus"])
    assert {name for name in off if off[name] != on[name]} == set(POINTED)
    assert not any(key in _environ(off["worker"]) for key in TELEMETRY_ENV)
    assert [s.name for s in devstack.status(stack_settings)] == list(off)


def test_a_missing_prometheus_is_one_line_naming_the_package_and_starts_nothing(tmp_path: Path) -> None:
    no_tools = tmp_path / "bin"
    no_tools.mkdir()
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "dev", "up", "--telemetry"],
        env={**os.environ, "PATH": str(no_tools), "PSFLOW_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "apt-get install prometheus" in lines[0], completed.stderr
    assert not (tmp_path / "data" / "stack.json").exists()


def test_a_prometheus_port_taken_by_another_prometheus_names_the_setting(stack_settings: Settings) -> None:
    # Debian's package runs a Prometheus as a system service on 9090, the default port.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", stack_settings.dev_prometheus_port))
        squatter.listen()
        with pytest.raises(
            StackError, match=rf"port {stack_settings.dev_prometheus_port} .* PSFLOW_DEV_PROMETHEUS_PORT"
        ):
            devstack.up(stack_settings, telemetry=True)
