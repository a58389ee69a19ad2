"""What an emulated system is, where it is served, and how its errors are rendered.

A system module ``sandbox/systems/<name>.py`` exposes ``SYSTEM = SandboxSystem(...)``. The app
mounts ``SYSTEM.router`` at ``/<name>`` on the shared port — and at the root of the system's own
port when it has one (``python -m sandbox --listen``) — and renders every error that belongs to the system —
``SandboxHTTPError`` raised by its routes, unknown paths under its prefix, request validation
failures, injected faults and shared auth failures — through ``SYSTEM.error_body`` so clients
always see the real API's error shape.

Codes the framework itself passes to ``error_body`` (a system maps them to its own vocabulary,
e.g. ``"unauthorized"`` → Salesforce ``INVALID_SESSION_ID``) are listed in ``GENERIC_CODES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from sandbox._db import SandboxDB
from sandbox.seed import DemoFirm

__all__ = [
    "DB",
    "GENERIC_CODES",
    "SandboxHTTPError",
    "SandboxSystem",
    "default_error_body",
    "get_db",
    "system_error",
    "system_root",
]

ErrorBody = Callable[[int, str, str], tuple[Any, dict[str, str]]]

GENERIC_CODES = (
    "unauthorized",  # 401 from shared auth (check_bearer) unless the system passes its own code
    "not_found",  # 404: no route under the system's prefix
    "method_not_allowed",  # 405
    "invalid_request",  # 400: FastAPI request validation failed (message lists the problems)
    "rate_limited",  # 429 injected fault
    "server_error",  # 500 injected fault (also commit_then_fail)
    "unavailable",  # 503 injected fault
    "timeout",  # 504 injected fault after hanging
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class SandboxSystem:
    """One emulated SaaS API.

    Attributes:
        name: Path prefix and identity, e.g. ``"salesforce"``.
        router: The API routes, mounted at ``/{name}``.
        error_body: ``(status, code, message) -> (body, extra headers)`` in the system's
            documented error shape. ``code`` is either one of ``GENERIC_CODES`` or whatever the
            system itself raised.
        kinds: Record kinds reported in ``GET /_admin/status`` counts.
        seed: Writes the demo firm into the DB in this system's shape.
        admin_router: Sandbox-only controls, mounted at ``/_admin/{name}`` (never faulted).
        base_path: Documented API root under the prefix, e.g. ``"/services/data/v62.0"``.
        indexes: Top-level fields the system filters by on every page (``("date_performed",
            "approved")``): each tuple becomes one `SandboxDB.ensure_index`.
        hosts: The real API's host names (``fnmatch`` patterns, e.g. ``"*.my.salesforce.com"``):
            the sandbox's TLS certificate names them, and its proxy routes them to the system's
            own port, for clients that only ever call the vendor's host.
    """

    name: str
    router: APIRouter
    error_body: ErrorBody
    kinds: tuple[str, ...] = ()
    seed: Callable[[SandboxDB, DemoFirm], None] | None = None
    admin_router: APIRouter | None = None
    base_path: str = ""
    indexes: tuple[tuple[str, ...], ...] = ()
    hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"system name {self.name!r} must be lowercase letters, digits and underscores")

    def error_response(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        """Render an error in this system's shape."""
        body, extra = self.error_body(status, code, message)
        return JSONResponse(body, status_code=status, headers={**extra, **(headers or {})})


class SandboxHTTPError(Exception):
    """Raise from a system route to answer with the system's own error shape.

    Args:
        status: HTTP status code.
        code: Error code in the system's vocabulary (or one of ``GENERIC_CODES``).
        message: Human-readable message, saying what was wrong and with which value.
        headers: Extra response headers (e.g. ``Retry-After``).
    """

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def default_error_body(status: int, code: str, message: str) -> tuple[Any, dict[str, str]]:
    """Error shape for paths that belong to no system (``/_admin``, unknown prefixes)."""
    return {"error": {"code": code, "message": message}}, {}


_registry: dict[str, SandboxSystem] = {}


def register_systems(systems: Iterable[SandboxSystem]) -> None:
    """Make systems known to ``system_error`` (called by ``create_app``)."""
    for system in systems:
        _registry[system.name] = system


def system_error(
    system_name: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Build an error response in the named system's shape (generic shape if unknown)."""
    system = _registry.get(system_name)
    if system is None:
        body, extra = default_error_body(status, code, message)
        return JSONResponse(body, status_code=status, headers={**extra, **(headers or {})})
    return system.error_response(status, code, message, headers)


def system_for_path(path: str, systems: Mapping[str, SandboxSystem]) -> SandboxSystem | None:
    """The system whose prefix owns ``path`` (``/_admin/...`` belongs to none)."""
    first = path.split("/", 2)[1] if path.startswith("/") else ""
    return systems.get(first)


def system_root(request: Request, name: str) -> str:
    """The system's root URL as this client reached it, for links and instance URLs.

    ``http://127.0.0.1:8700/salesforce`` on the shared port; ``https://127.0.0.1:8714`` (or the
    vendor host the client asked for through the proxy) on the system's own port.
    """
    base = str(request.base_url).rstrip("/")
    return base if getattr(request.app, "root_system", None) == name else f"{base}/{name}"


def get_db(request: Request) -> SandboxDB:
    """FastAPI dependency: the app's database."""
    db: SandboxDB = request.app.state.db
    return db


DB = Annotated[SandboxDB, Depends(get_db)]
