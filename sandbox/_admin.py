"""Sandbox-only controls under ``/_admin`` (never faulted): status, reset, faults.

- ``GET /_admin/status`` — base URL and record counts per system (and the URL of its own port
  when it has one), the DB path, the demo seed, the local CA's file and the proxy's URL.
- ``POST /_admin/reset?seed=demo&today=YYYY-MM-DD`` — wipe everything, optionally reseed.
- ``GET /_admin/faults`` — active configs, remaining ``times`` and injected-fault counters.
- ``PUT /_admin/faults/{system}`` (body: FaultConfig) / ``DELETE /_admin/faults/{system}`` /
  ``DELETE /_admin/faults``.
- ``/_admin/{system}/...`` — each system's own ``admin_router``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request

from sandbox._faults import FaultConfig, FaultInjector
from sandbox._framework import SandboxHTTPError, SandboxSystem
from sandbox.seed import SEED_MARKER, seed_demo

__all__ = ["RESERVED_NAMES", "build_admin_router", "status"]

RESERVED_NAMES = frozenset({"status", "reset", "faults"})


def status(request: Request) -> dict[str, Any]:
    """Base URLs and record counts per system, and where the sandbox listens besides."""
    state = request.app.state
    counts = state.db.counts()
    systems: dict[str, Any] = {}
    for name, system in state.systems.items():
        held = counts.get(name, {})
        shown = {kind: held.get(kind, 0) for kind in system.kinds} if system.kinds else held
        systems[name] = {"base_url": f"{state.public_url}/{name}{system.base_path}", "counts": shown}
        if name in state.listeners:
            systems[name]["own_url"] = state.listeners[name]
    return {
        "systems": systems,
        "db": state.db.path,
        "seed": state.db.kv_get(*SEED_MARKER),
        "tls_ca_file": state.tls_ca_file,
        "proxy_url": state.proxy_url,
    }


def _injector(request: Request, system: str | None = None) -> FaultInjector:
    injector: FaultInjector = request.app.state.faults
    if system is not None and system not in injector.systems:
        known = ", ".join(sorted(injector.systems))
        raise SandboxHTTPError(404, "not_found", f"unknown system {system!r}: known systems are {known}")
    return injector


def build_admin_router(systems: Iterable[SandboxSystem]) -> APIRouter:
    """The ``/_admin`` routes, including every system's ``admin_router``."""
    router = APIRouter(prefix="/_admin", tags=["sandbox admin"])
    router.add_api_route("/status", status, methods=["GET"])

    @router.post("/reset")
    def reset(request: Request, seed: str | None = None, today: date | None = None) -> dict[str, Any]:
        """Delete all records and state; with ``seed=demo`` write the demo firm again."""
        state = request.app.state
        if seed not in (None, "demo"):
            raise SandboxHTTPError(400, "invalid_request", f"unknown seed {seed!r}: the only seed is 'demo'")
        with state.db.transaction():
            state.db.reset()
            if seed == "demo":
                seed_demo(state.db, state.systems.values(), today=today)
        return status(request)

    @router.get("/faults")
    async def get_faults(request: Request) -> dict[str, Any]:
        """Active fault configs, remaining ``times`` and counters per system."""
        return _injector(request).snapshot()

    @router.put("/faults/{system}")
    async def put_faults(request: Request, system: str, config: FaultConfig) -> dict[str, Any]:
        """Install a fault config for one system (its counters restart from zero)."""
        installed = _injector(request, system).set(system, config)
        return {"system": system, "config": installed.model_dump()}

    @router.delete("/faults/{system}")
    async def delete_faults(request: Request, system: str) -> dict[str, Any]:
        """Stop injecting faults into one system (counters stay readable)."""
        _injector(request, system).clear(system)
        return _injector(request).snapshot()

    @router.delete("/faults")
    async def delete_all_faults(request: Request) -> dict[str, Any]:
        """Stop injecting faults everywhere."""
        _injector(request).clear()
        return _injector(request).snapshot()

    for system in systems:
        if system.admin_router is not None:
            router.include_router(system.admin_router, prefix=f"/{system.name}")
    return router
