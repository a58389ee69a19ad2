"""Emulators of the SaaS APIs psflow talks to, on one port, with fault injection.

``python -m sandbox`` serves Salesforce, HubSpot, Kantata, Workday, NetSuite and an event sink
under ``/{system}``; ``/_admin`` reports status, resets data and injects faults. With
``--listen``/``--per-system-ports`` (and ``--tls``, ``--proxy``) each system is also served at the
root of its own port, where vendor SDKs use it unmodified. The sandbox is a package of its own
(``psflow-sandbox``) and knows nothing of psflow: it only speaks each API's documented shapes.
"""

from sandbox._db import DuplicateKey, SandboxDB
from sandbox._faults import FaultConfig
from sandbox._framework import DB, SandboxHTTPError, SandboxSystem, get_db, system_error
from sandbox.app import create_app, create_system_app
from sandbox.seed import DemoFirm

__all__ = [
    "DB",
    "DemoFirm",
    "DuplicateKey",
    "FaultConfig",
    "SandboxDB",
    "SandboxHTTPError",
    "SandboxSystem",
    "create_app",
    "create_system_app",
    "get_db",
    "system_error",
]
