"""The sandbox's own certificate authority, and the server certificate its HTTPS listeners present.

Vendor SDKs only speak HTTPS (simple-salesforce builds ``https://{instance}/...`` whatever it is
given), so the sandbox's own ports can serve TLS. The first start writes a local CA into the
data directory; every start then issues a fresh server certificate from it for ``localhost``,
``127.0.0.1``, ``::1`` and the vendors' host names the systems emulate. Clients trust the CA
file alone — ``SSL_CERT_FILE`` for Python's ``ssl`` and httpx, ``REQUESTS_CA_BUNDLE`` for
requests — never the system's store, so nothing outside the sandbox's clients trusts it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LOOPBACK_NAMES", "TlsFiles", "ensure_tls"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_CA_NAME = "psflow sandbox local CA"
_CA_YEARS = 10
_SERVER_DAYS = 365


@dataclass(frozen=True)
class TlsFiles:
    """PEM files in the TLS directory.

    Attributes:
        ca_file: The CA certificate clients trust.
        cert_file: The server certificate (with the CA appended, so clients get the whole chain).
        key_file: The server certificate's private key.
    """

    ca_file: Path
    cert_file: Path
    key_file: Path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(b"")
    path.chmod(0o600)
    path.write_bytes(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (cert_path.exists() and key_path.exists()):
        return None
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc < _now() + dt.timedelta(days=30):
        return None
    return cert, key


def _new_ca(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _CA_NAME)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * _CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _subject_names(names: Iterable[str]) -> list[x509.GeneralName]:
    general: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            general.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            general.append(x509.DNSName(name))
    return general


def ensure_tls(directory: str | Path, names: Iterable[str] = ()) -> TlsFiles:
    """Create the CA once (or again when it nears expiry) and issue a server certificate now.

    Args:
        directory: Where the PEM files live (created if missing), e.g. ``.psflow/tls``.
        names: Host names and IP addresses the certificate must cover besides the loopback ones;
            ``*.`` wildcards allowed (``*.my.salesforce.com``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    ca_key_file = directory / "ca-key.pem"
    ca_cert, ca_key = _load_ca(files.ca_file, ca_key_file) or _new_ca(files.ca_file, ca_key_file)

    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "psflow sandbox")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=_SERVER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(_subject_names([*LOOPBACK_NAMES, *names])), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # Written to a new file and renamed, so a client never reads half a certificate.
    staging_key, staging_cert = directory / f".server-key.{os.getpid()}", directory / f".server.{os.getpid()}"
    _write_private(staging_key, _pem_key(key))
    staging_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + files.ca_file.read_bytes())
    staging_key.replace(files.key_file)
    staging_cert.replace(files.cert_file)
    return files
