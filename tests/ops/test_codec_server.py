"""The codec server's HTTP contract (research note temporal-round2 §5.2): proto3 JSON of Payloads in and out,
CORS preflight on both routes for the Web UI's origin, and nothing decoded without the bearer token."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from stack.codec import EncryptionCodec, KeyRing, new_key_text
from stack.codec_server import TlsSettingsError, create_app, tls_options, token
from stack.settings import Settings, TemporalSettings
from tests.conftest import _free_port

TOKEN = "test-token-0123456789"
UI = "http://localhost:8233"
OLD, NEW = new_key_text(), new_key_text()


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def payloads(text: str) -> list[Payload]:
    parsed = Payloads()
    json_format.Parse(text, parsed)
    return list(parsed.payloads)


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"client":"Acme Ltd","rate":"150.00"}')


@pytest_asyncio.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a rotated ring: ``new`` encrypts, ``old`` still decrypts."""
    settings = Settings(data_dir=tmp_path, temporal=TemporalSettings(ui_url=UI))
    app = create_app(settings, EncryptionCodec(KeyRing.of({"old": OLD, "new": NEW}, "new")), TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec") as client:
        yield client


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "X-Namespace": "default"}


async def test_encode_then_decode_round_trips_and_a_payload_under_the_old_key_decodes(http: httpx.AsyncClient) -> None:
    encoded = await http.post("/encode", content=body(PLAIN, PLAIN), headers=AUTH)
    assert encoded.status_code == 200
    sealed = payloads(encoded.text)
    assert [p.metadata["encryption-key-id"] for p in sealed] == [b"new", b"new"]
    assert b"Acme" not in encoded.content and b"QWNtZ" not in encoded.content
    [under_old] = await EncryptionCodec(KeyRing.of({"old": OLD})).encode([PLAIN])
    decoded = await http.post("/decode", content=body(*sealed, under_old), headers=AUTH)
    assert decoded.status_code == 200 and payloads(decoded.text) == [PLAIN] * 3


async def test_no_token_or_a_wrong_one_decodes_nothing(http: httpx.AsyncClient) -> None:
    [sealed] = await EncryptionCodec(KeyRing.of({"old": OLD})).encode([PLAIN])
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        for route in ("/decode", "/encode"):
            answer = await http.post(route, content=body(sealed), headers=headers)
            assert answer.status_code == 401 and "Acme" not in answer.text, (route, headers)
    assert (await http.post("/t/nope/decode", content=body(sealed))).status_code == 401
    assert (await http.post(f"/t/{TOKEN}/decode", content=body(sealed))).status_code == 200


@pytest.mark.parametrize("route", ["/encode", "/decode", f"/t/{TOKEN}/decode"])
async def test_the_web_uis_preflight_is_allowed_for_its_origin_only(http: httpx.AsyncClient, route: str) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await http.options(route, headers={"Origin": UI, **ask})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert "x-namespace" in allowed.headers["access-control-allow-headers"].lower()
    assert (await http.options(route, headers={"Origin": "http://evil.example", **ask})).status_code == 400


async def test_a_body_that_is_not_payloads_json_is_a_400(http: httpx.AsyncClient) -> None:
    assert (await http.post("/decode", content=b"not json", headers=AUTH)).status_code == 400
    garbled = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"binary/encrypted").decode()}}]}
    answer = await http.post("/decode", content=json.dumps(garbled), headers=AUTH)
    assert answer.status_code == 400 and "key" in answer.json()["detail"]


def test_the_local_token_is_generated_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = token(settings)
    assert len(first) >= 32 and token(settings) == first
    assert stat.S_IMODE((tmp_path / "codec-server.token").stat().st_mode) == 0o600


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    """A certificate for ``name`` signed by ``issuer`` (self-signed without one), valid around a pinned instant."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # TLS checks validity against the real clock; a window this wide holds whatever day the test runs.
        .not_valid_before(datetime(2000, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2099, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    elif not ca:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    return builder.sign(signer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (directory / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return path


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """The operators' CA, the server's certificate it signed, an operator's client certificate, and a stranger's
    client certificate signed by another CA."""
    ca_key, other_key = _key(), _key()
    ca = _certificate("psflow test operators CA", ca_key, None, ca=True)
    other = _certificate("someone else's CA", other_key, None, ca=True)
    _write(tmp_path, "ca", ca)
    server_key, operator_key, stranger_key = _key(), _key(), _key()
    _write(tmp_path, "server", _certificate("127.0.0.1", server_key, (ca, ca_key), server=True), server_key)
    _write(tmp_path, "operator", _certificate("operator", operator_key, (ca, ca_key)), operator_key)
    _write(tmp_path, "stranger", _certificate("stranger", stranger_key, (other, other_key)), stranger_key)
    return tmp_path


def _client_context(pki: Path, who: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if who is not None:
        context.load_cert_chain(str(pki / f"{who}.pem"), str(pki / f"{who}.key"))
    return context


def test_with_a_client_ca_only_its_certificates_connect_and_the_token_is_still_required(pki: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PSFLOW_ENCRYPTION_KEYS": json.dumps({"old": OLD}),
        "PSFLOW_CODEC_SERVER_TOKEN": TOKEN,
        "PSFLOW_DATA_DIR": str(pki / "data"),
        "PSFLOW_CODEC_SERVER_TLS_CERT": str(pki / "server.pem"),
        "PSFLOW_CODEC_SERVER_TLS_KEY": str(pki / "server.key"),
        "PSFLOW_CODEC_SERVER_CLIENT_CA": str(pki / "ca.pem"),
    }
    psflow = Path(sys.executable).parent / "psflow"
    log = (pki / "codec-server.log").open("w")
    process = subprocess.Popen([str(psflow), "codec-server", "--port", str(port)], env=env, stderr=log, stdout=log)
    url = f"https://127.0.0.1:{port}/decode"
    sealed = asyncio.run(EncryptionCodec(KeyRing.of({"old": OLD})).encode([PLAIN]))
    try:
        with httpx.Client(verify=_client_context(pki, "operator"), timeout=5) as operator:
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = operator.post(url, content=body(*sealed), headers=AUTH)
                    break
                except httpx.ConnectError:
                    assert process.poll() is None, (pki / "codec-server.log").read_text()
                    assert time.monotonic() < deadline, "the codec server did not start"
                    time.sleep(0.2)
            assert answer.status_code == 200 and payloads(answer.text) == [PLAIN]
            # A certificate alone is not enough: the token is checked as over plain http.
            assert operator.post(url, content=body(*sealed)).status_code == 401
        for who in (None, "stranger"):
            with (
                httpx.Client(verify=_client_context(pki, who), timeout=5) as client,
                pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
            ):
                client.post(url, content=body(*sealed), headers=AUTH)  # the token alone is not enough either
        assert "client certificates required" in (pki / "codec-server.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.mark.parametrize(
    "given",
    [
        {"codec_server_tls_key": "server.key"},
        {"codec_server_client_ca": "ca.pem"},
        {"codec_server_tls_cert": "server.pem"},
    ],
)
def test_incomplete_tls_settings_are_refused_in_one_sentence(pki: Path, given: dict[str, str]) -> None:
    settings = Settings(data_dir=pki, **{name: pki / file for name, file in given.items()})
    with pytest.raises(TlsSettingsError, match="needs both codec_server_tls_cert and codec_server_tls_key"):
        tls_options(settings)


def test_plain_http_without_tls_settings_and_https_with_a_certificate(pki: Path) -> None:
    assert tls_options(Settings(data_dir=pki)) == {}
    served = tls_options(
        Settings(data_dir=pki, codec_server_tls_cert=pki / "server.pem", codec_server_tls_key=pki / "server.key")
    )
    assert served == {"ssl_certfile": str(pki / "server.pem"), "ssl_keyfile": str(pki / "server.key")}
