"""Emulators of the SaaS APIs psflow talks to, on one port, with fault injection.

``python -m sandbox`` serves Salesforce, HubSpot, Kantata, Workday, NetSuite and an event sink
under ``/{system}``; ``/_admin`` reports status, resets data and injects faults. The sandbox
knows nothing of psflow: it only speaks each API's documented shapes.
"""

from sandbox._db import DuplicateKey, SandboxDB
from sandbox._faults import FaultConfig
from sandbox._framework import DB, SandboxHTTPError, SandboxSystem, get_db, system_error
from sandbox.app import create_app
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
    "get_db",
    "system_error",
]
