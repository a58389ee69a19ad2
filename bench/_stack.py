"""The stack a benchmark drives: its own on free ports in a temporary directory, or `psflow dev up`'s.

The fresh stack is what ``psflow dev up`` runs, started for one run, each piece a process with
its log in the run's directory: ``temporal server start-dev`` (the CLI from the project's
bootstrap) with a SQLite FILE and psflow's search attributes, as ``psflow dev up`` starts it, but
headless; the sandbox seeded with the demo firm; and ONE worker (``worker.py``), so orchestration
runs on its own cores as in production while the benchmark process only issues triggers and
waits for results. No gateway: the benchmark triggers runs as the CLI does. The server is a
subprocess rather than the SDK's ``start_local`` because ``start_local`` lets the server write
its banner to our stdout, whose last line must be the JSON.

With ``cluster=True`` the server is the real cluster instead (``bench._cluster``: server v1.29.1 with
its four services, 8 history shards, PostgreSQL persistence and visibility), and the psflow store is a
database in the same PostgreSQL; ``workers=N`` then starts N worker processes, each polling every task
queue (as N replicas of one deployment would), sharing the store's request budgets.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bench import _cluster
from stack.client import connect
from stack.local.devstack import status
from stack.local.services import PROJECT_ROOT, worker_environment
from stack.local.temporal_cli import (
    dev_server_sqlite_flags,
    dev_server_tuning_flags,
    ensure_temporal_cli,
    find_existing,
)
from stack.settings import Settings, TemporalSettings, load_settings
from workflows.search_attributes import dev_server_flags

Say = Callable[[str], None]
START_TIMEOUT_S = 60.0
SYSTEMS = ("SALESFORCE", "HUBSPOT", "KANTATA", "WORKDAY", "NETSUITE", "EVENTS")
"""Connectors whose ``PSFLOW_<SYSTEM>_BASE_URL`` would point the run away from the emulators."""


class StackStartError(Exception):
    """The benchmark's stack could not start; the message says what failed and where its log is."""


@dataclass(frozen=True)
class Stack:
    """A running stack: a client for triggering, the settings the worker runs with, its processes."""

    client: Client
    settings: Settings
    temporal_cli_version: str | None
    pids: dict[str, int]
    """Process id by service (temporal, sandbox, worker; also gateway on the local stack), for CPU per deal."""
    processes: dict[str, StackProcess] = field(default_factory=dict)
    """The fresh stack's processes by service, to kill and restart (`stop`, `start_again`); none on the local stack."""
    server: str = "dev-server"
    """Which Temporal runs: ``dev-server`` (the CLI's, SQLite) or ``cluster`` (server v1.29.1 on PostgreSQL)."""
    workers: int = 1
    """Worker processes, each polling every task queue."""


@dataclass
class StackProcess:
    """One process of a fresh stack: how it was started, and the process now running it.

    A restart replaces ``popen``, so the stack stops whichever process is current when it closes.
    """

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self, *, append: bool = False) -> subprocess.Popen[bytes]:
        """Start the command (a restart appends to the log instead of replacing it)."""
        self.popen = _start(self.command, self.log, self.env, append=append)
        return self.popen


def temporal_cli_version(cli: Path | None = None) -> str | None:
    """``temporal --version`` of the given CLI (or the one psflow would use), without building anything."""
    path = cli or find_existing()
    if path is None:
        return None
    try:
        output = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=15).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return output.strip().removeprefix("temporal version ") or None


def check_environment() -> None:
    """Refuse to run when a connector is configured away from the emulators."""
    for system in SYSTEMS:
        name = f"PSFLOW_{system}_BASE_URL"
        if os.environ.get(name):
            raise StackStartError(f"{name} is set, so {system.lower()} calls would leave the sandbox: unset it")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, int(port))) == 0


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else "(no log)"
    return "\n".join(text.splitlines()[-lines:])


async def _wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not await asyncio.to_thread(ready):
        if process.poll() is not None:
            raise StackStartError(f"{name} exited with code {process.returncode}; {log} ends:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise StackStartError(f"{name} was not ready after {START_TIMEOUT_S:.0f}s; {log} ends:\n{_tail(log)}")
        await asyncio.sleep(0.2)


def _sandbox_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(f"{url}/_admin/status", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def _start(
    command: list[str], log: Path, env: dict[str, str] | None = None, *, append: bool = False
) -> subprocess.Popen[bytes]:
    with log.open("ab" if append else "wb") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT, env=env
        )


async def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


async def _serving(client: Client) -> bool:
    """Whether history answers: a lookup of a workflow that does not exist says "not found" only then."""
    try:
        await client.get_workflow_handle("psflow-bench-readiness-probe").describe()
    except RPCError as exc:
        return exc.status is RPCStatusCode.NOT_FOUND
    return True


async def _connect(settings: Settings, server: subprocess.Popen[bytes], log: Path) -> Client:
    """A client once the server serves (its port opens, then its shard comes up, a little later)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    problem = "its port is closed"
    while True:
        try:
            client = await connect(settings)
            if await _serving(client):
                return client
            problem = "its history shard is not up yet"
        except RuntimeError as exc:
            problem = str(exc)
        if server.poll() is not None or time.monotonic() > deadline:
            raise StackStartError(f"the Temporal dev server does not serve ({problem}); {log} ends:\n{_tail(log)}")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def fresh_stack(
    workdir: Path,
    say: Say,
    dynamic_config: Sequence[str] = (),
    *,
    gateway: bool = False,
    cluster: bool = False,
    workers: int = 1,
) -> AsyncIterator[Stack]:
    """Temporal (dev server or cluster), sandbox and worker processes on free ports under ``workdir``.

    Args:
        workdir: Where the databases and logs go.
        say: Progress messages.
        dynamic_config: ``KEY=VALUE`` dynamic config values for the dev server, beyond `psflow dev up`'s.
        gateway: Also run the webhook gateway (``python -m gateway``) and subscribe the sandbox's CRMs to it.
        cluster: The real cluster (``bench._cluster``: server v1.29.1 on PostgreSQL, 8 history shards) instead
            of the dev server; the psflow store is then a PostgreSQL database too, so the workers share
            their request budgets.
        workers: Worker processes, each polling every task queue (``worker``, ``worker2``, ...).
    """
    check_environment()
    if workers > 1 and not cluster:
        raise StackStartError("more than one worker needs a shared store and budgets: run them on --stack cluster")
    cli = await asyncio.to_thread(ensure_temporal_cli, say)
    processes: dict[str, StackProcess] = {}
    run = _cluster.new_run() if cluster else None

    def launch(name: str, command: list[str], env: dict[str, str] | None = None) -> StackProcess:
        processes[name] = StackProcess(name, command, workdir / f"{name}.log", env)
        processes[name].start()
        return processes[name]

    def launch_popen(name: str, command: list[str]) -> subprocess.Popen[bytes]:
        popen = launch(name, command).popen
        assert popen is not None
        return popen

    try:
        temporal_log = workdir / "temporal.log"
        store_url: str | None = None
        if run is not None:
            try:
                running = await _cluster.start_cluster(run, workdir, say, launch_popen, _wait_until)
            except _cluster.ClusterStartError as exc:
                raise StackStartError(str(exc)) from None
            address, store_url = running.address, running.store_url
            server = processes["temporal"].popen
        else:
            address = f"127.0.0.1:{_free_port()}"
            say(
                f"starting the Temporal dev server on {address} (SQLite file {workdir / 'temporal.db'}, "
                f"log {temporal_log})"
            )
            command = [
                str(cli), "server", "start-dev", "--ip", "127.0.0.1", "--port", address.rpartition(":")[2],
                "--headless", "--db-filename", str(workdir / "temporal.db"), "--log-level", "warn",
                *dev_server_flags(),
                *dev_server_tuning_flags(),
                *dev_server_sqlite_flags(),
                *(flag for value in dynamic_config for flag in ("--dynamic-config-value", value)),
            ]  # fmt: skip
            server = launch("temporal", command).popen
        assert server is not None
        await _wait_until(lambda: _port_open(address), server, "the Temporal server", temporal_log)
        sandbox_url = f"http://127.0.0.1:{_free_port()}"
        sandbox_log = workdir / "sandbox.log"
        say(f"starting the sandbox on {sandbox_url} (seeding the demo firm; log {sandbox_log})")
        port = sandbox_url.rpartition(":")[2]
        command = [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            port,
            "--db",
            str(workdir / "sandbox.db"),
            "--seed",
            "demo",
        ]
        sandbox = launch("sandbox", command).popen
        assert sandbox is not None
        await _wait_until(_sandbox_ready(sandbox_url), sandbox, "the sandbox", sandbox_log)

        data_dir = workdir / "psflow"
        settings = Settings(
            temporal=TemporalSettings(address=address),
            task_queue_prefix="bench-",
            data_dir=data_dir,
            database_url=store_url or f"sqlite:///{data_dir / 'psflow.db'}",
            sandbox_url=sandbox_url,
            gateway_port=_free_port(),
        )
        data_dir.mkdir(parents=True, exist_ok=True)
        client = await _connect(settings, server, temporal_log)
        worker_env = {**os.environ, **worker_environment(settings)}
        if gateway:
            await _start_gateway(settings, launch, worker_env, say)
        if store_url is not None:
            # Migrated once before the workers start, as a deployment runs its migration before its replicas:
            # several workers upgrading an empty PostgreSQL store at once race on creating the same tables.
            await asyncio.to_thread(_upgrade_store, settings)
        names = worker_names(workers)
        which = "one worker process" if workers == 1 else f"{workers} worker processes, each"
        say(f"starting {which} on every task queue (logs {', '.join(f'{n}.log' for n in names)} in {workdir})")
        for name in names:
            launch(name, [sys.executable, str(PROJECT_ROOT / "worker.py")], worker_env)
        for name in names:
            await _wait_ready(processes[name], settings, client)
        pids = {name: process.popen.pid for name, process in processes.items() if process.popen is not None}
        yield Stack(
            client=client,
            settings=settings,
            temporal_cli_version=temporal_cli_version(cli),
            pids=pids,
            processes=processes,
            server="cluster" if cluster else "dev-server",
            workers=workers,
        )
    finally:
        for process in reversed(processes.values()):
            if process.popen is not None:
                with suppress(ProcessLookupError):
                    await _stop(process.popen)
        if run is not None:
            await asyncio.to_thread(run.cleanup)


def _upgrade_store(settings: Settings) -> None:
    from store.db import Store

    store = Store(settings.store_url)
    try:
        store.upgrade()
    finally:
        store.engine.dispose()


def worker_names(count: int) -> list[str]:
    """The stack's worker processes by name: ``worker`` (the one every benchmark reads), ``worker2``, ..."""
    return ["worker", *(f"worker{index}" for index in range(2, count + 1))]


async def _start_gateway(
    settings: Settings, launch: Callable[..., StackProcess], env: dict[str, str], say: Say
) -> None:
    from gateway.server import local_url
    from stack.local.subscriptions import GatewaySecrets, SubscriptionError, subscribe_sandbox

    url = local_url(settings)
    say(f"starting the webhook gateway on {url} and subscribing the sandbox's CRMs to it")
    command = [sys.executable, "-m", "gateway", "--port", str(settings.gateway_port)]
    process = launch("gateway", command, env)
    await _wait_ready(process, settings, None)
    try:
        await asyncio.to_thread(subscribe_sandbox, settings.sandbox_url, url, GatewaySecrets.from_settings(settings))
    except SubscriptionError as exc:
        raise StackStartError(f"cannot subscribe the sandbox to the gateway at {url}: {exc}") from None


def _polling_lines(log: Path) -> int:
    return log.read_text(encoding="utf-8", errors="replace").count("psflow worker polling") if log.exists() else 0


async def _wait_ready(process: StackProcess, settings: Settings, client: Client | None, *, seen: int = 0) -> None:
    """Wait until a started (or restarted) process serves: ``seen`` is the worker's polling lines before."""
    assert process.popen is not None
    name = "the Temporal dev server" if process.name == "temporal" else f"the {process.name}"
    if process.name.startswith("worker"):
        await _wait_until(lambda: _polling_lines(process.log) > seen, process.popen, name, process.log)
    elif process.name == "gateway":
        healthz = f"http://127.0.0.1:{settings.gateway_port}/healthz"
        await _wait_until(lambda: _http_ok(healthz), process.popen, name, process.log)
    elif process.name == "temporal":
        await _wait_until(lambda: _port_open(settings.temporal.address), process.popen, name, process.log)
        if client is not None:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not await _serving(client):
                if process.popen.poll() is not None or time.monotonic() > deadline:
                    raise StackStartError(f"{name} does not serve again; {process.log} ends:\n{_tail(process.log)}")
                await asyncio.sleep(0.2)
    else:
        await _wait_until(_sandbox_ready(settings.sandbox_url), process.popen, name, process.log)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def stop(process: StackProcess, sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop a fresh stack's process: SIGTERM waits for it to exit (SIGKILL after 20 s); SIGKILL is a crash."""
    if process.popen is None or process.popen.poll() is not None:
        return
    if sig is signal.SIGTERM:
        await _stop(process.popen)
        return
    process.popen.send_signal(sig)
    await asyncio.to_thread(process.popen.wait)


async def start_again(stack: Stack, name: str) -> int:
    """Start a stopped process of a fresh stack with its first command (same files), once it serves; its pid."""
    process = stack.processes[name]
    seen = _polling_lines(process.log)
    popen = process.start(append=True)
    await _wait_ready(process, stack.settings, stack.client, seen=seen)
    stack.pids[name] = popen.pid
    return popen.pid


@asynccontextmanager
async def _gateway_paused(settings: Settings, say: Say) -> AsyncIterator[None]:
    """Stop the sandbox delivering won deals to the gateway for the run, then subscribe it again.

    Otherwise winning a deal would also start its run through the webhook: the orchestrated phase
    would time a run that began before its trigger, and the baseline's deals would be provisioned
    twice, once directly and once by the worker.
    """
    from gateway.server import local_url
    from stack.local.subscriptions import GatewaySecrets, SubscriptionError, subscribe_sandbox, unsubscribe_sandbox

    target = local_url(settings)
    try:
        removed = await asyncio.to_thread(unsubscribe_sandbox, settings.sandbox_url, target)
    except SubscriptionError as exc:
        raise StackStartError(f"cannot pause the sandbox's deliveries to the gateway: {exc}") from None
    if removed:
        say(f"paused the sandbox's change events to the gateway at {target} for this run")
    try:
        yield
    finally:
        if removed:
            secrets = GatewaySecrets.from_settings(settings)
            try:
                await asyncio.to_thread(subscribe_sandbox, settings.sandbox_url, target, secrets)
                say("restored the sandbox's change events to the gateway")
            except SubscriptionError as exc:
                say(f"could not restore the gateway's subscriptions ({exc}): run `psflow gateway subscribe`")


@asynccontextmanager
async def local_stack(say: Say) -> AsyncIterator[Stack]:
    """The stack `psflow dev up` started (its settings, server, sandbox, gateway and worker)."""
    check_environment()
    settings = load_settings()
    services = status(settings)
    down = [service.name for service in services if not service.running]
    if down:
        raise StackStartError(
            f"the local stack is not fully running ({', '.join(down)} down): start it with `psflow dev up`, "
            "or run without --stack local to start a fresh one"
        )
    say(f"using the local stack: Temporal at {settings.temporal.address}, sandbox at {settings.sandbox_url}")
    try:
        client = await connect(settings)
    except RuntimeError as exc:
        raise StackStartError(f"cannot reach Temporal at {settings.temporal.address} ({exc})") from None
    pids = {service.name: service.pid for service in services if service.pid is not None}
    async with _gateway_paused(settings, say):
        yield Stack(client=client, settings=settings, temporal_cli_version=temporal_cli_version(), pids=pids)
