"""A real Jaeger v2 (memory storage, OTLP in, query API out, all on loopback) for the tests that need one."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.local.jaeger import JaegerPorts, config_yaml, ensure_jaeger, jaeger_command

START_TIMEOUT_S = 60.0


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1 (held together while chosen, so none repeats)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


@pytest.fixture
def jaeger(tmp_path: Path) -> Iterator[JaegerPorts]:
    """A Jaeger on free loopback ports, healthy; yields its ports (``.otlp_endpoint``, ``.query_url``).

    The binary is the cached build (``python -m stack.local.jaeger``; CI builds it before the tests).
    """
    binary = ensure_jaeger()
    ports = JaegerPorts(*free_ports(5))
    config = tmp_path / "jaeger.yaml"
    config.write_text(config_yaml(ports))
    log_path = tmp_path / "jaeger.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(jaeger_command(binary, config), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{ports.health}/status", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"Jaeger did not become healthy:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield ports
        finally:
            process.terminate()
            process.wait(timeout=30)


async def jaeger_traces(jaeger: JaegerPorts, service: str, **params: Any) -> list[dict[str, Any]]:
    """The traces holding a span of ``service`` (Jaeger's query API, ``GET /api/traces``)."""
    async with httpx.AsyncClient(base_url=jaeger.query_url, timeout=10) as http:
        response = await http.get("/api/traces", params={"service": service, "limit": 100, **params})
    if response.status_code == 404 or not response.json().get("data"):
        return []  # no span of the service yet
    response.raise_for_status()
    return list(response.json()["data"])


async def poll(interval_s: float, check: Any, timeout_s: float) -> Any:
    """``await check()`` until it returns something truthy; that value."""
    async with asyncio.timeout(timeout_s):
        while True:
            found = await check()
            if found:
                return found
            await asyncio.sleep(interval_s)
