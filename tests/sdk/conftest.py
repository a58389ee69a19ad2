"""A real sandbox process for the vendor SDKs: Salesforce and HubSpot at the roots of their own HTTPS ports.

Started as a user would start it (``python -m sandbox --listen … --tls --proxy …``, seeded with the
demo firm on the tests' anchor); the SDKs reach it unmodified, trusting only the sandbox's CA.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_TODAY

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Sandbox:
    """Where the SDK sandbox listens."""

    admin: str  # the shared port, for /_admin
    ca_file: str  # the sandbox's CA: REQUESTS_CA_BUNDLE / ssl_ca_cert
    proxy: str  # leads login.salesforce.com and *.my.salesforce.com to the Salesforce port
    salesforce: str  # https://127.0.0.1:PORT
    hubspot: str


@pytest.fixture(scope="session")
def sdk_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    data = tmp_path_factory.mktemp("sdk-sandbox")
    log = (data / "sandbox.log").open("w+")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "sandbox", "--port", "0", "--db", str(data / "sandbox.db")),
            *("--seed", "demo", "--today", TEST_TODAY.isoformat()),
            *("--listen", "salesforce=0,hubspot=0", "--tls", "--proxy", "0"),
        ],
        cwd=REPO,
        env={**os.environ, "PSFLOW_SANDBOX_FAULTS": ""},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None:
            log.seek(0)
            first = log.readline()
            if first.startswith("psflow sandbox on "):
                with contextlib.suppress(httpx.HTTPError):
                    status = httpx.get(f"{first.split()[3]}/_admin/status", timeout=2).json()
            if status is None:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the SDK sandbox did not start; see {data / 'sandbox.log'}")
                time.sleep(0.2)
        systems = status["systems"]
        yield Sandbox(
            admin=first.split()[3],
            ca_file=status["tls_ca_file"],
            proxy=status["proxy_url"],
            salesforce=systems["salesforce"]["own_url"],
            hubspot=systems["hubspot"]["own_url"],
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
