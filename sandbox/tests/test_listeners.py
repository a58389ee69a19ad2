"""A system at the root of its own port: same records and faults, its own URLs, TLS and the proxy."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from fastapi import FastAPI

from sandbox._proxy import ProxyRoutes
from sandbox._tls import ensure_tls
from sandbox.app import create_system_app

from .conftest import asgi_client, bearer

REPO = Path(__file__).resolve().parents[2]


async def test_a_system_at_its_root_shares_records_tokens_and_faults(app: FastAPI) -> None:
    own = create_system_app(app, "fake")
    async with asgi_client(app) as shared, asgi_client(own) as root:
        headers = await bearer(shared)
        created = await root.post("/items", json={"ref": "R-1"}, headers=headers)
        assert created.status_code == 201
        assert (await shared.get(f"/fake/items/{created.json()['id']}")).json()["ref"] == "R-1"

        # Errors are the system's own shape at the root too, unknown paths included.
        assert (await root.get("/items/404")).json() == [
            {"errorCode": "NOT_FOUND", "message": "no item 404", "status": 404}
        ]
        missing = await root.get("/nowhere")
        assert missing.status_code == 404 and missing.headers["X-Fake-Error"] == "not_found"
        # The admin API stays on the shared port.
        assert (await root.get("/_admin/status")).json()[0]["errorCode"] == "not_found"

        # A fault's path_regex is written as on the shared port, and counts requests on both.
        await shared.put("/_admin/faults/fake", json={"unavailable": 1.0, "path_regex": "^/fake/items$", "seed": 1})
        assert (await root.get("/items")).status_code == 503
        assert (await root.get("/teapot")).status_code == 418
        assert (await shared.get("/fake/items")).status_code == 503
        counters = (await shared.get("/_admin/faults")).json()["counters"]["fake"]
        assert counters["unavailable"] == 2


def test_an_unknown_system_has_no_root(app: FastAPI) -> None:
    with pytest.raises(ValueError, match="no system 'nope' to serve: the sandbox has fake, sink"):
        create_system_app(app, "nope")


def test_the_certificate_names_loopback_and_vendor_hosts_and_the_ca_is_kept(tmp_path: Path) -> None:
    first = ensure_tls(tmp_path / "tls", ["login.salesforce.com", "*.my.salesforce.com"])
    ca = first.ca_file.read_bytes()
    second = ensure_tls(tmp_path / "tls", ["api.hubapi.com"])
    assert second.ca_file.read_bytes() == ca, "clients that trust the CA keep trusting it across restarts"
    cert = x509.load_pem_x509_certificates(second.cert_file.read_bytes())
    names = cert[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", "api.hubapi.com"}
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert cert[1] == x509.load_pem_x509_certificate(ca), "the server sends its chain"
    assert oct(second.key_file.stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    # The chain verifies with the CA alone, as a client's SSL_CERT_FILE would.
    context = ssl.create_default_context(cafile=str(second.ca_file))
    assert context.cert_store_stats()["x509_ca"] == 1


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("login.salesforce.com", 443, 9001),
        ("psflow-demo.my.salesforce.com", 443, 9001),
        ("LOGIN.SALESFORCE.COM.", 443, 9001),
        ("127.0.0.1", 9002, 9002),
        ("login.salesforce.com", 8443, "login.salesforce.com is served on port 443 only"),
        ("api.hubapi.com", 443, "api.hubapi.com is the hubspot sandbox, which has no port of its own"),
        ("example.com", 443, "example.com is not a host the sandbox emulates"),
        ("127.0.0.1", 22, "127.0.0.1:22 is not one of the sandbox's system ports"),
    ],
)
def test_the_proxy_tunnels_only_to_the_sandbox(host: str, port: int, expected: int | str) -> None:
    routes = ProxyRoutes(
        {"salesforce": ("login.salesforce.com", "*.my.salesforce.com"), "hubspot": ("api.hubapi.com",)},
        {"salesforce": 9001, "sink": 9002},
    )
    target = routes.target(host, port)
    assert target == expected if isinstance(expected, int) else str(target).startswith(expected)


@pytest.fixture
def sandbox_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """``python -m sandbox`` with Salesforce and the sink on their own TLS ports, and the proxy."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "sandbox", "--port", "0", "--db", str(tmp_path / "s.db")),
            *("--listen", "salesforce=0,sink=0", "--tls", "--proxy", "0"),
        ],
        cwd=REPO,
        env={**os.environ, "PSFLOW_SANDBOX_FAULTS": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("psflow sandbox on http://127.0.0.1:"), line + process.stderr.read()
        url = line.split()[3]
        status = None
        deadline = time.monotonic() + 20
        while status is None and time.monotonic() < deadline:
            try:
                status = httpx.get(f"{url}/_admin/status", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert status is not None
        yield process, status
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_python_m_sandbox_serves_systems_at_their_roots_over_tls(
    sandbox_process: tuple[subprocess.Popen[str], dict[str, Any]],
) -> None:
    process, status = sandbox_process
    ca = status["tls_ca_file"]
    sink = status["systems"]["sink"]["own_url"]
    assert sink.startswith("https://127.0.0.1:") and "own_url" not in status["systems"]["hubspot"]
    with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as client:
        assert client.get(f"{sink}/events").json()["total"] == 0
    with httpx.Client(verify=ssl.create_default_context(cafile=ca), proxy=status["proxy_url"]) as client:
        # Through the proxy, the vendor's host name leads to the emulator's own port.
        refused = client.post("https://login.salesforce.com/services/oauth2/token", data={"grant_type": "nope"})
        assert refused.status_code == 400 and refused.json()["error"] == "unsupported_grant_type"
        with pytest.raises(httpx.ProxyError, match="403"):
            client.get("https://example.com/")

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--proxy", "0"], "--proxy leads vendor hosts to the systems' own HTTPS ports: add --listen"),
        (["--listen", "nope=0"], "no system nope to listen for: the sandbox has bamboohr, hubspot, kantata"),
        (["--listen", "salesforce"], "'salesforce' is not NAME=PORT, e.g. salesforce=8711"),
    ],
)
def test_listener_mistakes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--port", "0", "--db", str(tmp_path / "s.db"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]
