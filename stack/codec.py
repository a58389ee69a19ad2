"""Payload encryption: AES-256-GCM over every payload psflow's clients and workers send to Temporal.

The Temporal server stores workflow inputs, results, activity arguments, memos and summaries as
payloads; with this codec it stores them encrypted, so the server, its database and anyone reading
histories without a key (``temporal workflow show``, the Web UI) see ``binary/encrypted`` bytes and
never a client's name, address, rate or amount. Search attributes are never encoded (the SDK leaves
them plain), so psflow keeps personal data and money out of them (docs/operations.md).

Format: the metadata holds ``encoding: binary/encrypted`` and ``encryption-key-id``; ``data`` is a
12-byte random nonce followed by AES-GCM over the whole serialized original payload, with the key id
as associated data (a payload moved under another id does not decrypt).

Keys: a :class:`KeyRing` holds several keys by id; the encrypting key encrypts, any key decrypts, so a
rotated-out key still reads old histories. Payloads without the encrypted encoding (histories
recorded before encryption) pass through unchanged.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from stack.settings import Settings

__all__ = [
    "ENCODING",
    "KEY_ID",
    "EncryptionCodec",
    "KeyRing",
    "KeyRingError",
    "data_converter",
    "key_from_text",
    "key_ring",
    "load_key_dir",
    "local_key_ring",
    "new_key_text",
    "write_secret_once",
]

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_KEY_SUFFIX = ".key"


class KeyRingError(Exception):
    """A key is missing, malformed, or a payload does not decrypt; the message says which key id."""


def new_key_text() -> str:
    """A fresh random AES-256 key as base64 text (what key files and settings hold)."""
    return base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()


def key_from_text(key_id: str, text: str) -> bytes:
    """The 32 key bytes from base64 text.

    Raises:
        KeyRingError: The text is not base64 of exactly 32 bytes.
    """
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(
            f"key {key_id!r} is not base64 text: generate one with `psflow codec-server new-key`'"
        ) from None
    if len(key) != _KEY_BYTES:
        raise KeyRingError(f"key {key_id!r} has {len(key)} bytes; AES-256 needs {_KEY_BYTES}")
    return key


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; ``encrypting`` names the one new payloads are encrypted with."""

    keys: Mapping[str, bytes]
    encrypting: str

    def __post_init__(self) -> None:
        if self.encrypting not in self.keys:
            known = ", ".join(sorted(self.keys)) or "none"
            raise KeyRingError(f"the encrypting key {self.encrypting!r} is not in the key ring (keys: {known})")
        for key_id, key in self.keys.items():
            if not key_id or len(key) != _KEY_BYTES:
                raise KeyRingError(f"key {key_id!r} must have a non-empty id and {_KEY_BYTES} bytes")

    @classmethod
    def of(cls, texts: Mapping[str, str], encrypting: str | None = None) -> KeyRing:
        """A ring from base64 texts by id; without ``encrypting``, the greatest id encrypts."""
        if not texts:
            raise KeyRingError("no encryption keys: set PSFLOW_ENCRYPTION_KEYS or PSFLOW_ENCRYPTION_KEY_DIR")
        keys = {key_id: key_from_text(key_id, text) for key_id, text in texts.items()}
        return cls(keys=keys, encrypting=encrypting or max(keys))


def load_key_dir(directory: Path) -> dict[str, str]:
    """The ``<id>.key`` files of a directory (secret files: one base64 key each), by id."""
    if not directory.is_dir():
        return {}
    return {path.name.removesuffix(_KEY_SUFFIX): path.read_text() for path in sorted(directory.glob(f"*{_KEY_SUFFIX}"))}


def write_secret_once(path: Path, text: str) -> None:
    """Create the secret file ``path`` (mode 0600) holding ``text``, unless it exists.

    ``O_EXCL``: of two processes starting at once, the first write wins and the other keeps it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as file:
        file.write(text + "\n")


def local_key_ring(directory: Path, encrypting: str | None = None) -> KeyRing:
    """The key ring of a local stack's key directory, generating its first key (mode 0600) if it has none."""
    texts = load_key_dir(directory)
    if not texts:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_secret_once(directory / f"local-1{_KEY_SUFFIX}", new_key_text())
        texts = load_key_dir(directory)
    return KeyRing.of(texts, encrypting)


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec over a :class:`KeyRing` (see the module docstring for the format)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self.ring.encrypting
        cipher = self._ciphers[key_id]
        encoded = []
        for payload in payloads:
            nonce = secrets.token_bytes(_NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), key_id.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode_one(payload) for payload in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption, or by a client without it
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyRingError(
                f"payload encrypted with key {key_id!r}, which is not in the key ring: add that key "
                "(rotated keys stay in the ring while histories encrypted with them are kept)"
            )
        try:
            plain = cipher.decrypt(payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise KeyRingError(f"payload does not decrypt with key {key_id!r}: wrong key or altered data") from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def key_ring(settings: Settings) -> KeyRing:
    """The key ring the settings name: ``encryption_keys``, else the key files of ``encryption_key_dir``.

    With neither set, the local stack's ``data_dir/keys`` is used, its first key generated on first use.
    An explicit ``encryption_key_dir`` must hold keys (production never generates one silently).
    """
    if settings.encryption_keys:
        texts = {key_id: secret.get_secret_value() for key_id, secret in settings.encryption_keys.items()}
        return KeyRing.of(texts, settings.encryption_key_id)
    if settings.encryption_key_dir is not None:
        texts = load_key_dir(settings.encryption_key_dir)
        if not texts:
            raise KeyRingError(f"no `<id>.key` files in encryption_key_dir {settings.encryption_key_dir}")
        return KeyRing.of(texts, settings.encryption_key_id)
    return local_key_ring(settings.data_dir / "keys", settings.encryption_key_id)


def data_converter(settings: Settings) -> DataConverter:
    """psflow's data converter: pydantic payloads, encrypted unless ``encryption`` is off.

    Failure messages and stack traces are moved into an encoded attribute too, so an error that names
    a client is not plain text in the history.
    """
    if not settings.encryption:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(key_ring(settings)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
