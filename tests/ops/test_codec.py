"""The payload codec: AES-256-GCM with key ids, a key ring for rotation, old plain payloads still decoding."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from stack.codec import ENCODING, KEY_ID, EncryptionCodec, KeyRing, KeyRingError, data_converter, key_ring, new_key_text
from stack.settings import Settings

KEY_A = new_key_text()
KEY_B = new_key_text()


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_encoded_payloads_hide_the_data_and_name_their_key() -> None:
    codec = EncryptionCodec(KeyRing.of({"a": KEY_A}))
    [encoded] = await codec.encode([plain("Acme Consulting Ltd")])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID] == b"a"
    assert b"Acme" not in encoded.SerializeToString()
    assert await codec.decode([encoded]) == [plain("Acme Consulting Ltd")]


async def test_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec(KeyRing.of({"a": KEY_A}))
    first, second = await codec.encode([plain("x"), plain("x")])
    assert first.data != second.data


async def test_payloads_without_encryption_pass_through() -> None:
    """Histories recorded before encryption (tests/histories, old runs) still decode."""
    codec = EncryptionCodec(KeyRing.of({"a": KEY_A}))
    assert await codec.decode([plain("old")]) == [plain("old")]


async def test_rotation_a_payload_under_the_old_key_decodes_after_the_new_key_encrypts() -> None:
    [under_a] = await EncryptionCodec(KeyRing.of({"a": KEY_A})).encode([plain("rate 150.00")])
    rotated = EncryptionCodec(KeyRing.of({"a": KEY_A, "b": KEY_B}, encrypting="b"))
    [under_b] = await rotated.encode([plain("rate 150.00")])
    assert under_b.metadata[KEY_ID] == b"b"
    assert await rotated.decode([under_a, under_b]) == [plain("rate 150.00")] * 2
    # Without the old key, its payloads do not decode, and the error names the key to add back.
    with pytest.raises(KeyRingError, match="'a'"):
        await EncryptionCodec(KeyRing.of({"b": KEY_B})).decode([under_a])


async def test_a_payload_under_another_key_or_altered_does_not_decode() -> None:
    [encoded] = await EncryptionCodec(KeyRing.of({"a": KEY_A})).encode([plain("x")])
    with pytest.raises(KeyRingError, match="wrong key or altered"):
        await EncryptionCodec(KeyRing.of({"a": KEY_B})).decode([encoded])
    altered = Payload(metadata=dict(encoded.metadata), data=encoded.data[:-1] + bytes([encoded.data[-1] ^ 1]))
    with pytest.raises(KeyRingError):
        await EncryptionCodec(KeyRing.of({"a": KEY_A})).decode([altered])


def test_the_greatest_id_encrypts_unless_one_is_named() -> None:
    assert KeyRing.of({"2026-01": KEY_A, "2026-06": KEY_B}).encrypting == "2026-06"
    assert KeyRing.of({"2026-01": KEY_A, "2026-06": KEY_B}, "2026-01").encrypting == "2026-01"
    with pytest.raises(KeyRingError, match="not in the key ring"):
        KeyRing.of({"a": KEY_A}, "b")
    with pytest.raises(KeyRingError, match="bytes"):
        KeyRing.of({"a": "c2hvcnQ="})
    with pytest.raises(KeyRingError, match="base64"):
        KeyRing.of({"a": "not base64!"})


@pytest.fixture
def no_test_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the test run's shared key (tests/conftest.py), as a fresh deployment starts."""
    monkeypatch.delenv("PSFLOW_ENCRYPTION_KEYS")


@pytest.mark.usefixtures("no_test_keys")
def test_the_local_stack_generates_its_key_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ring = key_ring(settings)
    [path] = (tmp_path / "keys").iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert key_ring(settings) == ring  # the same key next time, not a new one


@pytest.mark.usefixtures("no_test_keys")
def test_production_keys_come_from_settings_or_secret_files(tmp_path: Path) -> None:
    from_settings = key_ring(Settings(data_dir=tmp_path, encryption_keys={"k1": SecretStr(KEY_A)}))
    assert from_settings.encrypting == "k1"
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "k1.key").write_text(KEY_A + "\n")
    (secrets / "k2.key").write_text(KEY_B)
    from_files = key_ring(Settings(data_dir=tmp_path, encryption_key_dir=secrets))
    assert set(from_files.keys) == {"k1", "k2"} and from_files.encrypting == "k2"
    with pytest.raises(KeyRingError, match="no `<id>"):
        key_ring(Settings(data_dir=tmp_path, encryption_key_dir=tmp_path / "empty"))
    assert not (tmp_path / "keys").exists()  # nothing generated when keys are configured


@pytest.mark.usefixtures("no_test_keys")
def test_encryption_is_on_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    assert isinstance(data_converter(Settings(data_dir=tmp_path)).payload_codec, EncryptionCodec)
    assert data_converter(Settings(data_dir=tmp_path, encryption=False)) is pydantic_data_converter
