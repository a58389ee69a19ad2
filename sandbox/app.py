"""The sandbox ASGI apps: every emulated system under its own prefix on one port, or one at a root.

``create_app`` discovers the system modules, mounts their routers at ``/{name}``, puts the
fault middleware in front of everything (outside even Starlette's error middleware, so a
dropped connection really is dropped) and renders errors in the owning system's shape.
``create_system_app`` serves one of those systems at the root of a listener of its own, as the
real API is served at the root of its host, over the same records, faults and tokens.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

import sandbox.systems
from sandbox._admin import RESERVED_NAMES, build_admin_router
from sandbox._db import SandboxDB
from sandbox._faults import FaultConfig, FaultInjector, FaultMiddleware, faults_from_env
from sandbox._framework import (
    SandboxHTTPError,
    SandboxSystem,
    default_error_body,
    register_systems,
    system_for_path,
)
from sandbox.seed import SEED_MARKER, SEED_VERSION, seed_demo

__all__ = ["DEFAULT_DB_PATH", "DEFAULT_PUBLIC_URL", "create_app", "create_system_app", "discover_systems"]

DEFAULT_DB_PATH = Path(".psflow") / "sandbox.db"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8700"
_STATUS_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


def discover_systems(package: ModuleType = sandbox.systems) -> list[SandboxSystem]:
    """Import every module of ``package`` that defines ``SYSTEM``, sorted by system name."""
    systems = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_"):
            continue
        system = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "SYSTEM", None)
        if isinstance(system, SandboxSystem):
            systems.append(system)
    return sorted(systems, key=lambda s: s.name)


class _SandboxApp(FastAPI):
    """A sandbox app: every system under ``/{name}``, or only ``root_system`` at the root."""

    def __init__(self, *, root_system: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root_system = root_system

    def owner(self, path: str) -> SandboxSystem | None:
        """The system a request path belongs to (None: ``/_admin`` or an unknown prefix)."""
        systems: dict[str, SandboxSystem] = self.state.systems
        if self.root_system is not None:
            return systems[self.root_system]
        return system_for_path(path, systems)

    def build_middleware_stack(self) -> ASGIApp:
        # Outermost, so injected faults bypass ServerErrorMiddleware (which would turn a
        # deliberate connection drop into a tidy 500).
        return FaultMiddleware(super().build_middleware_stack(), self.state.faults, self.root_system)


def _install_error_handlers(app: _SandboxApp) -> None:
    def owner(request: Request) -> SandboxSystem | None:
        return app.owner(request.scope["path"])

    async def sandbox_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SandboxHTTPError)
        system = owner(request)
        if system is not None:
            return system.error_response(exc.status, exc.code, exc.message, exc.headers)
        body, extra = default_error_body(exc.status, exc.code, exc.message)
        return JSONResponse(body, status_code=exc.status, headers={**extra, **exc.headers})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        system = owner(request)
        if system is None:
            return await http_exception_handler(request, exc)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"No {request.method} {request.scope['path']} in the {system.name} sandbox"
        return system.error_response(exc.status_code, code, message, dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        system = owner(request)
        if system is None:
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        return system.error_response(400, "invalid_request", f"Invalid request: {problems}")

    app.add_exception_handler(SandboxHTTPError, sandbox_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def create_app(
    db_path: str | Path = DEFAULT_DB_PATH,
    *,
    seed: str | None = None,
    faults: Mapping[str, Any] | None = None,
    public_url: str | None = None,
    systems: Iterable[SandboxSystem] | None = None,
    today: date | None = None,
) -> FastAPI:
    """Build the sandbox app over a SQLite file (or ``":memory:"``).

    Args:
        db_path: Where records live; a restart on the same file keeps everything.
        seed: ``"demo"`` writes the demo firm into every system, once: only when the DB is empty.
        faults: ``{system: FaultConfig-as-dict}`` installed at start; when None,
            ``PSFLOW_SANDBOX_FAULTS`` is read instead.
        public_url: The URL clients reach the sandbox at, used for base URLs in status.
        systems: The systems to serve; default: every module in ``sandbox.systems``.
        today: Anchor date of the demo firm (default: today).

    Raises:
        ValueError: Unknown seed, a DB seeded by an older sandbox, duplicate or reserved system name, or a
            fault config that names an unknown system.
    """
    if seed not in (None, "demo"):
        raise ValueError(f"unknown seed {seed!r}: the only seed is 'demo'")
    served = list(discover_systems() if systems is None else systems)
    by_name: dict[str, SandboxSystem] = {}
    for system in served:
        if system.name in by_name or system.name in RESERVED_NAMES:
            raise ValueError(f"system name {system.name!r} is taken (duplicate or reserved by /_admin)")
        by_name[system.name] = system
    register_systems(served)

    db = SandboxDB(db_path)
    for system in served:
        for fields in system.indexes:
            db.ensure_index(fields)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        db.close()

    app = _SandboxApp(title="psflow sandbox", summary="Emulated SaaS APIs with fault injection", lifespan=lifespan)
    app.state.db = db
    app.state.systems = by_name
    app.state.public_url = (public_url or DEFAULT_PUBLIC_URL).rstrip("/")
    app.state.faults = FaultInjector(db, by_name)
    app.state.listeners = {}  # system -> URL of its own port, filled in by whoever serves them
    app.state.tls_ca_file = None
    app.state.proxy_url = None
    for system in served:
        app.include_router(system.router, prefix=f"/{system.name}")
    app.include_router(build_admin_router(served))
    _install_error_handlers(app)

    marker = db.kv_get(*SEED_MARKER)
    if seed == "demo" and db.is_empty() and marker is None:
        seed_demo(db, served, today=today)
    elif seed == "demo" and marker is not None and marker.get("version", 1) != SEED_VERSION:
        raise ValueError(
            f"{db_path} holds the demo firm as an older sandbox seeded it (version {marker.get('version', 1)}, "
            f"this one seeds version {SEED_VERSION}): start from a fresh DB (`make clean`, or delete the file)"
        )

    for name, config in (faults if faults is not None else faults_from_env() or {}).items():
        if name not in by_name:
            raise ValueError(f"fault config for unknown system {name!r}: known systems are {', '.join(by_name)}")
        app.state.faults.set(name, FaultConfig.model_validate(config))
    return app


def create_system_app(app: FastAPI, name: str) -> FastAPI:
    """Serve one system of ``app`` at the root of a listener of its own.

    The new app shares ``app``'s state — records, tokens, faults and their counters — so a
    record written through one port is read through the other. It has no ``/_admin``: that
    stays on the shared port. ``app`` owns the database: run it for as long as this one.

    Raises:
        ValueError: ``app`` serves no system ``name``.
    """
    systems: dict[str, SandboxSystem] = app.state.systems
    if name not in systems:
        raise ValueError(f"no system {name!r} to serve: the sandbox has {', '.join(systems)}")
    system = systems[name]
    own = _SandboxApp(root_system=name, title=f"psflow sandbox: {name}", summary=f"The {name} emulator at its root")
    own.state = app.state
    own.include_router(system.router)
    _install_error_handlers(own)
    return own
