"""``psflow dev up | down | status``: the local stack as background processes, recorded in a state file.

``up`` starts what is not running yet (a second ``up`` is harmless), ``down`` stops only what ``up``
recorded, ``status`` shows what runs and where. Each service logs to ``<data_dir>/logs/<name>.log``.

``up --telemetry`` adds Jaeger and Prometheus (``stack.local.telemetry``); their records in the state file
keep it on for a later ``up`` and ``status`` until ``up --no-telemetry`` or ``down``. Each record holds a
digest of the environment its process started with: a service running with another one (telemetry
switched on or off, a port setting changed) is restarted rather than reported as running.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from stack.local import telemetry as local_telemetry
from stack.local.cluster import ClusterError
from stack.local.jaeger import JaegerError
from stack.local.services import CLUSTER_SERVICES, Service, services
from stack.local.temporal_server import TemporalServerError
from stack.settings import Settings

Progress = Callable[[str], None]
START_TIMEOUT_S = 60.0


class StackError(Exception):
    """Something stops the stack from starting; the message says what and what to do."""


@dataclass(frozen=True)
class ServiceStatus:
    """What ``status`` reports for one service."""

    name: str
    running: bool
    pid: int | None
    url: str
    log: Path


def _state_path(settings: Settings) -> Path:
    return settings.data_dir / "stack.json"


def _read_state(settings: Settings) -> dict[str, dict[str, Any]]:
    path = _state_path(settings)
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}  # a torn write: treat every record as stale, `up` rewrites it
    return state if isinstance(state, dict) else {}


def _write_state(settings: Settings, state: dict[str, dict[str, Any]]) -> None:
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(path)


def _alive(record: dict[str, Any]) -> bool:
    """Whether the recorded process still runs and is still ours (pids get reused)."""
    try:
        process = psutil.Process(int(record["pid"]))
        return (
            process.is_running()
            and process.status() != psutil.STATUS_ZOMBIE
            and (process.create_time() == record.get("create_time"))
        )
    except (psutil.Error, KeyError, ValueError, TypeError):
        return False


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _env_digest(env: dict[str, str]) -> str:
    """A digest of a service's environment: the state file records it, not the values (a database URL may
    hold a password)."""
    return hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()


def _start(service: Service, settings: Settings, progress: Progress) -> dict[str, Any]:
    for port in (service.port, *service.extra_ports):
        if port and _port_in_use(port):
            raise StackError(
                f"port {port} is already in use by a process psflow did not start, so {service.name} "
                f"cannot listen there: {service.hint}"
            )
    try:
        command = service.command()
    except (JaegerError, ClusterError, TemporalServerError) as exc:
        raise StackError(str(exc)) from exc
    log_path = settings.data_dir / "logs" / f"{service.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI exiting; `down` signals the whole group
            cwd=service.cwd,
            env={**os.environ, **service.env},
        )
    progress(f"starting {service.name} (pid {process.pid}, log {log_path})")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not service.ready():
        if process.poll() is not None:
            raise StackError(
                f"{service.name} exited with code {process.returncode}; its log ends:\n{_log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            _stop_pid(process.pid)
            raise StackError(
                f"{service.name} was not ready after {START_TIMEOUT_S:.0f}s; its log ends:\n{_log_tail(log_path)}"
            )
        time.sleep(0.2)
    return {
        "pid": process.pid,
        "create_time": psutil.Process(process.pid).create_time(),
        "command": command,
        "log": str(log_path),
        "url": service.url,
        "env_digest": _env_digest(service.env),
        "started_at": time.time(),
    }


def _telemetry_recorded(state: dict[str, dict[str, Any]]) -> bool:
    return any(name in state for name in local_telemetry.SERVICES)


def _cluster_recorded(state: dict[str, dict[str, Any]]) -> bool:
    return any(name in state for name in CLUSTER_SERVICES)


def up(
    settings: Settings,
    progress: Progress = lambda _msg: None,
    *,
    only: set[str] | None = None,
    telemetry: bool | None = None,
    cluster: bool | None = None,
) -> list[ServiceStatus]:
    """Start every service (or those named in ``only``) that is not running; return the status of all.

    ``telemetry``: True adds Jaeger and Prometheus and points the worker, gateway and codec server at
    them; False stops them again; None keeps what the state file records.
    ``cluster``: True runs a real Temporal cluster (PostgreSQL, server, UI server) instead of the dev
    server, at the same address; False goes back to the dev server; None keeps what the state records.
    Each stores its own history: switching shows the runs of the one now running.
    """
    state = _read_state(settings)
    if telemetry is None:
        telemetry = _telemetry_recorded(state)
    if cluster is None:
        cluster = _cluster_recorded(state)
    for name in ("temporal",) if cluster else CLUSTER_SERVICES:  # the other Temporal listens on the same ports
        if name in state:
            _stop_recorded(settings, state, name, progress)
    if telemetry and (only is None or "prometheus" in only) and local_telemetry.prometheus_binary() is None:
        raise StackError(local_telemetry.PROMETHEUS_MISSING)
    if not telemetry:
        for name in local_telemetry.SERVICES:
            if name in state:
                _stop_recorded(settings, state, name, progress)
    for service in services(settings, progress, telemetry=telemetry, cluster=cluster):
        if only is not None and service.name not in only:
            continue
        record = state.get(service.name)
        if record and _alive(record) and record.get("env_digest", _env_digest({})) != _env_digest(service.env):
            progress(f"restarting {service.name}: its settings changed since it started")
            _stop_recorded(settings, state, service.name, progress)
            record = None
        if record and _alive(record):
            progress(f"{service.name} already running (pid {record['pid']})")
            if service.after_start is not None:  # idempotent set-up a newer psflow may need
                service.after_start()
            continue
        if record:
            progress(f"{service.name}: forgetting a stale record (pid {record.get('pid')} is gone)")
            state.pop(service.name)
            _write_state(settings, state)
        state[service.name] = _start(service, settings, progress)
        _write_state(settings, state)
        if service.after_start is not None:
            service.after_start()
    return status(settings)


def _stop_pid(pid: int, timeout_s: float = 15.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _stop_recorded(settings: Settings, state: dict[str, dict[str, Any]], name: str, progress: Progress) -> None:
    """Stop the process recorded under ``name`` (if it still runs) and forget the record."""
    record = state[name]
    if _alive(record):
        progress(f"stopping {name} (pid {record['pid']})")
        _stop_pid(int(record["pid"]))
    else:
        progress(f"{name} was not running")
    state.pop(name)
    _write_state(settings, state)


def down(settings: Settings, progress: Progress = lambda _msg: None) -> None:
    """Stop what ``up`` started, newest first; leave anything else alone."""
    state = _read_state(settings)
    for name in reversed(list(state)):
        _stop_recorded(settings, state, name, progress)


def status(settings: Settings) -> list[ServiceStatus]:
    """What runs, by pid and URL, for every service of the stack (Jaeger and Prometheus if ``up`` added them)."""
    state = _read_state(settings)
    result = []
    for service in services(
        settings, lambda _msg: None, telemetry=_telemetry_recorded(state), cluster=_cluster_recorded(state)
    ):
        record = state.get(service.name, {})
        running = bool(record) and _alive(record)
        result.append(
            ServiceStatus(
                name=service.name,
                running=running,
                pid=int(record["pid"]) if running else None,
                url=service.url,
                log=settings.data_dir / "logs" / f"{service.name}.log",
            )
        )
    return result
